/* tok internals shared by the tokenizer/tok_*.c files; nothing outside tokenizer/ includes this. */
#ifndef TOK_IMPL_H
#define TOK_IMPL_H
#include <stddef.h>
#include <stdint.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "tokenizer/tok.h"

/* A growable byte buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} tok_buf;
int tok_buf_put(tok_buf *b, const void *s, size_t n);

/* First occurrence of pat in s, or NULL.  Unlike memmem it reads only up to the match, which keeps
 * repeated searches linear under AddressSanitizer too. */
const char *tok_find(const char *s, size_t n, const char *pat, size_t m);
/* Length of the valid UTF-8 prefix of s (strict: no overlongs, surrogates or values > U+10FFFF). */
size_t tok_utf8_valid(const char *s, size_t n);
/* Decodes one scalar of valid UTF-8 at s; returns its byte length. */
int tok_utf8_next(const unsigned char *s, uint32_t *cp);

/* A `Replace` step with a literal pattern (normalizer or decoder). */
typedef struct {
    char *from, *to;
    size_t from_len, to_len;
} tok_replace;
/* Appends s with every step applied in order. */
int tok_replace_apply(const tok_replace *r, int n, const char *s, size_t len, tok_buf *out);

typedef struct { uint32_t hash; int32_t id; uint32_t off, len; } tok_pslot; /* piece (in pool) -> id */
typedef struct { uint64_t key; int32_t rank, id; } tok_mslot;             /* (left, right) -> merge */

typedef struct { int32_t id; uint32_t off, len; int special; } tok_added;   /* content in pool */

struct tok_tokenizer {
    int n;                        /* ids 0..n-1 all exist */
    tok_buf pool;                 /* every piece, NUL-terminated */
    uint32_t *off, *len;          /* id -> piece (added tokens: their content) */
    char *dpool;                  /* id -> piece after the decoder's Replace steps */
    uint32_t *doff, *dlen;
    int16_t *byte;                /* id -> byte value if the decoded piece is <0xNN>, else -1 */
    uint8_t *special;
    tok_pslot *ptab;              /* model vocab only (what BPE and the merges see) */
    uint32_t pmask;
    size_t nvocab;
    int32_t max_vocab_id;
    tok_mslot *mtab;
    uint32_t mmask;
    size_t nmerges;
    int32_t *bmp_id;              /* single-character pieces below U+10000, -1 if none */
    int32_t byte_id[256];
    tok_replace *norm;            /* normalizer: Replace steps, in order */
    int nnorm;
    char *split;                  /* pre-tokenizer Split pattern (MergedWithPrevious), NULL if none */
    size_t split_len;
    tok_replace *dec;             /* decoder Replace steps (they run before ByteFallback) */
    int ndec, dec_bytes;          /* dec_bytes: the decoder has ByteFallback */
    tok_added *added;             /* added tokens sorted by content; matched before anything else */
    int nadded;
    pcre2_code *re;               /* alternation of the added tokens, longest first; NULL if none */
    tok_buf glue;                 /* uint32_t characters X such that some merge result holds "X▁";
                                     sorted and unique once loaded */
    size_t nglue;
};

uint32_t tok_hash(const char *s, size_t n);
/* Model-vocab id of a piece, -1 if absent. */
int32_t tok_vocab_find(const tok_tokenizer *t, const char *s, size_t n);
/* Added-token id of exactly this content, -1 if none. */
int32_t tok_added_find(const tok_tokenizer *t, const char *s, size_t n);
static inline const tok_mslot *tok_merge_find(const tok_tokenizer *t, int32_t a, int32_t b) {
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    uint32_t i = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & t->mmask;
    for (;; i = (i + 1) & t->mmask) {
        if (t->mtab[i].key == key) return &t->mtab[i];
        if (t->mtab[i].key == UINT64_MAX) return NULL;
    }
}
static inline uint32_t tok_merge_slot(uint64_t key, uint32_t mask) {
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

/* ---- tokenizer.json reading (tok_json.c) ---- */
/* A cursor over the mapped file; errors name the file and the line. */
typedef struct {
    const char *p, *start, *end, *file;
    char *err;
    size_t errlen;
    tok_buf s;                    /* the last string read (NUL-terminated) */
} tok_json;
int tok_json_fail(tok_json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Skips whitespace; returns the next byte or -1 at the end. */
int tok_json_peek(tok_json *j);
int tok_json_expect(tok_json *j, char c, const char *what);
/* Reads a string into j->s (escapes decoded, strict UTF-8). */
int tok_json_string(tok_json *j);
int tok_json_int(tok_json *j, long long *v);
/* Skips any value without recursion; [*start, *end) is its text. */
int tok_json_skip(tok_json *j, const char **start, const char **end);
/* Object iteration: after tok_json_expect('{'), call tok_json_next_key until it returns 0 (end). */
int tok_json_next_key(tok_json *j, int *first);
/* Array iteration: after '[', returns 1 while another element follows, 0 at ']'. */
int tok_json_next_elem(tok_json *j, int *first);

/* ---- loading (tok_model.c: vocab, merges; tok_conf.c: the small sections) ---- */
int tok_read_vocab(tok_tokenizer *t, tok_json *j, size_t *nvocab);
int tok_read_merges(tok_tokenizer *t, tok_json *j);
struct json_object;
int tok_conf_added(tok_tokenizer *t, struct json_object *o, tok_json *j);
int tok_conf_normalizer(tok_tokenizer *t, struct json_object *o, tok_json *j);
int tok_conf_pretok(tok_tokenizer *t, struct json_object *o, tok_json *j);
int tok_conf_decoder(tok_tokenizer *t, struct json_object *o, tok_json *j);
/* Checks one option of "model" (type, dropout, ...); sets *byte_fallback from "byte_fallback". */
int tok_conf_model_option(struct json_object *o, const char *key, int *byte_fallback, tok_json *j);

/* ---- tok_cache.c: chunk -> ids memo of one encode call (chunks up to TOK_CACHE_MAX_KEY bytes) ---- */
#define TOK_CACHE_MAX_KEY 64
typedef struct { uint32_t hash, key, klen, ids, nids; } tok_cslot;   /* klen 0: empty */
typedef struct {
    tok_cslot *slot;
    uint32_t mask;
    size_t n;
    tok_buf keys, ids;
} tok_cache;
const int32_t *tok_cache_get(const tok_cache *c, const char *s, size_t n, size_t *nids);
/* Remembers a chunk's ids (quietly not, once full); -1 only when out of memory. */
int tok_cache_put(tok_cache *c, const char *s, size_t n, const int32_t *ids, size_t nids);
void tok_cache_free(tok_cache *c);

/* Decodes ids into out (appending). */
int tok_decode_buf(const tok_tokenizer *t, const int32_t *ids, size_t n, int skip_special, tok_buf *out,
                   char *err, size_t errlen);
#endif
