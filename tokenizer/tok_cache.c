/* A memo of chunk -> ids for one tok_encode call: a long document meets the same words over and
 * over, and a chunk's BPE result depends on nothing but its bytes.  Bounded in entries and key size. */
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_impl.h"

#define CACHE_MAX_ENTRIES (1u << 16)

const int32_t *tok_cache_get(const tok_cache *c, const char *s, size_t n, size_t *nids) {
    if (!c->slot || n > TOK_CACHE_MAX_KEY) return NULL;
    uint32_t h = tok_hash(s, n);
    for (uint32_t i = h & c->mask;; i = (i + 1) & c->mask) {
        const tok_cslot *e = &c->slot[i];
        if (!e->klen) return NULL;
        if (e->hash == h && e->klen == n && !memcmp(c->keys.p + e->key, s, n)) {
            *nids = e->nids;
            return (const int32_t *)(void *)c->ids.p + e->ids;
        }
    }
}

static int grow(tok_cache *c) {
    uint32_t cap = c->slot ? (c->mask + 1) * 2 : 1024;
    tok_cslot *ns = calloc(cap, sizeof *ns);
    if (!ns) return -1;
    for (uint32_t i = 0; c->slot && i <= c->mask; i++) {
        if (!c->slot[i].klen) continue;
        uint32_t k = c->slot[i].hash & (cap - 1);
        while (ns[k].klen) k = (k + 1) & (cap - 1);
        ns[k] = c->slot[i];
    }
    free(c->slot);
    c->slot = ns;
    c->mask = cap - 1;
    return 0;
}

int tok_cache_put(tok_cache *c, const char *s, size_t n, const int32_t *ids, size_t nids) {
    if (!n || n > TOK_CACHE_MAX_KEY || c->n >= CACHE_MAX_ENTRIES) return 0;
    if ((c->n + 1) * 2 > (c->slot ? c->mask + 1 : 0) && grow(c)) return -1;
    uint32_t h = tok_hash(s, n), i = h & c->mask;
    while (c->slot[i].klen) i = (i + 1) & c->mask;
    c->slot[i] = (tok_cslot){h, (uint32_t)c->keys.len, (uint32_t)n, (uint32_t)(c->ids.len / sizeof *ids), (uint32_t)nids};
    c->n++;
    return tok_buf_put(&c->keys, s, n) || tok_buf_put(&c->ids, ids, nids * sizeof *ids) ? -1 : 0;
}

void tok_cache_free(tok_cache *c) {
    free(c->slot);
    free(c->keys.p);
    free(c->ids.p);
}
