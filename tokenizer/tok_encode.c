/* Encoding: added tokens first (one PCRE2 alternation), then for the text between them the
 * normalizer, the Split pre-tokenizer and BPE by merge rank with byte fallback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_impl.h"

#define GLUE_CP 0x2581u   /* ▁ */

/* A mergeable pair; key = rank << 32 | position, so one compare orders by rank, then leftmost. */
typedef struct { uint64_t key; int32_t lid, rid, nid; } pend;
#define PEND_KEY(rank, pos) ((uint64_t)(uint32_t)(rank) << 32 | (uint32_t)(pos))

typedef struct {
    const tok_tokenizer *t;
    int32_t *out;
    size_t nout, capout;
    int32_t *id, *prev, *next;   /* the symbols of the current chunk, a linked list */
    size_t ns, scap;
    pend *heap;
    size_t nheap, hcap;
    tok_buf norm;
    tok_cache cache;
} enc;

static int push_out(enc *e, int32_t id) {
    if (e->nout == e->capout) {
        size_t cap = e->capout ? e->capout * 2 : 256;
        int32_t *p = realloc(e->out, cap * sizeof *p);
        if (!p) return -1;
        e->out = p;
        e->capout = cap;
    }
    e->out[e->nout++] = id;
    return 0;
}

static int add_sym(enc *e, int32_t id) {
    if (e->ns == e->scap) {
        size_t cap = e->scap ? e->scap * 2 : 64;
        int32_t *a = realloc(e->id, cap * sizeof *a);
        if (a) e->id = a;
        int32_t *b = realloc(e->prev, cap * sizeof *b);
        if (b) e->prev = b;
        int32_t *c = realloc(e->next, cap * sizeof *c);
        if (c) e->next = c;
        if (!a || !b || !c) return -1;
        e->scap = cap;
    }
    e->id[e->ns++] = id;
    return 0;
}

static void sift_down(pend *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && h[l].key < h[m].key) m = l;
        if (l + 1 < n && h[l + 1].key < h[m].key) m = l + 1;
        if (m == i) return;
        pend x = h[i];
        h[i] = h[m];
        h[m] = x;
        i = m;
    }
}

static void heap_push(enc *e, int32_t pos) {
    int32_t l = e->id[pos], r = e->id[e->next[pos]];
    const tok_mslot *m = tok_merge_find(e->t, l, r);
    if (!m) return;
    size_t i = e->nheap++;
    e->heap[i] = (pend){PEND_KEY(m->rank, pos), l, r, m->id};
    while (i && e->heap[i].key < e->heap[(i - 1) / 2].key) {
        pend x = e->heap[i];
        e->heap[i] = e->heap[(i - 1) / 2];
        e->heap[(i - 1) / 2] = x;
        i = (i - 1) / 2;
    }
}

/* Merges the chunk's symbols: always the lowest-ranked adjacent pair, the leftmost among equals.
 * Entries whose pair has changed since they were queued are dropped when they surface. */
static int merge_chunk(enc *e) {
    size_t n = e->ns;
    if (!n) return 0;
    if (3 * n > e->hcap) {
        pend *h = realloc(e->heap, 3 * n * sizeof *h);
        if (!h) return -1;
        e->heap = h;
        e->hcap = 3 * n;
    }
    for (size_t i = 0; i < n; i++) {
        e->prev[i] = (int32_t)i - 1;
        e->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    e->nheap = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        const tok_mslot *m = tok_merge_find(e->t, e->id[i], e->id[i + 1]);
        if (m) e->heap[e->nheap++] = (pend){PEND_KEY(m->rank, i), e->id[i], e->id[i + 1], m->id};
    }
    for (size_t i = e->nheap / 2; i-- > 0;) sift_down(e->heap, e->nheap, i);
    while (e->nheap) {
        pend top = e->heap[0];
        e->heap[0] = e->heap[--e->nheap];
        sift_down(e->heap, e->nheap, 0);
        int32_t p = (int32_t)(uint32_t)top.key, r = e->next[p];
        if (e->id[p] != top.lid || r < 0 || e->id[r] != top.rid) continue;
        e->id[p] = top.nid;
        e->id[r] = -1;
        e->next[p] = e->next[r];
        if (e->next[r] >= 0) e->prev[e->next[r]] = p;
        if (e->prev[p] >= 0) heap_push(e, e->prev[p]);
        if (e->next[p] >= 0) heap_push(e, p);
    }
    for (int32_t i = 0; i >= 0; i = e->next[i])
        if (push_out(e, e->id[i])) return -1;
    e->ns = 0;
    return 0;
}

