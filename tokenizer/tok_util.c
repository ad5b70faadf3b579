/* Small helpers of the tokenizer: growable buffers, strict UTF-8, literal Replace, hashing. */
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_impl.h"

int tok_buf_put(tok_buf *b, const void *s, size_t n) {
    if (n > SIZE_MAX / 2 - b->len) return -1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* Byte length of the valid scalar at s (at most n bytes available), 0 if invalid or cut short. */
static size_t utf8_one(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;   /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;   /* > U+10FFFF */
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

size_t tok_utf8_valid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        size_t k = utf8_one(s + i, n - i);
        if (!k) break;
        i += k;
    }
    return i;
}

int tok_utf8_next(const unsigned char *s, uint32_t *cp) {
    if (s[0] < 0x80) return (int)(*cp = s[0], 1);
    if (s[0] < 0xE0) return (int)(*cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F), 2);
    if (s[0] < 0xF0) return (int)(*cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F), 3);
    *cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
    return 4;
}

const char *tok_find(const char *s, size_t n, const char *pat, size_t m) {
    if (!m) return s;
    for (const char *end = s + n; (size_t)(end - s) >= m;) {
        const char *c = memchr(s, pat[0], (size_t)(end - s) - m + 1);
        if (!c) return NULL;
        if (!memcmp(c + 1, pat + 1, m - 1)) return c;
        s = c + 1;
    }
    return NULL;
}

/* One step: every non-overlapping occurrence, left to right, as Rust's str::replace does. */
static int replace_one(const tok_replace *r, const char *s, size_t len, tok_buf *out) {
    const char *end = s + len;
    while (s < end) {
        const char *hit = tok_find(s, (size_t)(end - s), r->from, r->from_len);
        if (!hit) break;
        if (tok_buf_put(out, s, (size_t)(hit - s)) || tok_buf_put(out, r->to, r->to_len)) return -1;
        s = hit + r->from_len;
    }
    return tok_buf_put(out, s, (size_t)(end - s));
}

int tok_replace_apply(const tok_replace *r, int n, const char *s, size_t len, tok_buf *out) {
    if (n <= 1) return n ? replace_one(r, s, len, out) : tok_buf_put(out, s, len);
    tok_buf a = {0}, b = {0};
    int rc = replace_one(&r[0], s, len, &a);
    for (int i = 1; i < n - 1 && !rc; i++) {
        b.len = 0;
        rc = replace_one(&r[i], a.p, a.len, &b);
        tok_buf t = a;
        a = b;
        b = t;
    }
    if (!rc) rc = replace_one(&r[n - 1], a.p, a.len, out);
    free(a.p);
    free(b.p);
    return rc;
}

uint32_t tok_hash(const char *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0x94D049BB133111EBull;
    h ^= h >> 29;
    return (uint32_t)(h >> 32) ^ (uint32_t)h;
}
