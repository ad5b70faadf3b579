/* Decoding (Replace, ByteFallback, Fuse) and the streaming decoder with Hugging Face DecodeStream's
 * emission rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_impl.h"

#define FFFD "\xEF\xBF\xBD"

/* A run of byte pieces becomes its text if it is valid UTF-8, else one U+FFFD per piece. */
static int end_run(tok_buf *out, size_t start, size_t count) {
    if (tok_utf8_valid(out->p + start, out->len - start) == out->len - start) return 0;
    out->len = start;
    for (size_t i = 0; i < count; i++)
        if (tok_buf_put(out, FFFD, 3)) return -1;
    return 0;
}

int tok_decode_buf(const tok_tokenizer *t, const int32_t *ids, size_t n, int skip_special, tok_buf *out, char *err,
                   size_t errlen) {
    size_t run = 0, count = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n) {
            snprintf(err, errlen, "token id %d is out of range (the vocabulary has %d)", id, t->n);
            return -1;
        }
        if (skip_special && t->special[id]) continue;
        if (t->byte[id] >= 0) {
            if (!count++) run = out->len;
            char b = (char)t->byte[id];
            if (tok_buf_put(out, &b, 1)) goto oom;
            continue;
        }
        if (count && end_run(out, run, count)) goto oom;
        count = 0;
        if (tok_buf_put(out, t->dpool + t->doff[id], t->dlen[id])) goto oom;
    }
    if (count && end_run(out, run, count)) goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int tok_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, int skip_special, char **text, size_t *len,
               char *err, size_t errlen) {
    tok_buf out = {0};
    *text = NULL;
    *len = 0;
    int rc = tok_decode_buf(t, ids, n, skip_special, &out, err, errlen);
    if (!rc && tok_buf_put(&out, "", 1)) rc = -1, snprintf(err, errlen, "out of memory");
    if (rc) {
        free(out.p);
        return -1;
    }
    *text = out.p;
    *len = out.len - 1;
    return 0;
}

/* ---- streaming ---------------------------------------------------------------------------- */

struct tok_stream {
    const tok_tokenizer *t;
    int skip;
    int32_t *ids;           /* the ids since the last emission's context */
    size_t nids, cap;
    size_t prefix_index;    /* ids[0..prefix_index) decode to prefix */
    tok_buf prefix, cur, out;
};

int tok_stream_create(tok_stream **out, const tok_tokenizer *t, int skip_special) {
    *out = calloc(1, sizeof **out);
    if (!*out) return -1;
    (*out)->t = t;
    (*out)->skip = skip_special;
    return 0;
}

void tok_stream_free(tok_stream *s) {
    if (!s) return;
    free(s->ids);
    free(s->prefix.p);
    free(s->cur.p);
    free(s->out.p);
    free(s);
}

static int ends_fffd(const tok_buf *b) { return b->len >= 3 && !memcmp(b->p + b->len - 3, FFFD, 3); }

static int decode_into(tok_stream *s, const int32_t *ids, size_t n, tok_buf *b) {
    char err[128];
    b->len = 0;
    return tok_decode_buf(s->t, ids, n, s->skip, b, err, sizeof err);
}

/* The text new since the prefix; when a byte run has joined across the prefix boundary and turned
 * the prefix's text into U+FFFDs (Hugging Face reports an error there), the pending ids alone. */
static int new_text(tok_stream *s) {
    s->out.len = 0;
    if (s->cur.len >= s->prefix.len && (!s->prefix.len || !memcmp(s->cur.p, s->prefix.p, s->prefix.len)))
        return tok_buf_put(&s->out, s->cur.p + s->prefix.len, s->cur.len - s->prefix.len);
    return decode_into(s, s->ids + s->prefix_index, s->nids - s->prefix_index, &s->out);
}

static const char *ret(tok_stream *s, size_t *len) {
    if (tok_buf_put(&s->out, "", 1)) return *len = 0, (const char *)NULL;
    *len = --s->out.len;
    return s->out.p;
}

const char *tok_stream_push(tok_stream *s, int32_t id, size_t *len) {
    *len = 0;
    s->out.len = 0;
    if (id < 0 || id >= s->t->n) return ret(s, len);   /* unknown ids decode to nothing, as in HF */
    if (!s->prefix.len && s->nids) {
        if (decode_into(s, s->ids, s->nids, &s->cur)) return NULL;
        if (!ends_fffd(&s->cur)) {
            tok_buf t = s->prefix;
            s->prefix = s->cur;
            s->cur = t;
            s->prefix_index = s->nids;
        }
    }
    if (s->nids == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        int32_t *p = realloc(s->ids, cap * sizeof *p);
        if (!p) return NULL;
        s->ids = p;
        s->cap = cap;
    }
    s->ids[s->nids++] = id;
    if (decode_into(s, s->ids, s->nids, &s->cur)) return NULL;
    if (s->cur.len <= s->prefix.len || ends_fffd(&s->cur)) return ret(s, len);
    if (new_text(s)) return NULL;
    size_t keep = s->nids - s->prefix_index;
    memmove(s->ids, s->ids + s->prefix_index, keep * sizeof *s->ids);
    s->nids = keep;
    s->prefix_index = keep;
    if (decode_into(s, s->ids, s->nids, &s->prefix)) return NULL;
    return ret(s, len);
}

const char *tok_stream_flush(tok_stream *s, size_t *len) {
    *len = 0;
    s->out.len = 0;
    if (decode_into(s, s->ids, s->nids, &s->cur)) return NULL;
    if ((s->cur.len != s->prefix.len || (s->cur.len && memcmp(s->cur.p, s->prefix.p, s->cur.len))) && new_text(s))
        return NULL;
    s->nids = s->prefix_index = 0;
    s->prefix.len = 0;
    return ret(s, len);
}
