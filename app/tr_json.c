/* tr_json.c — settings and messages to and from json-c objects, with every field checked on the way
 * in.  Text is stored as a JSON string when it is valid UTF-8 (NUL included, as \u0000); other
 * bytes would make the file unreadable to strict JSON readers, so such text is stored twice: a
 * readable copy with U+FFFD for each bad byte, and the exact bytes in base64. */
#include "app/tr_int.h"
#include "model/cfg_json.h"
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Strict: overlongs, surrogates and code points past U+10FFFF are invalid. */
size_t tr_utf8_len(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t k = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!k || k > n) return 0;
    for (size_t i = 1; i < k; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && p[1] < 0xa0) return 0;   /* overlong */
    if (c == 0xed && p[1] > 0x9f) return 0;   /* surrogate */
    if (c == 0xf0 && p[1] < 0x90) return 0;   /* overlong */
    if (c == 0xf4 && p[1] > 0x8f) return 0;   /* beyond U+10FFFF */
    return k;
}

static int utf8_valid(const char *p, size_t n) {
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = tr_utf8_len((const unsigned char *)p + i, n - i))) return 0;
    return 1;
}

static int add(json_object *o, const char *key, json_object *v) { return cfg_json_add(o, key, v, 0); }

/* json-c object for a byte string (any bytes, NUL included); NULL on allocation failure. */
static json_object *bytes_obj(const char *p, size_t n) {
    return n > INT32_MAX ? NULL : json_object_new_string_len(p ? p : "", (int)n);
}

int tr_json_put_text(json_object *o, const char *p, size_t n) {
    if (!p) n = 0;
    if (utf8_valid(p, n)) return add(o, "text", bytes_obj(p, n));
    char *shown = malloc(n * 3 + 1), *b64 = malloc((n + 2) / 3 * 4 + 1);
    size_t s = 0, b = 0;
    if (!shown || !b64) goto fail;
    for (size_t i = 0, k; i < n; i += k) {
        k = tr_utf8_len((const unsigned char *)p + i, n - i);
        if (k) memcpy(shown + s, p + i, k), s += k;
        else memcpy(shown + s, "\xef\xbf\xbd", 3), s += 3, k = 1;
    }
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)p[i] << 16 | (i + 1 < n ? (unsigned char)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? (unsigned char)p[i + 2] : 0);
        b64[b++] = B64[v >> 18 & 63];
        b64[b++] = B64[v >> 12 & 63];
        b64[b++] = i + 1 < n ? B64[v >> 6 & 63] : '=';
        b64[b++] = i + 2 < n ? B64[v & 63] : '=';
    }
    int rc = add(o, "text", bytes_obj(shown, s)) || add(o, "text_base64", bytes_obj(b64, b)) ? -1 : 0;
    free(shown);
    free(b64);
    return rc;
fail:
    free(shown);
    free(b64);
    return -1;
}

static int b64_val(char c) {
    const char *p = c ? strchr(B64, c) : NULL;
    return p ? (int)(p - B64) : -1;
}

/* Strict base64 (padding required, no whitespace) into a malloc'd NUL-terminated buffer. */
static int b64_decode(const char *s, size_t n, char **out, size_t *len) {
    if (n % 4) return -1;
    unsigned char *d = malloc(n / 4 * 3 + 1);
    size_t o = 0;
    if (!d) return -1;
    for (size_t i = 0; i < n; i += 4) {
        int pad = i + 4 < n ? 0 : (s[i + 3] == '=') + (s[i + 3] == '=' && s[i + 2] == '=');
        unsigned v = 0;
        for (int k = 0; k < 4; k++) {
            int x = k >= 4 - pad ? 0 : b64_val(s[i + k]);
            if (x < 0) {
                free(d);
                return -1;
            }
            v = v << 6 | (unsigned)x;
        }
        for (int k = 0; k < 3 - pad; k++) d[o++] = (unsigned char)(v >> (16 - 8 * k));
    }
    d[o] = 0;
    *out = (char *)d;
    *len = o;
    return 0;
}

