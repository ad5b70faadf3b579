/* A small streaming JSON reader for tokenizer.json: the vocab and merges sections are too big for a
 * DOM (json-c takes ~0.45 s and ~240 MB on the real file), so they are read straight from the mapping. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "tokenizer/tok_impl.h"

/* Deeper nesting is refused: it never occurs in a real file and keeps skipping bounded. */
#define TOK_JSON_DEPTH 256

int tok_json_fail(tok_json *j, const char *fmt, ...) {
    size_t line = 1;
    for (const char *q = j->start; q < j->p && (q = memchr(q, '\n', (size_t)(j->p - q))); q++) line++;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(j->err, j->errlen, "%s: line %zu (byte %zu): %s", j->file, line, (size_t)(j->p - j->start), msg);
    return -1;
}

int tok_json_peek(tok_json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
    return j->p < j->end ? (unsigned char)*j->p : -1;
}

static int fail_at(tok_json *j, int c, const char *what) {
    if (c < 0) return tok_json_fail(j, "unexpected end of file (truncated?) where %s was expected", what);
    return tok_json_fail(j, "expected %s", what);
}

int tok_json_expect(tok_json *j, char c, const char *what) {
    int got = tok_json_peek(j);
    if (got != (unsigned char)c) return fail_at(j, got, what);
    j->p++;
    return 0;
}

static int hex4(const char *s, uint32_t *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

static int put_cp(tok_buf *b, uint32_t cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) u[0] = (char)cp, n = 1;
    else if (cp < 0x800) u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 63)), n = 2;
    else if (cp < 0x10000)
        u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 63)), u[2] = (char)(0x80 | (cp & 63)), n = 3;
    else
        u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 63)), u[2] = (char)(0x80 | (cp >> 6 & 63)),
        u[3] = (char)(0x80 | (cp & 63)), n = 4;
    return tok_buf_put(b, u, n);
}

static int escape(tok_json *j) {
    if (j->end - j->p < 2) return fail_at(j, -1, "an escape");
    char c = j->p[1];
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t", *k = c ? strchr(from, c) : NULL;
    if (k) {
        j->p += 2;
        return tok_buf_put(&j->s, &to[k - from], 1);
    }
    uint32_t cp, lo;
    if (c != 'u' || j->end - j->p < 6 || hex4(j->p + 2, &cp)) return tok_json_fail(j, "bad escape in string");
    j->p += 6;
    if (cp >= 0xDC00 && cp < 0xE000) return tok_json_fail(j, "lone low surrogate \\u%04X in string", cp);
    if (cp >= 0xD800 && cp < 0xDC00) {
        if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || hex4(j->p + 2, &lo) || lo < 0xDC00 || lo >= 0xE000)
            return tok_json_fail(j, "lone high surrogate \\u%04X in string", cp);
        j->p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    return put_cp(&j->s, cp);
}

int tok_json_string(tok_json *j) {
    if (tok_json_expect(j, '"', "a string")) return -1;
    j->s.len = 0;
    for (;;) {
        const char *q = j->p;
        while (q < j->end && (unsigned char)*q >= 0x20 && *q != '"' && *q != '\\' && !(*q & 0x80)) q++;
        if (tok_buf_put(&j->s, j->p, (size_t)(q - j->p))) return tok_json_fail(j, "out of memory");
        j->p = q;
        if (q == j->end) return fail_at(j, -1, "the end of a string");
        unsigned char c = (unsigned char)*q;
        if (c == '"') break;
        if (c == '\\') {
            if (escape(j)) return -1;
        } else if (c & 0x80) {
            size_t n = tok_utf8_valid(q, (size_t)(j->end - q) < 4 ? (size_t)(j->end - q) : 4);
            if (!n) return tok_json_fail(j, "invalid UTF-8 in string");
            uint32_t cp;
            n = (size_t)tok_utf8_next((const unsigned char *)q, &cp);
            if (tok_buf_put(&j->s, q, n)) return tok_json_fail(j, "out of memory");
            j->p += n;
        } else {
            return tok_json_fail(j, "raw control character in string");
        }
    }
    j->p++;
    if (tok_buf_put(&j->s, "", 1)) return tok_json_fail(j, "out of memory");
    j->s.len--;
    return 0;
}

