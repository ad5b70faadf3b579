/* The small sections of tokenizer.json (added_tokens, normalizer, pre_tokenizer, decoder, model
 * options), read with json-c.  Anything this tokenizer would not reproduce exactly is refused. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_impl.h"

static const char *str_of(json_object *o, const char *key, size_t *len) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

/* A boolean field: 1/0, def when absent, -1 when not a boolean. */
static int bool_of(json_object *o, const char *key, int def) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v)) return def;
    if (!json_object_is_type(v, json_type_boolean)) return -1;
    return json_object_get_boolean(v);
}

static int type_is(json_object *o, const char *type) {
    size_t n;
    const char *s = str_of(o, "type", &n);
    return s && n == strlen(type) && !memcmp(s, type, n);
}

static const char *type_name(json_object *o) {
    size_t n;
    const char *s = str_of(o, "type", &n);
    return s ? s : "(none)";
}

/* Copies a string into a fresh NUL-terminated allocation. */
static char *dup_len(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int cmp_added(const void *a, const void *b, void *pool) {
    const tok_added *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp((const char *)pool + x->off, (const char *)pool + y->off, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

int tok_conf_added(tok_tokenizer *t, json_object *o, tok_json *j) {
    if (!o) return 0;
    if (!json_object_is_type(o, json_type_array)) return tok_json_fail(j, "\"added_tokens\" is not an array");
    size_t n = json_object_array_length(o);
    if (n > 1000000) return tok_json_fail(j, "too many added tokens");
    t->added = calloc(n ? n : 1, sizeof *t->added);
    if (!t->added) return tok_json_fail(j, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(o, i), *idv;
        size_t len;
        const char *content = json_object_is_type(e, json_type_object) ? str_of(e, "content", &len) : NULL;
        if (!content || !json_object_object_get_ex(e, "id", &idv) || !json_object_is_type(idv, json_type_int))
            return tok_json_fail(j, "added token %zu needs an integer \"id\" and a string \"content\"", i);
        int64_t id = json_object_get_int64(idv);
        if (id < 0 || id >= INT32_MAX) return tok_json_fail(j, "added token %zu: id %lld is out of range", i, (long long)id);
        if (!len || tok_utf8_valid(content, len) != len)
            return tok_json_fail(j, "added token %zu: content is empty or not valid UTF-8", i);
        int special = bool_of(e, "special", 0);
        if (special < 0) return tok_json_fail(j, "added token '%.40s': \"special\" is not a boolean", content);
        if (bool_of(e, "single_word", 0) || bool_of(e, "lstrip", 0) || bool_of(e, "rstrip", 0) ||
            bool_of(e, "normalized", !special))
            return tok_json_fail(j, "added token '%.40s': single_word, lstrip, rstrip and normalized must be false "
                                    "(other settings are not supported)", content);
        if (t->pool.len > UINT32_MAX - len - 1) return tok_json_fail(j, "added tokens too large");
        t->added[i] = (tok_added){(int32_t)id, (uint32_t)t->pool.len, (uint32_t)len, special};
        if (tok_buf_put(&t->pool, content, len) || tok_buf_put(&t->pool, "", 1)) return tok_json_fail(j, "out of memory");
        t->nadded++;
    }
    qsort_r(t->added, n, sizeof *t->added, cmp_added, t->pool.p);
    for (size_t i = 0; i + 1 < n; i++)
        if (!cmp_added(&t->added[i], &t->added[i + 1], t->pool.p))
            return tok_json_fail(j, "added token '%.40s' is listed twice", t->pool.p + t->added[i].off);
    return 0;
}

/* A Replace step {"type":"Replace","pattern":{"String":...},"content":...}. */
static int read_replace(json_object *o, tok_replace **steps, int *n, const char *section, tok_json *j) {
    json_object *pat;
    size_t flen, tlen;
    const char *from = NULL, *to = str_of(o, "content", &tlen);
    if (json_object_object_get_ex(o, "pattern", &pat) && json_object_is_type(pat, json_type_object))
        from = str_of(pat, "String", &flen);
    if (!from || !to) return tok_json_fail(j, "%s: Replace needs a {\"String\": ...} pattern and a content "
                                              "(regex patterns are not supported)", section);
    if (!flen) return tok_json_fail(j, "%s: Replace with an empty pattern", section);
    if (tok_utf8_valid(from, flen) != flen || tok_utf8_valid(to, tlen) != tlen)
        return tok_json_fail(j, "%s: Replace strings are not valid UTF-8", section);
    if (*n >= 64) return tok_json_fail(j, "%s: too many Replace steps", section);
    tok_replace *r = realloc(*steps, (size_t)(*n + 1) * sizeof *r);
    if (!r) return tok_json_fail(j, "out of memory");
    *steps = r;
    r[*n] = (tok_replace){dup_len(from, flen), dup_len(to, tlen), flen, tlen};
    (*n)++;
    if (!r[*n - 1].from || !r[*n - 1].to) return tok_json_fail(j, "out of memory");
    return 0;
}

/* Runs fn on o, or on each element of o's `list` if o is a Sequence. */
static int each_step(json_object *o, const char *list, const char *section, tok_json *j,
                     int (*fn)(tok_tokenizer *, json_object *, tok_json *), tok_tokenizer *t) {
    if (!json_object_is_type(o, json_type_object)) return tok_json_fail(j, "\"%s\" is not an object", section);
    if (!type_is(o, "Sequence")) return fn(t, o, j);
    json_object *arr;
    if (!json_object_object_get_ex(o, list, &arr) || !json_object_is_type(arr, json_type_array))
        return tok_json_fail(j, "%s: Sequence without a \"%s\" array", section, list);
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(e, json_type_object)) return tok_json_fail(j, "%s: step %zu is not an object", section, i);
        if (fn(t, e, j)) return -1;
    }
    return 0;
}

static int norm_step(tok_tokenizer *t, json_object *o, tok_json *j) {
    if (!type_is(o, "Replace")) return tok_json_fail(j, "normalizer type '%s' is not supported", type_name(o));
    return read_replace(o, &t->norm, &t->nnorm, "normalizer", j);
}

int tok_conf_normalizer(tok_tokenizer *t, json_object *o, tok_json *j) {
    return o ? each_step(o, "normalizers", "normalizer", j, norm_step, t) : 0;
}

int tok_conf_pretok(tok_tokenizer *t, json_object *o, tok_json *j) {
    if (!o) return 0;
    if (!json_object_is_type(o, json_type_object)) return tok_json_fail(j, "\"pre_tokenizer\" is not an object");
    json_object *pat;
    size_t n = 0, bn = 0;
    const char *s = NULL, *behavior = str_of(o, "behavior", &bn);
    if (json_object_object_get_ex(o, "pattern", &pat) && json_object_is_type(pat, json_type_object))
        s = str_of(pat, "String", &n);
    if (!type_is(o, "Split") || !s || !n || !behavior || strcmp(behavior, "MergedWithPrevious") || bool_of(o, "invert", 0))
        return tok_json_fail(j, "pre_tokenizer '%s' is not supported (only Split on a string, MergedWithPrevious)",
                             type_name(o));
    if (!(t->split = dup_len(s, n))) return tok_json_fail(j, "out of memory");
    t->split_len = n;
    return 0;
}

/* Decoder steps must read Replace..., ByteFallback, Fuse: the order in which each is exact here.
 * While reading, dec_bytes has bit 0 for ByteFallback seen and bit 1 for Fuse seen. */
static int dec_step(tok_tokenizer *t, json_object *o, tok_json *j) {
    if (type_is(o, "Replace")) {
        if (t->dec_bytes)
            return tok_json_fail(j, "decoder: a Replace after ByteFallback or Fuse is not supported");
        return read_replace(o, &t->dec, &t->ndec, "decoder", j);
    }
    if (type_is(o, "ByteFallback")) {
        if (t->dec_bytes) return tok_json_fail(j, "decoder: ByteFallback after ByteFallback or Fuse is not supported");
        t->dec_bytes = 1;
        return 0;
    }
    if (type_is(o, "Fuse")) {
        t->dec_bytes |= 2;   /* joining is what decoding does anyway */
        return 0;
    }
    return tok_json_fail(j, "decoder type '%s' is not supported", type_name(o));
}

int tok_conf_decoder(tok_tokenizer *t, json_object *o, tok_json *j) {
    if (!o) return tok_json_fail(j, "no \"decoder\" (a tokenizer without one is not supported)");
    if (each_step(o, "decoders", "decoder", j, dec_step, t)) return -1;
    t->dec_bytes &= 1;
    return 0;
}

int tok_conf_model_option(json_object *o, const char *key, int *byte_fallback, tok_json *j) {
    int is_null = !o, is_false = json_object_is_type(o, json_type_boolean) && !json_object_get_boolean(o);
    size_t n = 0;
    const char *s = json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
    if (s) n = (size_t)json_object_get_string_len(o);
    if (!strcmp(key, "type")) {
        if (!s || strcmp(s, "BPE")) return tok_json_fail(j, "model type '%s' is not supported (only BPE)", s ? s : "?");
    } else if (!strcmp(key, "byte_fallback")) {
        if (!json_object_is_type(o, json_type_boolean)) return tok_json_fail(j, "model.byte_fallback is not a boolean");
        *byte_fallback = json_object_get_boolean(o);
    } else if (!strcmp(key, "dropout")) {
        if (!is_null) return tok_json_fail(j, "model.dropout must be null (BPE dropout is not supported)");
    } else if (!strcmp(key, "continuing_subword_prefix") || !strcmp(key, "end_of_word_suffix")) {
        if (!is_null && !(s && !n)) return tok_json_fail(j, "model.%s is not supported", key);
    } else if (!strcmp(key, "ignore_merges")) {
        if (!is_null && !is_false) return tok_json_fail(j, "model.ignore_merges=true is not supported");
    }
    return 0;
}
