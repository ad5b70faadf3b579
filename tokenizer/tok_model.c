/* The BPE model's two big sections, read straight from the file: vocab (piece -> id) and merges. */
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_impl.h"

#define GLUE "\xE2\x96\x81"   /* ▁, what the normalizer turns spaces into */

/* Pieces are short: a plain loop beats a call to memcmp here. */
static int same(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

int32_t tok_vocab_find(const tok_tokenizer *t, const char *s, size_t n) {
    if (!t->ptab) return -1;
    uint32_t h = tok_hash(s, n);
    for (uint32_t i = h & t->pmask;; i = (i + 1) & t->pmask) {
        const tok_pslot *e = &t->ptab[i];
        if (e->id < 0) return -1;
        if (e->hash == h && e->len == n && same(t->pool.p + e->off, s, n)) return e->id;
    }
}

static int ptab_grow(tok_tokenizer *t) {
    uint32_t cap = t->ptab ? (t->pmask + 1) * 2 : 1024;
    tok_pslot *nt = malloc(cap * sizeof *nt);
    if (!nt) return -1;
    for (uint32_t i = 0; i < cap; i++) nt[i].id = -1;
    for (uint32_t i = 0; t->ptab && i <= t->pmask; i++) {
        if (t->ptab[i].id < 0) continue;
        uint32_t k = t->ptab[i].hash & (cap - 1);
        while (nt[k].id >= 0) k = (k + 1) & (cap - 1);
        nt[k] = t->ptab[i];
    }
    free(t->ptab);
    t->ptab = nt;
    t->pmask = cap - 1;
    return 0;
}

int tok_read_vocab(tok_tokenizer *t, tok_json *j, size_t *nvocab) {
    if (tok_json_expect(j, '{', "the vocab object")) return -1;
    int first = 1, more;
    while ((more = tok_json_next_key(j, &first)) == 1) {
        const char *piece = j->s.p;
        size_t len = j->s.len;
        long long id;
        if (tok_json_int(j, &id)) return -1;
        if (id < 0 || id >= INT32_MAX) return tok_json_fail(j, "vocab id %lld of '%.40s' is out of range", id, piece);
        if (!len) return tok_json_fail(j, "empty piece in vocab");
        if ((t->nvocab + 1) * 2 > (t->ptab ? t->pmask + 1 : 0) && ptab_grow(t)) return tok_json_fail(j, "out of memory");
        uint32_t h = tok_hash(piece, len), i = h & t->pmask;
        for (; t->ptab[i].id >= 0; i = (i + 1) & t->pmask) {
            const tok_pslot *e = &t->ptab[i];
            if (e->hash == h && e->len == len && !memcmp(t->pool.p + e->off, piece, len))
                return tok_json_fail(j, "piece '%.40s' appears twice in vocab", piece);
        }
        if (t->pool.len > UINT32_MAX - len - 1) return tok_json_fail(j, "vocab too large");
        t->ptab[i] = (tok_pslot){h, (int32_t)id, (uint32_t)t->pool.len, (uint32_t)len};
        if (tok_buf_put(&t->pool, piece, len + 1)) return tok_json_fail(j, "out of memory");
        if (id > t->max_vocab_id) t->max_vocab_id = (int32_t)id;
        t->nvocab++;
    }
    *nvocab = t->nvocab;
    return more;
}

static int mtab_put(tok_tokenizer *t, uint64_t key, int32_t rank, int32_t id) {
    if ((t->nmerges + 1) * 2 > (t->mtab ? t->mmask + 1 : 0)) {
        uint32_t cap = t->mtab ? (t->mmask + 1) * 2 : 4096;
        tok_mslot *nt = malloc((size_t)cap * sizeof *nt);
        if (!nt) return -1;
        for (uint32_t i = 0; i < cap; i++) nt[i].key = UINT64_MAX;
        for (uint32_t i = 0; t->mtab && i <= t->mmask; i++) {
            if (t->mtab[i].key == UINT64_MAX) continue;
            uint32_t k = tok_merge_slot(t->mtab[i].key, cap - 1);
            while (nt[k].key != UINT64_MAX) k = (k + 1) & (cap - 1);
            nt[k] = t->mtab[i];
        }
        free(t->mtab);
        t->mtab = nt;
        t->mmask = cap - 1;
    }
    uint32_t i = tok_merge_slot(key, t->mmask);
    while (t->mtab[i].key != UINT64_MAX && t->mtab[i].key != key) i = (i + 1) & t->mmask;
    /* A pair listed twice keeps its last rank, as Hugging Face's merge map does. */
    if (t->mtab[i].key == UINT64_MAX) t->nmerges++;
    t->mtab[i] = (tok_mslot){key, rank, id};
    return 0;
}

/* Records every X in "X▁" inside a merge result: the encoder may cut a text before a ▁ whose
 * predecessor is not such an X, because no merge can ever join across that point. */
static int note_glue(tok_tokenizer *t, const char *s, size_t n) {
    for (size_t at = 1; at + 3 <= n; at++) {
        if (s[at] != GLUE[0] || s[at + 1] != GLUE[1] || s[at + 2] != GLUE[2]) continue;
        size_t b = at - 1;
        while (b > 0 && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
        uint32_t cp;
        tok_utf8_next((const unsigned char *)s + b, &cp);
        if (tok_buf_put(&t->glue, &cp, sizeof cp)) return -1;
    }
    return 0;
}

/* One merge: an array ["a", "b"] or a legacy string "a b" (exactly one space). */
static int read_merge(tok_json *j, size_t rank, tok_buf *pair, size_t *split) {
    int c = tok_json_peek(j);
    pair->len = 0;
    if (c == '[') {
        j->p++;
        if (tok_json_string(j)) return -1;
        if (tok_buf_put(pair, j->s.p, j->s.len)) return tok_json_fail(j, "out of memory");
        *split = pair->len;
        if (tok_json_expect(j, ',', "',' between the two parts of a merge") || tok_json_string(j)) return -1;
        if (tok_buf_put(pair, j->s.p, j->s.len)) return tok_json_fail(j, "out of memory");
        return tok_json_expect(j, ']', "']' after the two parts of a merge");
    }
    if (c != '"') return tok_json_fail(j, "merge %zu: expected [\"a\", \"b\"] or \"a b\"", rank);
    if (tok_json_string(j)) return -1;
    const char *sp = memchr(j->s.p, ' ', j->s.len);
    if (!sp || memchr(sp + 1, ' ', j->s.len - (size_t)(sp - j->s.p) - 1))
        return tok_json_fail(j, "merge %zu '%.40s' is not two pieces separated by one space", rank, j->s.p);
    *split = (size_t)(sp - j->s.p);
    if (tok_buf_put(pair, j->s.p, *split) || tok_buf_put(pair, sp + 1, j->s.len - *split - 1))
        return tok_json_fail(j, "out of memory");
    return 0;
}

int tok_read_merges(tok_tokenizer *t, tok_json *j) {
    if (tok_json_expect(j, '[', "the merges array")) return -1;
    tok_buf pair = {0};
    int first = 1, more, rc = 0;
    size_t rank = 0, split = 0;
    while (!rc && (more = tok_json_next_elem(j, &first)) == 1) {
        if (rank >= INT32_MAX) {
            rc = tok_json_fail(j, "too many merges");
            break;
        }
        if (read_merge(j, rank, &pair, &split)) {
            rc = -1;
            break;
        }
        const char *what = NULL;
        int32_t a = tok_vocab_find(t, pair.p, split), b = tok_vocab_find(t, pair.p + split, pair.len - split);
        int32_t r = tok_vocab_find(t, pair.p, pair.len);
        if (a < 0) what = "its left part";
        else if (b < 0) what = "its right part";
        else if (r < 0) what = "the merged piece";
        if (what)
            rc = tok_json_fail(j, "merge %zu ('%.*s' + '%.*s'): %s is not in the vocab", rank, (int)(split < 40 ? split : 40),
                               pair.p, (int)(pair.len - split < 40 ? pair.len - split : 40), pair.p + split, what);
        else if (mtab_put(t, (uint64_t)(uint32_t)a << 32 | (uint32_t)b, (int32_t)rank, r) || note_glue(t, pair.p, pair.len))
            rc = tok_json_fail(j, "out of memory");
        rank++;
    }
    free(pair.p);
    if (rc) return -1;
    return more < 0 ? -1 : 0;
}
