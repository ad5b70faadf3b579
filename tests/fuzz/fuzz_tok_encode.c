/* Fuzz target: tok_encode on arbitrary bytes.  Invariants: invalid UTF-8 is refused with a message,
 * valid UTF-8 is encoded into ids of the vocabulary, and decode(encode(x)) == x for every valid x
 * without a literal ▁ (the decoder turns ▁ into a space); the streaming decoder agrees. */
#include "tests/fuzz/fuzz_tok.h"

#define ENC_TARGET "fuzz_tok_encode"

static int fuzz_tok_encode_one(const uint8_t *data, size_t n) {
    const tok_tokenizer *t = fuzz_tokenizer(ENC_TARGET);
    const char *text = (const char *)data;
    int32_t *ids = NULL;
    size_t nids = 0;
    char err[512] = "";
    int valid = fuzz_utf8_valid(data, n) == n;
    int rc = tok_encode(t, text, n, &ids, &nids, err, sizeof err);
    if (!valid) {
        if (rc == 0) fuzz_die(ENC_TARGET, "invalid UTF-8 was encoded");
        fuzz_check_err(ENC_TARGET, err, NULL);
        return 0;
    }
    if (rc < 0) fuzz_die(ENC_TARGET, "valid UTF-8 refused: %s", err);
    if (n && !nids) fuzz_die(ENC_TARGET, "%zu bytes encoded to no ids", n);
    for (size_t i = 0; i < nids; i++)
        if (ids[i] < 0 || ids[i] >= tok_vocab_size(t)) fuzz_die(ENC_TARGET, "id %d out of range", ids[i]);
    char *back;
    size_t blen;
    fuzz_decode_checked(ENC_TARGET, t, ids, nids, 0, &back, &blen);
    if (!fuzz_has(text, n, "\xE2\x96\x81") && (blen != n || memcmp(back, text, n)))
        fuzz_die(ENC_TARGET, "round trip changed the text (%zu bytes in, %zu out)", n, blen);
    free(back);
    fuzz_decode_checked(ENC_TARGET, t, ids, nids, 1, &back, &blen);
    free(back);
    free(ids);
    return 0;
}
FUZZ_TARGET(fuzz_tok_encode_one)
