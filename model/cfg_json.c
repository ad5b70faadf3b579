#include "model/cfg_json.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cfg_json_read(char **text, size_t *len, const char *path, size_t max, int missing_ok, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT && missing_ok) return -2;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s: %s", path, S_ISDIR(sb.st_mode) ? "is a directory" : "not a regular file");
        close(fd);
        return -1;
    }
    if ((uint64_t)sb.st_size > max) {
        snprintf(err, errlen, "%s: file too large (%lld bytes, limit %zu)", path, (long long)sb.st_size, max);
        close(fd);
        return -1;
    }
    size_t n = (size_t)sb.st_size, got = 0;
    char *buf = malloc(n + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return -1;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            snprintf(err, errlen, "%s: read failed: %s", path, r < 0 ? strerror(errno) : "file shrank while reading");
            free(buf);
            close(fd);
            return -1;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *text = buf;
    *len = n;
    return 0;
}

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

int cfg_json_parse(json_object **out, const char *text, size_t len, int depth, int strict, const char *file, char *err,
                   size_t errlen) {
    if (len > INT32_MAX) {
        snprintf(err, errlen, "%s: JSON text too large", file);
        return -1;
    }
    json_tokener *tok = json_tokener_new_ex(depth);
    if (!tok) {
        snprintf(err, errlen, "%s: out of memory", file);
        return -1;
    }
    if (strict) json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!o || je != json_tokener_success) {
        if (je == json_tokener_continue)
            snprintf(err, errlen, "%s: invalid JSON: text ends early", file);
        else
            snprintf(err, errlen, "%s: invalid JSON at byte %zu: %s", file, end, json_tokener_error_desc(je));
        json_object_put(o);
        return -1;
    }
    while (end < len && is_space(text[end])) end++;
    if (end < len) {
        snprintf(err, errlen, "%s: invalid JSON: unexpected data at byte %zu after the value", file, end);
        json_object_put(o);
        return -1;
    }
    *out = o;
    return 0;
}

/* Skips a string starting at text[i] == '"'; returns the index after its closing quote. */
static size_t skip_string(const char *text, size_t len, size_t i) {
    for (i++; i < len && text[i] != '"'; i++)
        if (text[i] == '\\') i++;
    return i + 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

size_t cfg_json_members(const char *text, size_t len, char **dup) {
    size_t count = 0, nkeys = 0, cap = 0;
    char **keys = NULL;
    int depth = 0, want_key = 0, collect = 1; /* naming the duplicate is best effort; the count is not */
    *dup = NULL;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch == '"') {
            size_t e = skip_string(text, len, i);
            if (depth == 1 && want_key) {
                count++;
                want_key = 0;
                if (collect && nkeys == cap) {
                    char **nk = realloc(keys, (cap ? cap * 2 : 64) * sizeof *nk);
                    if (nk)
                        keys = nk, cap = cap ? cap * 2 : 64;
                    else
                        collect = 0;
                }
                if (collect && !(keys[nkeys] = strndup(text + i + 1, e - i - 2))) collect = 0;
                if (collect) nkeys++;
            }
            i = e - 1;
        } else if (ch == '{' || ch == '[') {
            if (++depth == 1) want_key = 1;
        } else if (ch == '}' || ch == ']') {
            depth--;
        } else if (ch == ',' && depth == 1) {
            want_key = 1;
        }
    }
    if (nkeys) qsort(keys, nkeys, sizeof *keys, cmp_str);
    for (size_t i = 1; i < nkeys && !*dup; i++)
        if (!strcmp(keys[i - 1], keys[i])) *dup = strdup(keys[i]);
    for (size_t i = 0; i < nkeys; i++) free(keys[i]);
    free(keys);
    return count;
}

int cfg_json_int(const json_object *o, const char *key, int64_t lo, int64_t hi, int64_t *out, const char *file,
                 char *err, size_t errlen) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v) return 1;
    if (!json_object_is_type(v, json_type_int)) {
        snprintf(err, errlen, "%s: %s must be an integer, got %s", file, key, json_object_to_json_string(v));
        return -1;
    }
    errno = 0;
    int64_t x = json_object_get_int64(v);
    if (errno || x < lo || x > hi) {
        snprintf(err, errlen, "%s: %s = %s is out of range [%lld, %lld]", file, key, json_object_to_json_string(v),
                 (long long)lo, (long long)hi);
        return -1;
    }
    *out = x;
    return 0;
}

int cfg_json_num(const json_object *o, const char *key, double *out, const char *file, char *err, size_t errlen) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v) return 1;
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
        snprintf(err, errlen, "%s: %s must be a number, got %s", file, key, json_object_to_json_string(v));
        return -1;
    }
    double x = json_object_get_double(v);
    if (!isfinite(x)) {
        snprintf(err, errlen, "%s: %s must be finite, got %s", file, key, json_object_to_json_string(v));
        return -1;
    }
    *out = x;
    return 0;
}

int cfg_json_bool(const json_object *o, const char *key, int *out, const char *file, char *err, size_t errlen) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v) return 1;
    if (!json_object_is_type(v, json_type_boolean)) {
        snprintf(err, errlen, "%s: %s must be true or false, got %s", file, key, json_object_to_json_string(v));
        return -1;
    }
    *out = json_object_get_boolean(v);
    return 0;
}

int cfg_json_add(json_object *o, const char *key, json_object *v, int nullable) {
    if ((v || nullable) && !json_object_object_add(o, key, v)) return 0;
    json_object_put(v);
    return -1;
}

int cfg_json_push(json_object *a, json_object *v) {
    if (v && !json_object_array_add(a, v)) return 0;
    json_object_put(v);
    return -1;
}

/* Whether b, parsed from the text of a, says the same: json_object_equal, except that a number
 * written without a fraction ("0", "1234") reads back as an integer. */
static int same_json(json_object *a, json_object *b) {
    json_type ta = json_object_get_type(a), tb = json_object_get_type(b);
    if (ta == json_type_double || tb == json_type_double)
        return (tb == json_type_double || tb == json_type_int) && (ta == json_type_double || ta == json_type_int) &&
               json_object_get_double(a) == json_object_get_double(b);
    if (ta != tb) return 0;
    if (ta == json_type_array) {
        size_t n = json_object_array_length(a);
        if (n != json_object_array_length(b)) return 0;
        for (size_t i = 0; i < n; i++)
            if (!same_json(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i))) return 0;
        return 1;
    }
    if (ta == json_type_object) {
        if (json_object_object_length(a) != json_object_object_length(b)) return 0;
        json_object_object_foreach(a, key, v) {
            json_object *w;
            if (!json_object_object_get_ex(b, key, &w) || !same_json(v, w)) return 0;
        }
        return 1;
    }
    return json_object_equal(a, b);
}

/* Whether text (n bytes) is exactly the JSON of o. */
static int reads_back(json_object *o, const char *text, size_t n) {
    json_tokener *tok = n < INT32_MAX ? json_tokener_new() : NULL;
    json_object *back = tok ? json_tokener_parse_ex(tok, text, (int)n) : NULL;
    int same = back && json_tokener_get_error(tok) == json_tokener_success &&
               json_tokener_get_parse_end(tok) == n && same_json(o, back);
    json_object_put(back);
    if (tok) json_tokener_free(tok);
    return same;
}

const char *cfg_json_print(json_object *o, size_t *len) {
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
    return s && reads_back(o, s, *len) ? s : NULL;
}