/* Numbers are written in their shortest exact form, in the C locale whatever the program's locale
 * (a "," decimal point would not be JSON); non-finite ones (the chat's "model default") as null.
 * The sampler works in single precision, so a sampler setting (single) that is exactly a float
 * (0.7f) is written as that float's shortest form ("0.7", not "0.69999998807907104"): it reads back
 * as the same float.  Timings are doubles and must read back as themselves. */
static json_object *num_obj(double x, int single) {
    if (!isfinite(x)) return NULL;
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0), old = c ? uselocale(c) : (locale_t)0;
    char b[40];
    int p = 6;
    if (single && (double)(float)x == x)
        while (p < 9 && (snprintf(b, sizeof b, "%.*g", p, x), strtof(b, NULL) != (float)x)) p++;
    else
        for (p = 15; p < 17 && (snprintf(b, sizeof b, "%.*g", p, x), strtod(b, NULL) != x); p++) {}
    snprintf(b, sizeof b, "%.*g", p, x);
    double written = strtod(b, NULL);   /* the value the text reads back as (tr_json_line compares) */
    if (c) uselocale(old), freelocale(c);
    return json_object_new_double_s(written, b);
}

static int add_real(json_object *o, const char *key, double x, int single) {
    json_object *v = num_obj(x, single);
    return isfinite(x) && !v ? -1 : cfg_json_add(o, key, v, 1);
}

static int add_setting(json_object *o, const char *key, double x) { return add_real(o, key, x, 1); }
static int add_num(json_object *o, const char *key, double x) { return add_real(o, key, x, 0); }

json_object *tr_json_ids(const int32_t *ids, size_t n) {
    json_object *a = json_object_new_array_ext((int)(n < INT32_MAX ? n : INT32_MAX));
    for (size_t i = 0; a && i < n; i++) {
        /* a NULL id would be written as null: a damaged id */
        if (cfg_json_push(a, json_object_new_int(ids[i]))) json_object_put(a), a = NULL;
    }
    return a;
}

json_object *tr_json_model(const tr_settings *s) {
    json_object *o = json_object_new_object();
    if (o && (add(o, "dir", json_object_new_string(s->model_dir)) ||
              add(o, "config_sha256", json_object_new_string(s->config_hash))))
        json_object_put(o), o = NULL;
    return o;
}

json_object *tr_json_settings(const tr_settings *s) {
    json_object *o = json_object_new_object();
    if (!o) return NULL;
    int bad = add_setting(o, "temp", s->temp) || add(o, "top_k", json_object_new_int(s->top_k)) ||
              add_setting(o, "top_p", s->top_p) || add_setting(o, "min_p", s->min_p) ||
              add(o, "seed", json_object_new_uint64(s->seed)) || add(o, "state", json_object_new_uint64(s->state)) ||
              add(o, "max_new", json_object_new_int(s->max_new)) ||
              add(o, "think", json_object_new_boolean(s->think != 0)) ||
              cfg_json_add(o, "system", s->system ? json_object_new_string(s->system) : NULL, s->system == NULL);
    if (bad) json_object_put(o), o = NULL;
    return o;
}

static int put_reply_stats(json_object *o, const char *stop, int thought_tokens, double gen_ms) {
    return add(o, "stop", json_object_new_string_len(stop, (int)strnlen(stop, 15))) ||
           add(o, "thought_tokens", json_object_new_int(thought_tokens)) || add_num(o, "gen_ms", gen_ms);
}

int tr_json_put_stats(json_object *o, const tr_message *m) {
    return put_reply_stats(o, m->stop, m->thought_tokens, m->gen_ms) ||
                   add(o, "prefill_new", json_object_new_int(m->prefill_new)) ||
                   add(o, "prefill_cached", json_object_new_int(m->prefill_cached)) ||
                   add_num(o, "prefill_ms", m->prefill_ms)
               ? -1
               : 0;
}

