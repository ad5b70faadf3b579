/* tokenizer.json -> tok_tokenizer: walks the top level with the streaming reader, hands the small
 * sections to json-c, then builds the id tables, the byte-fallback ids and the special-token regex. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tokenizer/tok_impl.h"

enum { S_ADDED, S_NORM, S_PRETOK, S_DECODER, S_N };
static const char *const section_names[S_N] = {"added_tokens", "normalizer", "pre_tokenizer", "decoder"};

typedef struct { const char *s, *e; } span;

static int key_is(const tok_json *j, const char *k) { return j->s.len == strlen(k) && !memcmp(j->s.p, k, j->s.len); }

/* Parses a span with json-c (bounded depth); *o is NULL for JSON null. */
static int parse_span(tok_json *j, span sp, const char *what, json_object **o) {
    *o = NULL;
    j->p = sp.s;
    size_t n = (size_t)(sp.e - sp.s);
    if (n >= INT32_MAX) return tok_json_fail(j, "\"%s\" is too large", what);
    /* json-c needs a terminator to finish a bare number or literal */
    char *copy = malloc(n + 1);
    json_tokener *tk = json_tokener_new_ex(64);
    if (!tk || !copy) {
        free(copy);
        if (tk) json_tokener_free(tk);
        return tok_json_fail(j, "out of memory");
    }
    memcpy(copy, sp.s, n);
    copy[n] = 0;
    *o = json_tokener_parse_ex(tk, copy, (int)n + 1);
    enum json_tokener_error e = json_tokener_get_error(tk);
    json_tokener_free(tk);
    free(copy);
    if (e != json_tokener_success) {
        json_object_put(*o);
        *o = NULL;
        return tok_json_fail(j, "\"%s\": %s", what, json_tokener_error_desc(e));
    }
    return 0;
}

static int model_option(tok_json *j, const char *key, int *byte_fallback) {
    span sp;
    json_object *o;
    if (tok_json_skip(j, &sp.s, &sp.e) || parse_span(j, sp, key, &o)) return -1;
    int rc = tok_conf_model_option(o, key, byte_fallback, j);
    json_object_put(o);
    j->p = sp.e;
    return rc;
}

static int read_model(tok_tokenizer *t, tok_json *j) {
    if (tok_json_peek(j) != '{') return tok_json_fail(j, "\"model\" is not an object");
    j->p++;
    int first = 1, more, have_vocab = 0, have_merges = 0, byte_fallback = 0;
    span merges = {0};
    size_t nvocab;
    while ((more = tok_json_next_key(j, &first)) == 1) {
        if (key_is(j, "vocab")) {
            if (have_vocab++) return tok_json_fail(j, "\"vocab\" appears twice");
            if (tok_read_vocab(t, j, &nvocab)) return -1;
        } else if (key_is(j, "merges")) {
            if (have_merges++) return tok_json_fail(j, "\"merges\" appears twice");
            if (have_vocab ? tok_read_merges(t, j) : tok_json_skip(j, &merges.s, &merges.e)) return -1;
        } else {
            char key[64];
            snprintf(key, sizeof key, "%s", j->s.p);
            if (model_option(j, key, &byte_fallback)) return -1;
        }
    }
    if (more < 0) return -1;
    if (!have_vocab) return tok_json_fail(j, "\"model\" has no \"vocab\"");
    if (!have_merges) return tok_json_fail(j, "\"model\" has no \"merges\"");
    if (!byte_fallback) return tok_json_fail(j, "model.byte_fallback must be true (unknown-token BPE is not supported)");
    if (merges.s) {   /* merges came before vocab */
        const char *resume = j->p;
        j->p = merges.s;
        if (tok_read_merges(t, j)) return -1;
        j->p = resume;
    }
    return 0;
}

