/* Shared by the tokenizer fuzz targets: the tokenizer they run on, and the checks of a decode and of
 * the streaming decoder against it. */
#ifndef FUZZ_TOK_H
#define FUZZ_TOK_H
#include "tokenizer/tok.h"
#include "tests/fuzz/fuzz.h"

#define FFFD_UTF8 "\xEF\xBF\xBD"

/* $FUZZ_TOKENIZER, or the 4096-piece fixture tokenizer; loaded once. */
static inline const tok_tokenizer *fuzz_tokenizer(const char *target) {
    static tok_tokenizer *t;
    if (!t) {
        const char *path = getenv("FUZZ_TOKENIZER");
        char err[1024];
        if (!path || !*path) path = fuzz_data_path("tokenizer/tiny-4096/tokenizer.json");
        if (tok_load(&t, path, err, sizeof err) < 0) fuzz_die(target, "cannot load the tokenizer: %s", err);
    }
    return t;
}

static inline int fuzz_has(const char *s, size_t n, const char *what) {
    size_t w = strlen(what);
    for (size_t i = 0; i + w <= n; i++)
        if (!memcmp(s + i, what, w)) return 1;
    return 0;
}

/* Decodes ids (all in range) and checks the text is valid UTF-8; streams them too and checks each
 * chunk is valid UTF-8 and, where the whole decode has no U+FFFD (no byte run was broken, so no
 * emitted text can be withdrawn), that the chunks plus the flush are exactly the decode.
 * Returns the decode (malloc'd) in *text. */
static inline void fuzz_decode_checked(const char *target, const tok_tokenizer *t, const int32_t *ids, size_t n,
                                       int skip, char **text, size_t *len) {
    char err[512] = "";
    if (tok_decode(t, ids, n, skip, text, len, err, sizeof err) < 0) fuzz_die(target, "decode failed: %s", err);
    if ((*text)[*len] || fuzz_utf8_valid((const uint8_t *)*text, *len) != *len)
        fuzz_die(target, "decode is not NUL-terminated valid UTF-8");
    tok_stream *s;
    if (tok_stream_create(&s, t, skip) < 0) fuzz_die(target, "tok_stream_create failed");
    char *all = malloc(*len + 1);
    size_t at = 0;
    int over = 0;
    for (size_t i = 0; i <= n; i++) {
        size_t cl;
        const char *chunk = i < n ? tok_stream_push(s, ids[i], &cl) : tok_stream_flush(s, &cl);
        if (!chunk) fuzz_die(target, "stream returned NULL at id %zu", i);
        if (fuzz_utf8_valid((const uint8_t *)chunk, cl) != cl) fuzz_die(target, "stream chunk %zu is not UTF-8", i);
        if (at + cl > *len) over = 1;
        else memcpy(all + at, chunk, cl), at += cl;
    }
    if (!fuzz_has(*text, *len, FFFD_UTF8) && (over || at != *len || memcmp(all, *text, at)))
        fuzz_die(target, "stream (%zu bytes%s) differs from the decode (%zu bytes)", at, over ? "+" : "", *len);
    free(all);
    tok_stream_free(s);
}
#endif