static int same_text(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

int tr_json_put_gen(json_object *o, const tr_gen *g, const char *system) {
    if (!g->set) return 0;
    json_object *v = json_object_new_object();
    if (cfg_json_add(o, "generation", v, 0)) return -1;
    return add_setting(v, "temp", g->temp) || add(v, "top_k", json_object_new_int(g->top_k)) ||
                   add_setting(v, "top_p", g->top_p) || add_setting(v, "min_p", g->min_p) ||
                   add(v, "seed", json_object_new_uint64(g->seed)) ||
                   add(v, "state", json_object_new_uint64(g->state)) ||
                   add(v, "max_new", json_object_new_int(g->max_new)) ||
                   add(v, "think", json_object_new_boolean(g->think != 0)) ||
                   add(v, "context_from", json_object_new_int(g->context_from)) ||
                   (!same_text(g->system, system) &&
                    cfg_json_add(v, "system", g->system ? json_object_new_string(g->system) : NULL, !g->system))
               ? -1
               : 0;
}

json_object *tr_json_message(const tr_message *m, const char *system) {
    static const char *const roles[] = {"system", "user", "model"};
    json_object *o = json_object_new_object(), *alts = NULL;
    if (!o) return NULL;
    const char *role = roles[(unsigned)m->role <= TR_MODEL ? m->role : TR_USER];
    int bad = add(o, "role", json_object_new_string(role)) || tr_json_put_text(o, m->text, m->len) ||
              add(o, "ids", tr_json_ids(m->ids, m->ids ? m->n_ids : 0)) || tr_json_put_stats(o, m) ||
              tr_json_put_gen(o, &m->gen, system) ||
              add(o, "alternatives", alts = json_object_new_array_ext((int)m->n_alts));
    for (size_t k = 0; !bad && k < m->n_alts; k++) {
        const tr_alt *a = &m->alts[k];
        json_object *ao = json_object_new_object();
        bad = !ao || json_object_array_add(alts, ao);
        if (bad) json_object_put(ao);
        else bad = tr_json_put_text(ao, a->text, a->len) ||
                   add(ao, "ids", tr_json_ids(a->ids, a->ids ? a->n_ids : 0)) ||
                   put_reply_stats(ao, a->stop, a->thought_tokens, a->gen_ms) || tr_json_put_gen(ao, &a->gen, system);
    }
    if (bad) json_object_put(o), o = NULL;
    return o;
}

char *tr_json_line(json_object *o, size_t *len) {
    size_t n;
    const char *s = cfg_json_print(o, &n);   /* a snapshot or journal record is never written damaged */
    char *d = s ? malloc(n + 2) : NULL;
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\n';
    d[n + 1] = 0;
    *len = n + 1;
    return d;
}

/* ---- reading ---- */

/* Member key of o, which must have type ty when present: 0 found, 1 absent or null, -1 wrong type. */
static int member(const json_object *o, const char *key, json_type ty, const char *what, json_object **v,
                  const char *where, char *err, size_t errlen) {
    if (!json_object_object_get_ex(o, key, v) || !*v) return 1;
    if (json_object_is_type(*v, ty)) return 0;
    snprintf(err, errlen, "%s: %s must be %s, got %.40s", where, key, what, json_object_to_json_string(*v));
    return -1;
}

/* A string member without NUL bytes copied into out[cap]; 1 when absent. */
static int read_cstr(const json_object *o, const char *key, char *out, size_t cap, const char *where, char *err,
                     size_t errlen) {
    json_object *v;
    int rc = member(o, key, json_type_string, "a string", &v, where, err, errlen);
    if (rc) return rc;
    size_t n = (size_t)json_object_get_string_len(v);
    if (n >= cap || memchr(json_object_get_string(v), 0, n)) {
        snprintf(err, errlen, "%s: %s is %s", where, key, n >= cap ? "too long" : "a string with a NUL byte");
        return -1;
    }
    memcpy(out, json_object_get_string(v), n + 1);
    return 0;
}

int tr_json_read_text(const json_object *o, char **text, size_t *len, const char *where, char *err, size_t errlen) {
    json_object *v, *b;
    int rc = member(o, "text", json_type_string, "a string", &v, where, err, errlen);
    if (rc) {
        if (rc > 0) snprintf(err, errlen, "%s: text is missing", where);
        return -1;
    }
    rc = member(o, "text_base64", json_type_string, "a string", &b, where, err, errlen);
    if (rc < 0) return -1;
    if (rc == 0) {
        if (b64_decode(json_object_get_string(b), (size_t)json_object_get_string_len(b), text, len)) {
            snprintf(err, errlen, "%s: text_base64 is not valid base64", where);
            return -1;
        }
        return 0;
    }
    size_t n = (size_t)json_object_get_string_len(v);
    if (!(*text = malloc(n + 1))) {
        snprintf(err, errlen, "%s: out of memory", where);
        return -1;
    }
    memcpy(*text, json_object_get_string(v), n + 1);
    *len = n;
    return 0;
}

int tr_json_read_ids(const json_object *o, const char *key, int32_t **ids, size_t *n, const char *where,
                     char *err, size_t errlen) {
    json_object *a;
    int rc = member(o, key, json_type_array, "an array of token ids", &a, where, err, errlen);
    if (rc < 0) return -1;
    size_t cnt = rc ? 0 : json_object_array_length(a);
    int32_t *d = malloc(cnt ? cnt * sizeof *d : 1);
    if (!d) {
        snprintf(err, errlen, "%s: out of memory", where);
        return -1;
    }
    for (size_t i = 0; i < cnt; i++) {
        json_object *v = json_object_array_get_idx(a, i);
        int64_t x = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        if (!json_object_is_type(v, json_type_int) || x < 0 || x > INT32_MAX) {
            snprintf(err, errlen, "%s: %s[%zu] = %.40s is not a token id (an integer 0 .. %d)", where, key, i,
                     json_object_to_json_string(v), INT32_MAX);
            free(d);
            return -1;
        }
        d[i] = (int32_t)x;
    }
    *ids = d;
    *n = cnt;
    return 0;
}

int tr_json_read_stop(const json_object *o, char stop[16], const char *where, char *err, size_t errlen) {
    char s[16];
    int rc = read_cstr(o, "stop", s, sizeof s, where, err, errlen);
    if (rc) return rc < 0 ? -1 : 0;
    if (strspn(s, "abcdefghijklmnopqrstuvwxyz_") != strlen(s)) {
        snprintf(err, errlen, "%s: stop \"%s\" is not a stop reason (letters a-z and _)", where, s);
        return -1;
    }
    memcpy(stop, s, sizeof s);
    return 0;
}

/* An int member into *out (absent or null keeps it). */
static int read_int(const json_object *o, const char *key, int *out, const char *where, char *err, size_t errlen) {
    int64_t x;
    int rc = cfg_json_int(o, key, INT32_MIN, INT32_MAX, &x, where, err, errlen);
    if (rc == 0) *out = (int)x;
    return rc < 0 ? -1 : 0;
}

/* A number member; null reads back as NaN (written for non-finite values), absent keeps *out. */
static int read_num(const json_object *o, const char *key, double *out, const char *where, char *err, size_t errlen) {
    json_object *v;
    if (json_object_object_get_ex(o, key, &v) && !v) {
        *out = NAN;
        return 0;
    }
    return cfg_json_num(o, key, out, where, err, errlen) < 0 ? -1 : 0;
}

int tr_json_read_stats(const json_object *o, tr_message *m, const char *where, char *err, size_t errlen) {
    return tr_json_read_stop(o, m->stop, where, err, errlen) ||
                   read_int(o, "thought_tokens", &m->thought_tokens, where, err, errlen) ||
                   read_num(o, "gen_ms", &m->gen_ms, where, err, errlen) ||
                   read_int(o, "prefill_new", &m->prefill_new, where, err, errlen) ||
                   read_int(o, "prefill_cached", &m->prefill_cached, where, err, errlen) ||
                   read_num(o, "prefill_ms", &m->prefill_ms, where, err, errlen)
               ? -1
               : 0;
}

/* A 64-bit unsigned member (the seed, the random state); absent keeps *out.  json-c saturates
 * integers beyond 64 bits, so only a sign is refused. */
static int read_u64(const json_object *o, const char *key, uint64_t *out, const char *where, char *err,
                    size_t errlen) {
    json_object *v;
    int rc = member(o, key, json_type_int, "an integer", &v, where, err, errlen);
    if (rc < 0) return -1;
    if (rc == 0 && json_object_get_int64(v) < 0) {
        snprintf(err, errlen, "%s: %s = %.40s is negative", where, key, json_object_to_json_string(v));
        return -1;
    }
    if (rc == 0) *out = json_object_get_uint64(v);
    return 0;
}

/* A system prompt member: a string without NUL bytes or null; 1 when absent. */
static int read_system(const json_object *o, char **out, const char *where, char *err, size_t errlen) {
    json_object *v;
    if (json_object_object_get_ex(o, "system", &v) && !v) {
        *out = NULL;
        return 0;
    }
    int rc = member(o, "system", json_type_string, "a string or null", &v, where, err, errlen);
    if (rc) return rc;
    if (memchr(json_object_get_string(v), 0, (size_t)json_object_get_string_len(v))) {
        snprintf(err, errlen, "%s: system holds a NUL byte", where);
        return -1;
    }
    if (!(*out = strdup(json_object_get_string(v)))) {
        snprintf(err, errlen, "%s: out of memory", where);
        return -1;
    }
    return 0;
}

int tr_json_read_gen(const json_object *o, tr_gen *g, const char *system, const char *where, char *err,
                     size_t errlen) {
    json_object *v;
    int rc = member(o, "generation", json_type_object, "an object", &v, where, err, errlen);
    if (rc) return rc < 0 ? -1 : 0;
    char w[4400];
    snprintf(w, sizeof w, "%s: generation", where);
    tr_gen n = {.set = 1, .temp = 1.0, .top_p = 1.0};
    if (read_num(v, "temp", &n.temp, w, err, errlen) || read_num(v, "top_p", &n.top_p, w, err, errlen) ||
        read_num(v, "min_p", &n.min_p, w, err, errlen) || read_int(v, "top_k", &n.top_k, w, err, errlen) ||
        read_int(v, "max_new", &n.max_new, w, err, errlen) || cfg_json_bool(v, "think", &n.think, w, err, errlen) < 0 ||
        read_int(v, "context_from", &n.context_from, w, err, errlen) || read_u64(v, "seed", &n.seed, w, err, errlen))
        return -1;
    n.state = n.seed;
    if (read_u64(v, "state", &n.state, w, err, errlen)) return -1;
    if (n.context_from < 0) {
        snprintf(err, errlen, "%s: context_from = %d is negative", w, n.context_from);
        return -1;
    }
    rc = read_system(v, &n.system, w, err, errlen);
    if (rc < 0) return -1;
    if (rc > 0 && system && !(n.system = strdup(system))) {   /* absent: the transcript's own */
        snprintf(err, errlen, "%s: out of memory", w);
        return -1;
    }
    tr_gen_clear(g);
    *g = n;
    return 0;
}

static int read_alt(const json_object *o, tr_alt *a, const char *system, const char *where, char *err,
                    size_t errlen) {
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "%s: must be an object", where);
        return -1;
    }
    return tr_json_read_text(o, &a->text, &a->len, where, err, errlen) ||
                   tr_json_read_ids(o, "ids", &a->ids, &a->n_ids, where, err, errlen) ||
                   tr_json_read_stop(o, a->stop, where, err, errlen) ||
                   read_int(o, "thought_tokens", &a->thought_tokens, where, err, errlen) ||
                   read_num(o, "gen_ms", &a->gen_ms, where, err, errlen) ||
                   tr_json_read_gen(o, &a->gen, system, where, err, errlen)
               ? -1
               : 0;
}