static int fail_file(tok_json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_file(tok_json *j, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(j->err, j->errlen, "%s: %s", j->file, msg);
    return -1;
}

static int build_ids(tok_tokenizer *t, tok_json *j) {
    if (!t->nvocab) return fail_file(j, "the vocab is empty");
    int64_t maxid = t->max_vocab_id;
    for (int i = 0; i < t->nadded; i++)
        if (t->added[i].id > maxid) maxid = t->added[i].id;
    if ((uint64_t)maxid + 1 > t->nvocab + (uint64_t)t->nadded)
        return fail_file(j, "ids are not contiguous: the largest id is %lld but there are only %zu tokens",
                         (long long)maxid, t->nvocab + (size_t)t->nadded);
    t->n = (int)(maxid + 1);
    t->off = malloc((size_t)t->n * sizeof *t->off);
    t->len = malloc((size_t)t->n * sizeof *t->len);
    t->special = calloc((size_t)t->n, 1);
    if (!t->off || !t->len || !t->special) return fail_file(j, "out of memory");
    memset(t->off, 0xFF, (size_t)t->n * sizeof *t->off);
    for (uint32_t i = 0; i <= t->pmask; i++) {
        const tok_pslot *e = &t->ptab[i];
        if (e->id < 0) continue;
        if (t->off[e->id] != UINT32_MAX)
            return fail_file(j, "id %d is given to both '%.40s' and '%.40s'", e->id, t->pool.p + t->off[e->id],
                             t->pool.p + e->off);
        t->off[e->id] = e->off;
        t->len[e->id] = e->len;
    }
    for (int i = 0; i < t->nadded; i++) {   /* an added token's content is what its id decodes to */
        const tok_added *a = &t->added[i];
        t->off[a->id] = a->off;
        t->len[a->id] = a->len;
        t->special[a->id] = (uint8_t)a->special;
    }
    for (int id = 0; id < t->n; id++)
        if (t->off[id] == UINT32_MAX) return fail_file(j, "no token has id %d", id);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        if ((t->byte_id[b] = tok_vocab_find(t, name, 6)) < 0)
            return fail_file(j, "byte-fallback token %s is missing from the vocab", name);
    }
    return 0;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Single characters below U+10000 get a direct table; the glue set is sorted for bsearch. */
static int build_chars(tok_tokenizer *t, tok_json *j) {
    t->bmp_id = malloc(0x10000 * sizeof *t->bmp_id);
    if (!t->bmp_id) return fail_file(j, "out of memory");
    memset(t->bmp_id, 0xFF, 0x10000 * sizeof *t->bmp_id);
    for (uint32_t i = 0; i <= t->pmask; i++) {
        const tok_pslot *e = &t->ptab[i];
        uint32_t cp;
        if (e->id >= 0 && e->len <= 3 && (uint32_t)tok_utf8_next((const unsigned char *)t->pool.p + e->off, &cp) == e->len)
            t->bmp_id[cp] = e->id;
    }
    uint32_t *g = (uint32_t *)t->glue.p;
    size_t n = t->glue.len / sizeof *g, k = 0;
    if (n) qsort(g, n, sizeof *g, cmp_u32);
    for (size_t i = 0; i < n; i++)
        if (!k || g[i] != g[k - 1]) g[k++] = g[i];
    t->nglue = k;
    return 0;
}

static int parse_byte_token(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* What each id decodes to before bytes are joined: the decoder's Replace steps applied. */
static int build_decoded(tok_tokenizer *t, tok_json *j) {
    tok_buf d = {0};
    t->doff = malloc((size_t)t->n * sizeof *t->doff);
    t->dlen = malloc((size_t)t->n * sizeof *t->dlen);
    t->byte = malloc((size_t)t->n * sizeof *t->byte);
    if (!t->doff || !t->dlen || !t->byte) return fail_file(j, "out of memory");
    for (int id = 0; id < t->n; id++) {
        size_t at = d.len;
        if (tok_replace_apply(t->dec, t->ndec, t->pool.p + t->off[id], t->len[id], &d) || tok_buf_put(&d, "", 1) ||
            d.len > UINT32_MAX) {
            free(d.p);
            return fail_file(j, "out of memory");
        }
        t->doff[id] = (uint32_t)at;
        t->dlen[id] = (uint32_t)(d.len - at - 1);
        t->byte[id] = (int16_t)(t->dec_bytes ? parse_byte_token(d.p + at, t->dlen[id]) : -1);
    }
    t->dpool = d.p;
    return 0;
}

static int cmp_longest(const void *a, const void *b) {
    const tok_added *x = a, *y = b;
    return (x->len < y->len) - (x->len > y->len);
}

/* One alternation of every added token, longest first so the leftmost match is also the longest;
 * every byte that is not a letter or digit is written as \x{HH}, so no content can break out. */
static int build_regex(tok_tokenizer *t, tok_json *j) {
    if (!t->nadded) return 0;
    tok_added *order = malloc((size_t)t->nadded * sizeof *order);
    tok_buf pat = {0};
    int rc = order ? 0 : -1;
    if (order) {
        memcpy(order, t->added, (size_t)t->nadded * sizeof *order);
        qsort(order, (size_t)t->nadded, sizeof *order, cmp_longest);
    }
    for (int i = 0; i < t->nadded && !rc; i++) {
        if (i) rc |= tok_buf_put(&pat, "|", 1);
        for (uint32_t k = 0; k < order[i].len && !rc; k++) {
            unsigned char c = (unsigned char)t->pool.p[order[i].off + k];
            char esc[8];
            int n = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                        ? snprintf(esc, sizeof esc, "%c", c)
                        : snprintf(esc, sizeof esc, "\\x{%02x}", c);
            rc |= tok_buf_put(&pat, esc, (size_t)n);
        }
    }
    free(order);
    if (rc) {
        free(pat.p);
        return fail_file(j, "out of memory");
    }
    int code;
    PCRE2_SIZE at;
    t->re = pcre2_compile((PCRE2_SPTR)pat.p, pat.len, 0, &code, &at, NULL);
    free(pat.p);
    if (!t->re) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(code, msg, sizeof msg);
        return fail_file(j, "cannot compile the added-token pattern: %s", (const char *)msg);
    }
    pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE);   /* optional: the interpreter is used if it fails */
    return 0;
}