int tok_json_int(tok_json *j, long long *v) {
    int c = tok_json_peek(j);
    const char *q = j->p;
    int neg = c == '-';
    if (neg) q++;
    if (q >= j->end || *q < '0' || *q > '9') return fail_at(j, c, "an integer");
    long long x = 0;
    while (q < j->end && *q >= '0' && *q <= '9') {
        if (x > (INT64_MAX - 9) / 10) return tok_json_fail(j, "integer too large");
        x = x * 10 + (*q++ - '0');
    }
    if (q < j->end && (*q == '.' || *q == 'e' || *q == 'E')) return tok_json_fail(j, "expected an integer, got a fraction");
    j->p = q;
    *v = neg ? -x : x;
    return 0;
}

static int skip_string(tok_json *j) {
    if (tok_json_expect(j, '"', "a string")) return -1;
    while (j->p < j->end) {
        char c = *j->p++;
        if (c == '"') return 0;
        if (c == '\\') j->p++;
    }
    j->p = j->end;
    return fail_at(j, -1, "the end of a string");
}

static int skip_key(tok_json *j) {
    if (skip_string(j)) return -1;
    return tok_json_expect(j, ':', "':'");
}

int tok_json_skip(tok_json *j, const char **start, const char **end) {
    char stack[TOK_JSON_DEPTH];
    int depth = 0;
    tok_json_peek(j);
    *start = j->p;
    for (;;) {
        int c = tok_json_peek(j);
        if (c == '{' || c == '[') {
            if (depth == TOK_JSON_DEPTH) return tok_json_fail(j, "JSON nested deeper than %d levels", TOK_JSON_DEPTH);
            stack[depth++] = (char)(c == '{' ? '}' : ']');
            j->p++;
            if (tok_json_peek(j) == stack[depth - 1]) {
                j->p++;
                depth--;
            } else {
                if (c == '{' && skip_key(j)) return -1;
                continue;
            }
        } else if (c == '"') {
            if (skip_string(j)) return -1;
        } else {
            const char *q = j->p;
            while (q < j->end && ((*q && strchr("+-.E", *q)) || (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z'))) q++;
            if (q == j->p) return fail_at(j, c, "a value");
            j->p = q;
        }
        for (;;) {   /* after a value: close containers or move to the next element */
            if (depth == 0) {
                *end = j->p;
                return 0;
            }
            c = tok_json_peek(j);
            if (c == stack[depth - 1]) {
                j->p++;
                depth--;
                continue;
            }
            if (c != ',') return fail_at(j, c, stack[depth - 1] == '}' ? "',' or '}'" : "',' or ']'");
            j->p++;
            if (stack[depth - 1] == '}' && skip_key(j)) return -1;
            break;
        }
    }
}

int tok_json_next_key(tok_json *j, int *first) {
    int c = tok_json_peek(j);
    if (c == '}' && *first) {
        j->p++;
        return 0;
    }
    if (!*first) {
        if (c == '}') {
            j->p++;
            return 0;
        }
        if (c != ',') return fail_at(j, c, "',' or '}'");
        j->p++;
    }
    *first = 0;
    if (tok_json_string(j) || tok_json_expect(j, ':', "':'")) return -1;
    return 1;
}

int tok_json_next_elem(tok_json *j, int *first) {
    int c = tok_json_peek(j);
    if (c == ']' && *first) {
        j->p++;
        return 0;
    }
    if (!*first) {
        if (c == ']') {
            j->p++;
            return 0;
        }
        if (c != ',') return fail_at(j, c, "',' or ']'");
        j->p++;
    }
    *first = 0;
    return 1;
}
