/* Fuzz target: tok_decode and the streaming decoder on arbitrary id sequences.  Each pair of input
 * bytes is one id: with the first byte's top bit set, the byte-fallback token of the second byte
 * (so broken UTF-8 runs are common), else any id from -4 to vocab+3.  The first byte of the input
 * chooses skip_special.  Invariants: an out-of-range id is refused with a message; otherwise the
 * decode is valid UTF-8 and the stream agrees with it (fuzz_decode_checked). */
#include "tests/fuzz/fuzz_tok.h"

#define DEC_TARGET "fuzz_tok_decode"

static int fuzz_tok_decode_one(const uint8_t *data, size_t n) {
    const tok_tokenizer *t = fuzz_tokenizer(DEC_TARGET);
    if (!n) return 0;
    int skip = data[0] & 1, vocab = tok_vocab_size(t), bad = 0;
    size_t nids = (n - 1) / 2;
    int32_t *ids = malloc((nids ? nids : 1) * sizeof *ids);
    for (size_t i = 0; i < nids; i++) {
        uint8_t a = data[1 + 2 * i], b = data[2 + 2 * i];
        if (a & 0x80) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", b);
            ids[i] = tok_id(t, name);
        } else {
            ids[i] = (int32_t)(((unsigned)a << 8 | b) % (unsigned)(vocab + 8)) - 4;
        }
        if (ids[i] < 0 || ids[i] >= vocab) bad = 1;
    }
    char *text = NULL, err[512] = "";
    size_t len;
    if (bad) {
        if (tok_decode(t, ids, nids, skip, &text, &len, err, sizeof err) == 0)
            fuzz_die(DEC_TARGET, "an out-of-range id was decoded");
        fuzz_check_err(DEC_TARGET, err, NULL);
        tok_stream *s;   /* the stream skips unknown ids instead */
        if (tok_stream_create(&s, t, skip) < 0) fuzz_die(DEC_TARGET, "tok_stream_create failed");
        for (size_t i = 0; i <= nids; i++) {
            size_t cl;
            const char *c = i < nids ? tok_stream_push(s, ids[i], &cl) : tok_stream_flush(s, &cl);
            if (!c || fuzz_utf8_valid((const uint8_t *)c, cl) != cl) fuzz_die(DEC_TARGET, "bad stream chunk %zu", i);
        }
        tok_stream_free(s);
    } else {
        fuzz_decode_checked(DEC_TARGET, t, ids, nids, skip, &text, &len);
    }
    free(text);
    free(ids);
    return 0;
}
FUZZ_TARGET(fuzz_tok_decode_one)