int tr_json_read_message(const json_object *o, tr_message *m, const char *system, const char *where, char *err,
                         size_t errlen) {
    memset(m, 0, sizeof *m);
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "%s: a message must be an object, got %s", where,
                 json_type_to_name(json_object_get_type(o)));
        return -1;
    }
    char role[8] = "";
    json_object *alts;
    int rc = read_cstr(o, "role", role, sizeof role, where, err, errlen);
    if (rc > 0) snprintf(err, errlen, "%s: role is missing", where);
    if (rc) return -1;
    if (!strcmp(role, "system")) m->role = TR_SYSTEM;
    else if (!strcmp(role, "user")) m->role = TR_USER;
    else if (!strcmp(role, "model")) m->role = TR_MODEL;
    else {
        snprintf(err, errlen, "%s: role \"%s\" is not system, user or model", where, role);
        return -1;
    }
    if (tr_json_read_text(o, &m->text, &m->len, where, err, errlen) ||
        tr_json_read_ids(o, "ids", &m->ids, &m->n_ids, where, err, errlen) ||
        tr_json_read_stats(o, m, where, err, errlen) || tr_json_read_gen(o, &m->gen, system, where, err, errlen) ||
        (rc = member(o, "alternatives", json_type_array, "an array", &alts, where, err, errlen)) < 0)
        goto fail;
    size_t na = rc ? 0 : json_object_array_length(alts);
    if (na && !(m->alts = calloc(na, sizeof *m->alts))) {
        snprintf(err, errlen, "%s: out of memory", where);
        goto fail;
    }
    for (size_t k = 0; k < na; k++) {
        char w[4400];
        snprintf(w, sizeof w, "%s: alternatives[%zu]", where, k);
        m->n_alts++;
        if (read_alt(json_object_array_get_idx(alts, k), &m->alts[k], system, w, err, errlen)) goto fail;
    }
    return 0;
