#include "app/args.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *args_get_nth(int argc, char **argv, const char *name, int k) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name) && k-- == 0) return argv[i + 1];
    return NULL;
}

const char *args_get(int argc, char **argv, const char *name) { return args_get_nth(argc, argv, name, 0); }

int args_has(int argc, char **argv, const char *name) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], name)) return 1;
    return 0;
}

int args_check(int argc, char **argv, const char *const *known, char *err, size_t errlen) {
    for (int i = 1; i < argc; i++) {
        int found = 0;
        for (const char *const *k = known; *k && !found; k++) {
            size_t n = strlen(*k);
            int takes = n > 0 && (*k)[n - 1] == '=';
            if (strncmp(argv[i], *k, takes ? n - 1 : n) || argv[i][takes ? n - 1 : n]) continue;
            if (takes && ++i >= argc) {
                snprintf(err, errlen, "option %.*s needs a value", (int)(n - 1), *k);
                return -1;
            }
            found = 1;
        }
        if (!found) {
            snprintf(err, errlen, "unknown option '%s'", argv[i]);
            return -1;
        }
    }
    return 0;
}

int args_long(const char *s, long *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int args_double(const char *s, double *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int args_ids(const char *s, int32_t **ids, size_t *n, char *err, size_t errlen) {
    size_t cap = 16, len = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX || (*end && *end != ',') || (*end == ',' && !end[1])) {
            snprintf(err, errlen, "bad id list '%s': expected decimal ids separated by commas", s);
            free(v);
            return -1;
        }
        if (len == cap) {
            int32_t *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) {
                free(v);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            v = nv;
        }
        v[len++] = (int32_t)x;
        p = *end ? end + 1 : end;
    }
    if (!len) {
        snprintf(err, errlen, "empty id list");
        free(v);
        return -1;
    }
    *ids = v;
    *n = len;
    return 0;
}

void args_complain(const char *prog, const char *fmt, ...) {
    char msg[4096], out[4096 * 4 + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = (size_t)snprintf(out, sizeof out, "%s: ", prog);
    for (const unsigned char *p = (const unsigned char *)msg; *p && n + 5 < sizeof out; p++)
        n += (*p < 0x20 && *p != '\t') || *p == 0x7f ? (size_t)snprintf(out + n, 5, "\\x%02x", *p) : (out[n] = (char)*p, 1);
    out[n++] = '\n';
    fwrite(out, 1, n, stderr);
}
