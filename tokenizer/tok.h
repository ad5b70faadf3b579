/* tok — tokenizer.json (BPE with byte fallback, special tokens matched by PCRE2), encoding,
 * decoding and streaming UTF-8-safe decoding, exactly as Hugging Face tokenizers does. */
#ifndef TOK_H
#define TOK_H
#include <stddef.h>
#include <stdint.h>

typedef struct tok_tokenizer tok_tokenizer;
typedef struct tok_stream tok_stream;

int tok_load(tok_tokenizer **out, const char *path, char *err, size_t errlen);
void tok_free(tok_tokenizer *t);
int tok_vocab_size(const tok_tokenizer *t);
/* id of a piece or special token, -1 if none. */
int tok_id(const tok_tokenizer *t, const char *piece);
/* The raw vocab string of id (special tokens: their content); NULL if out of range. */
const char *tok_piece(const tok_tokenizer *t, int id, size_t *len);
int tok_is_special(const tok_tokenizer *t, int id);

/* Encodes len bytes of text (no BOS added; special strings become their ids).  *ids is malloc'd and
 * owned by the caller.  Invalid UTF-8 is refused with a message. */
int tok_encode(const tok_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
               char *err, size_t errlen);
/* Decodes ids to UTF-8 (*text malloc'd, NUL-terminated, *len without the NUL). */
int tok_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
               char **text, size_t *len, char *err, size_t errlen);

/* Streaming: push ids one at a time; each push returns the newly completed text (possibly empty)
 * in a buffer owned by the stream, valid until the next call. */
int tok_stream_create(tok_stream **out, const tok_tokenizer *t, int skip_special);
void tok_stream_free(tok_stream *s);
const char *tok_stream_push(tok_stream *s, int32_t id, size_t *len);
/* Whatever is still held back (an incomplete UTF-8 tail, as U+FFFD); resets the stream. */
const char *tok_stream_flush(tok_stream *s, size_t *len);
#endif