fail:
    tr_message_clear(m);
    return -1;
}

int tr_json_read_settings(const json_object *root, tr_settings *s, const char *where, char *err, size_t errlen) {
    json_object *model, *set;
    memset(s, 0, sizeof *s);
    int rc = member(root, "model", json_type_object, "an object", &model, where, err, errlen);
    if (rc > 0) snprintf(err, errlen, "%s: model is missing", where);
    if (rc) return -1;
    rc = member(root, "settings", json_type_object, "an object", &set, where, err, errlen);
    if (rc > 0) snprintf(err, errlen, "%s: settings is missing", where);
    if (rc) return -1;
    char w[4400];
    snprintf(w, sizeof w, "%s: model", where);
    if (read_cstr(model, "dir", s->model_dir, sizeof s->model_dir, w, err, errlen) < 0 ||
        read_cstr(model, "config_sha256", s->config_hash, sizeof s->config_hash, w, err, errlen) < 0)
        return -1;
    size_t hl = strlen(s->config_hash);
    if ((hl && hl != 64) || strspn(s->config_hash, "0123456789abcdef") != hl) {
        snprintf(err, errlen, "%s: config_sha256 is not 64 lowercase hex digits", w);
        return -1;
    }
    snprintf(w, sizeof w, "%s: settings", where);
    s->temp = s->top_p = 1.0;
    if (read_num(set, "temp", &s->temp, w, err, errlen) || read_num(set, "top_p", &s->top_p, w, err, errlen) ||
        read_num(set, "min_p", &s->min_p, w, err, errlen) || read_int(set, "top_k", &s->top_k, w, err, errlen) ||
        read_int(set, "max_new", &s->max_new, w, err, errlen) ||
        cfg_json_bool(set, "think", &s->think, w, err, errlen) < 0)
        return -1;
    if (read_u64(set, "seed", &s->seed, w, err, errlen)) return -1;
    s->state = s->seed;   /* a version-1 file: the stream starts from the seed */
    if (read_u64(set, "state", &s->state, w, err, errlen)) return -1;
    return read_system(set, &s->system, w, err, errlen) < 0 ? -1 : 0;
}
