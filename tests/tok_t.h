/* Helpers shared by the tokenizer and chat-format tests: fixtures under $GC_TESTDATA/tokenizer,
 * JSON-lines files and id lists. */
#ifndef TOK_T_H
#define TOK_T_H
#include <json-c/json.h>
#include <stdint.h>
#include <time.h>
#include "tests/t.h"
#include "tokenizer/tok.h"

static inline double tt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void tt_path(char *out, size_t n, const char *name) { snprintf(out, n, "%s/tokenizer/%s", t_data(), name); }

/* Loads a fixture tokenizer; a failure is reported and ends the test program. */
static inline tok_tokenizer *tt_load(const char *name) {
    char path[1024], err[512];
    tt_path(path, sizeof path, name);
    tok_tokenizer *t;
    double t0 = tt_now();
    int rc = tok_load(&t, path, err, sizeof err);
    T_CHECK(rc == 0, name, "%s", err);
    if (rc) exit(t_exit());
    printf("info: %s loaded in %.3f s\n", name, tt_now() - t0);
    return t;
}

/* Every line of a JSON-lines fixture, parsed; NULL-terminated, *n lines. */
static inline json_object **tt_jsonl(const char *name, size_t *n) {
    char path[1024];
    tt_path(path, sizeof path, name);
    FILE *f = fopen(path, "rb");
    json_object **v = NULL;
    *n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (f && (len = getline(&line, &cap, f)) > 0) {
        json_object **nv = realloc(v, (*n + 2) * sizeof *v);
        if (!nv) break;
        v = nv;
        json_tokener *tk = json_tokener_new();
        v[*n] = json_tokener_parse_ex(tk, line, (int)len);
        json_tokener_free(tk);
        if (v[*n]) (*n)++;
    }
    if (v) v[*n] = NULL;
    free(line);
    if (f) fclose(f);
    T_CHECK(*n > 0, name, "cannot read %s", path);
    return v;
}

static inline void tt_jsonl_free(json_object **v) {
    for (size_t i = 0; v && v[i]; i++) json_object_put(v[i]);
    free(v);
}

static inline const char *tt_str(json_object *o, const char *key, size_t *len) {
    json_object *s;
    if (!json_object_object_get_ex(o, key, &s) || !json_object_is_type(s, json_type_string)) return *len = 0, "";
    *len = (size_t)json_object_get_string_len(s);
    return json_object_get_string(s);
}

/* The JSON array o[key] of ids as a malloc'd array. */
static inline int32_t *tt_ids(json_object *o, const char *key, size_t *n) {
    json_object *a;
    *n = 0;
    if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array)) return NULL;
    *n = json_object_array_length(a);
    int32_t *v = malloc((*n + 1) * sizeof *v);
    for (size_t i = 0; v && i < *n; i++) v[i] = json_object_get_int(json_object_array_get_idx(a, i));
    return v;
}

/* Index of the first difference between two id lists, -1 if equal. */
static inline long tt_diff(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    size_t i = 0;
    while (i < na && i < nb && a[i] == b[i]) i++;
    return i == na && i == nb ? -1 : (long)i;
}
#endif