static int parse_top(tok_tokenizer *t, tok_json *j) {
    if (tok_json_peek(j) != '{') return tok_json_fail(j, "the top level is not a JSON object");
    j->p++;
    span sec[S_N] = {{0}};
    int first = 1, more, have_model = 0;
    while ((more = tok_json_next_key(j, &first)) == 1) {
        int k = S_N;
        for (int i = 0; i < S_N; i++)
            if (key_is(j, section_names[i])) k = i;
        if (key_is(j, "model")) {
            if (have_model++) return tok_json_fail(j, "\"model\" appears twice");
            if (read_model(t, j)) return -1;
        } else {
            span sp;
            if (k < S_N && sec[k].s) return tok_json_fail(j, "\"%s\" appears twice", section_names[k]);
            if (tok_json_skip(j, &sp.s, &sp.e)) return -1;
            if (k < S_N) sec[k] = sp;
        }
    }
    if (more < 0) return -1;
    if (tok_json_peek(j) >= 0) return tok_json_fail(j, "unexpected data after the top-level object");
    if (!have_model) return fail_file(j, "no \"model\" section");
    int (*const conf[S_N])(tok_tokenizer *, json_object *, tok_json *) = {tok_conf_added, tok_conf_normalizer,
                                                                          tok_conf_pretok, tok_conf_decoder};
    if (!sec[S_DECODER].s) return fail_file(j, "no \"decoder\" section");
    for (int i = 0; i < S_N; i++) {
        json_object *o = NULL;
        if (sec[i].s && parse_span(j, sec[i], section_names[i], &o)) return -1;
        int rc = conf[i](t, o, j);
        json_object_put(o);
        if (rc) return -1;
    }
    return build_ids(t, j) || build_chars(t, j) || build_decoded(t, j) || build_regex(t, j) ? -1 : 0;
}

int tok_load(tok_tokenizer **out, const char *path, char *err, size_t errlen) {
    *out = NULL;
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0) {
        snprintf(err, errlen, "%s: %s", path, S_ISREG(st.st_mode) ? "empty file" : "not a regular file");
        close(fd);
        return -1;
    }
    const char *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "%s: cannot map: %s", path, strerror(errno));
        return -1;
    }
    tok_tokenizer *t = calloc(1, sizeof *t);
    tok_json j = {map, map, map + st.st_size, path, err, errlen, {0}};
    int rc = -1;
    if (!t) snprintf(err, errlen, "%s: out of memory", path);
    else {
        t->max_vocab_id = -1;
        rc = parse_top(t, &j);
    }
    free(j.s.p);
    munmap((void *)map, (size_t)st.st_size);
    if (rc) {
        tok_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void tok_free(tok_tokenizer *t) {
    if (!t) return;
    free(t->pool.p);
    free(t->off);
    free(t->len);
    free(t->dpool);
    free(t->doff);
    free(t->dlen);
    free(t->byte);
    free(t->special);
    free(t->ptab);
    free(t->mtab);
    free(t->bmp_id);
    for (int i = 0; i < t->nnorm; i++) free(t->norm[i].from), free(t->norm[i].to);
    free(t->norm);
    free(t->split);
    for (int i = 0; i < t->ndec; i++) free(t->dec[i].from), free(t->dec[i].to);
    free(t->dec);
    free(t->added);
    pcre2_code_free(t->re);
    free(t->glue.p);
    free(t);
}

int tok_vocab_size(const tok_tokenizer *t) { return t->n; }

int32_t tok_added_find(const tok_tokenizer *t, const char *s, size_t n) {
    int lo = 0, hi = t->nadded;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        const tok_added *a = &t->added[mid];
        int c = memcmp(t->pool.p + a->off, s, a->len < n ? a->len : n);
        if (!c) c = (a->len > n) - (a->len < n);
        if (!c) return a->id;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

int tok_id(const tok_tokenizer *t, const char *piece) {
    size_t n = strlen(piece);
    int32_t id = tok_added_find(t, piece, n);
    return id >= 0 ? id : tok_vocab_find(t, piece, n);
}

const char *tok_piece(const tok_tokenizer *t, int id, size_t *len) {
    if (id < 0 || id >= t->n) return NULL;
    if (len) *len = t->len[id];
    return t->pool.p + t->off[id];
}

int tok_is_special(const tok_tokenizer *t, int id) { return id >= 0 && id < t->n && t->special[id]; }