static int is_glue(const tok_tokenizer *t, uint32_t cp) {
    const uint32_t *g = (const uint32_t *)t->glue.p;
    size_t lo = 0, hi = t->nglue;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g[mid] == cp) return 1;
        if (g[mid] < cp) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

/* One chunk: its symbols are its characters (or their bytes, for characters with no piece). */
static int bpe_chunk(enc *e, const char *s, size_t n) {
    const tok_tokenizer *t = e->t;
    size_t hit, first = e->nout;
    const int32_t *known = tok_cache_get(&e->cache, s, n, &hit);
    if (known) {
        for (size_t i = 0; i < hit; i++)
            if (push_out(e, known[i])) return -1;
        return 0;
    }
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = tok_utf8_next((const unsigned char *)s + i, &cp);
        int32_t id = cp < 0x10000 ? t->bmp_id[cp] : tok_vocab_find(t, s + i, (size_t)k);
        if (id >= 0) {
            if (add_sym(e, id)) return -1;
        } else {
            for (int b = 0; b < k; b++)
                if (add_sym(e, t->byte_id[(unsigned char)s[i + (size_t)b]])) return -1;
        }
        i += (size_t)k;
    }
    if (merge_chunk(e)) return -1;
    return tok_cache_put(&e->cache, s, n, e->out + first, e->nout - first);
}

/* One pre-token.  It is cut before each ▁ that no merge result holds after its predecessor: no
 * symbol can grow across such a point, so the chunks merge exactly as the whole would, faster. */
static int bpe_word(enc *e, const char *s, size_t n) {
    uint32_t prev = GLUE_CP;
    size_t start = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = tok_utf8_next((const unsigned char *)s + i, &cp);
        if (cp == GLUE_CP && i > start && !is_glue(e->t, prev)) {
            if (bpe_chunk(e, s + start, i - start)) return -1;
            start = i;
        }
        prev = cp;
        i += (size_t)k;
    }
    return start < n ? bpe_chunk(e, s + start, n - start) : 0;
}

/* Text between two added tokens: normalize, split (each piece ends with the pattern), BPE. */
static int encode_text(enc *e, const char *s, size_t n) {
    const tok_tokenizer *t = e->t;
    if (!n) return 0;
    if (t->nnorm) {
        e->norm.len = 0;
        if (tok_replace_apply(t->norm, t->nnorm, s, n, &e->norm)) return -1;
        s = e->norm.p;
        n = e->norm.len;
    }
    const char *end = s + n;
    while (t->split && s < end) {
        const char *hit = tok_find(s, (size_t)(end - s), t->split, t->split_len);
        if (!hit) break;
        if (bpe_word(e, s, (size_t)(hit + t->split_len - s))) return -1;
        s = hit + t->split_len;
    }
    return bpe_word(e, s, (size_t)(end - s));
}

int tok_encode(const tok_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n, char *err,
               size_t errlen) {
    *ids = NULL;
    *n = 0;
    if (len > INT32_MAX) {   /* symbol positions are 32-bit */
        snprintf(err, errlen, "text too long to encode (%zu bytes)", len);
        return -1;
    }
    size_t ok = tok_utf8_valid(text, len);
    if (ok != len) {
        snprintf(err, errlen, "invalid UTF-8 at byte %zu of the text", ok);
        return -1;
    }
    enc e = {.t = t};
    pcre2_match_data *md = t->re ? pcre2_match_data_create_from_pattern(t->re, NULL) : NULL;
    int rc = t->re && !md ? -1 : 0;
    for (size_t pos = 0; !rc;) {
        size_t ms = len, me = len;
        if (md && pos < len) {
            int m = pcre2_match(t->re, (PCRE2_SPTR)text, len, pos, 0, md, NULL);
            if (m >= 0) {
                const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                ms = ov[0];
                me = ov[1];
            } else if (m != PCRE2_ERROR_NOMATCH) {
                snprintf(err, errlen, "added-token search failed (PCRE2 error %d)", m);
                rc = -2;
                break;
            }
        }
        if (encode_text(&e, text + pos, ms - pos)) rc = -1;
        if (rc || ms == len) break;
        rc = push_out(&e, tok_added_find(t, text + ms, me - ms));
        pos = me;
    }
    if (rc == -1) snprintf(err, errlen, "out of memory");
    pcre2_match_data_free(md);
    free(e.id);
    free(e.prev);
    free(e.next);
    free(e.heap);
    free(e.norm.p);
    tok_cache_free(&e.cache);
    if (!rc && !e.out && !(e.out = malloc(sizeof *e.out))) {   /* empty text: still a valid array */
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    if (rc) {
        free(e.out);
        return -1;
    }
    *ids = e.out;
    *n = e.nout;
    return 0;
}
