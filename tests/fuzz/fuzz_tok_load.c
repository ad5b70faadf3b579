/* Fuzz target: tok_load on arbitrary tokenizer.json bytes (small files: the seeds are a 300-piece
 * tokenizer).  Invariants: a failure names the file; a loaded tokenizer has a piece for every id, and
 * encoding a fixed text plus the input's own valid UTF-8 prefix gives ids that decode and stream
 * cleanly. */
#include "tests/fuzz/fuzz_tok.h"

#define LOAD_TARGET "fuzz_tok_load"

static void load_exercise(const tok_tokenizer *t, const char *text, size_t n) {
    int32_t *ids = NULL;
    size_t nids = 0, len;
    char err[512] = "", *back;
    if (tok_encode(t, text, n, &ids, &nids, err, sizeof err) < 0) fuzz_die(LOAD_TARGET, "encode failed: %s", err);
    for (size_t i = 0; i < nids; i++)
        if (ids[i] < 0 || ids[i] >= tok_vocab_size(t)) fuzz_die(LOAD_TARGET, "id %d out of range", ids[i]);
    fuzz_decode_checked(LOAD_TARGET, t, ids, nids, 0, &back, &len);
    free(back);
    free(ids);
}

static int fuzz_tok_load_one(const uint8_t *data, size_t n) {
    static fuzz_file f = {-1, ""};
    static const char sample[] = "the and a\n\nthe  end. \xC3\xA9\xE4\xB8\xAD <|turn>x<turn|><eos> \xF0\x9F\x98\x80";
    char err[1024] = "";
    tok_tokenizer *t = NULL;
    if (f.fd < 0 && fuzz_file_open(&f) < 0) fuzz_die(LOAD_TARGET, "memfd_create failed");
    if (fuzz_file_set(&f, data, n) < 0) fuzz_die(LOAD_TARGET, "cannot write the memfd");
    if (tok_load(&t, f.path, err, sizeof err) < 0) {
        if (t) fuzz_die(LOAD_TARGET, "failed but returned a tokenizer");
        fuzz_check_err(LOAD_TARGET, err, f.path);
        return 0;
    }
    int vocab = tok_vocab_size(t);
    if (vocab < 256) fuzz_die(LOAD_TARGET, "%d ids cannot hold the 256 byte tokens", vocab);
    for (int id = 0; id < vocab; id++) {
        size_t len = 0;
        const char *p = tok_piece(t, id, &len);
        if (!p || fuzz_utf8_valid((const uint8_t *)p, len) != len) fuzz_die(LOAD_TARGET, "piece %d missing or not UTF-8", id);
    }
    if (tok_piece(t, vocab, NULL) || tok_piece(t, -1, NULL)) fuzz_die(LOAD_TARGET, "a piece outside the vocabulary");
    load_exercise(t, sample, sizeof sample - 1);
    size_t prefix = fuzz_utf8_valid(data, n < 256 ? n : 256);
    load_exercise(t, (const char *)data, prefix);
    tok_free(t);
    return 0;
}
FUZZ_TARGET(fuzz_tok_load_one)
