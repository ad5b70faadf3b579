/* Tokenizer against the Hugging Face vectors: encode ids, decode text and the streaming decoder's
 * chunks for both fixture tokenizers, plus the small accessors. */
#include "tests/tok_t.h"

static void vectors(const tok_tokenizer *t, const char *file, const char *tag) {
    size_t n;
    json_object **v = tt_jsonl(file, &n);
    for (size_t i = 0; i < n; i++) {
        size_t len, dlen, nref, nids = 0, glen = 0;
        const char *text = tt_str(v[i], "text", &len), *dec = tt_str(v[i], "decoded", &dlen);
        int32_t *ref = tt_ids(v[i], "ids", &nref), *ids = NULL;
        char name[96], err[256] = "", *got = NULL;
        snprintf(name, sizeof name, "%s vector %zu encode", tag, i);
        int rc = tok_encode(t, text, len, &ids, &nids, err, sizeof err);
        long d = rc ? 0 : tt_diff(ids, nids, ref, nref);
        T_CHECK(!rc && d < 0, name, "%s; first difference at id %ld (got %d, want %d) of %zu", err, d,
                !rc && (size_t)d < nids ? ids[d] : -1, (size_t)d < nref ? ref[d] : -1, nref);
        snprintf(name, sizeof name, "%s vector %zu decode", tag, i);
        rc = tok_decode(t, ref, nref, 0, &got, &glen, err, sizeof err);
        T_CHECK(!rc && glen == dlen && !memcmp(got, dec, dlen), name, "%s got '%.60s'", err, got ? got : "");
        free(ids);
        free(ref);
        free(got);
    }
    tt_jsonl_free(v);
}

/* Each id's emitted chunk equals DecodeStream's (null = nothing); each prefix decodes like HF's;
 * the chunks plus the final flush make the whole decode.  Where HF itself emitted text that the
 * full decode later turns into U+FFFDs (a byte run joined across an emission), the flush holds
 * the decode of the ids after the last emission instead. */
static void streams(const tok_tokenizer *g, const tok_tokenizer *tiny) {
    size_t n;
    json_object **v = tt_jsonl("decode-stream.jsonl", &n);
    for (size_t i = 0; i < n; i++) {
        size_t tl, nids, dlen;
        const tok_tokenizer *t = !strcmp(tt_str(v[i], "tokenizer", &tl), "tiny") ? tiny : g;
        int32_t *ids = tt_ids(v[i], "ids", &nids);
        const char *decoded = tt_str(v[i], "decoded", &dlen);
        json_object *stream, *prefixes;
        json_object_object_get_ex(v[i], "stream", &stream);
        json_object_object_get_ex(v[i], "prefix_decoded", &prefixes);
        tok_stream *s;
        tok_stream_create(&s, t, 0);
        int chunks_ok = 1, prefix_ok = 1;
        char all[8192], want_all[8192], why[256] = "";
        size_t at = 0, want_at = 0, last = 0;
        for (size_t k = 0; k < nids; k++) {
            size_t len, plen, glen;
            const char *got = tok_stream_push(s, ids[k], &len);
            json_object *want = json_object_array_get_idx(stream, k), *pre = json_object_array_get_idx(prefixes, k);
            const char *w = want ? json_object_get_string(want) : "";
            size_t wl = want ? (size_t)json_object_get_string_len(want) : 0;
            if (chunks_ok && (!got || len != wl || memcmp(got, w, wl))) {
                chunks_ok = 0;
                snprintf(why, sizeof why, "id %zu: got '%.40s' want '%.40s'", k, got ? got : "(null)", w);
            }
            if (got && at + len < sizeof all) memcpy(all + at, got, len), at += len;
            if (want && want_at + wl < sizeof want_all) memcpy(want_all + want_at, w, wl), want_at += wl, last = k + 1;
            char *full, err[128];
            plen = (size_t)json_object_get_string_len(pre);
            if (tok_decode(t, ids, k + 1, 0, &full, &glen, err, sizeof err) || glen != plen ||
                memcmp(full, json_object_get_string(pre), plen))
                prefix_ok = 0;
            free(full);
        }
        size_t len;
        const char *rest = tok_stream_flush(s, &len);
        if (rest && at + len < sizeof all) memcpy(all + at, rest, len), at += len;
        if (want_at > dlen || memcmp(want_all, decoded, want_at)) {
            char *tail, err[128];
            size_t tlen;
            if (!tok_decode(t, ids + last, nids - last, 0, &tail, &tlen, err, sizeof err)) {
                if (want_at + tlen < sizeof want_all) memcpy(want_all + want_at, tail, tlen), want_at += tlen;
                free(tail);
            }
            decoded = want_all;
            dlen = want_at;
        }
        char name[96];
        snprintf(name, sizeof name, "stream %zu chunks", i);
        T_CHECK(chunks_ok, name, "%s", why);
        snprintf(name, sizeof name, "stream %zu prefix decodes", i);
        T_CHECK(prefix_ok, name, "a prefix decode differs");
        snprintf(name, sizeof name, "stream %zu chunks+flush = decoded", i);
        T_CHECK(at == dlen && !memcmp(all, decoded, dlen), name, "got %zu bytes, want %zu", at, dlen);
        tok_stream_free(s);
        free(ids);
    }
    tt_jsonl_free(v);
}

static void accessors(const tok_tokenizer *g) {
    size_t len = 0;
    const char *p = tok_piece(g, 106, &len);
    T_CHECK(tok_vocab_size(g) == 262144, "vocab size 262144", "got %d", tok_vocab_size(g));
    T_CHECK(p && len == 7 && !strcmp(p, "<turn|>"), "piece 106 is <turn|>", "got '%s'", p ? p : "(null)");
    T_CHECK(tok_id(g, "<|turn>") == 105 && tok_id(g, "\xE2\x96\x81") == 236743 && tok_id(g, "<0x41>") == 238 + 0x41,
            "tok_id of a special, ▁ and a byte token", "got %d %d %d", tok_id(g, "<|turn>"), tok_id(g, "\xE2\x96\x81"),
            tok_id(g, "<0x41>"));
    T_CHECK(tok_id(g, "no such piece!") == -1, "tok_id of an unknown piece is -1", "got %d", tok_id(g, "no such piece!"));
    T_CHECK(tok_is_special(g, 1) && tok_is_special(g, 258884) && !tok_is_special(g, 107) && !tok_is_special(g, 6) &&
                !tok_is_special(g, -1) && !tok_is_special(g, 262144),
            "special flags", "wrong flag");
    T_CHECK(!tok_piece(g, -1, &len) && !tok_piece(g, 262144, &len), "piece out of range is NULL", "not NULL");

    int32_t ids[] = {2, 9259, 106, 238 + 0xE2, 1, 238 + 0x82, 238 + 0xAC};
    char *text, err[256];
    int rc = tok_decode(g, ids, 7, 1, &text, &len, err, sizeof err);
    T_CHECK(!rc && !strcmp(text, "Hello\xE2\x82\xAC"), "skip_special drops specials and joins the byte run", "got '%s'",
            rc ? err : text);
    if (!rc) free(text);
    rc = tok_decode(g, ids, 7, 0, &text, &len, err, sizeof err);
    T_CHECK(!rc && !strcmp(text, "<bos>Hello<turn|>\xEF\xBF\xBD<eos>\xEF\xBF\xBD\xEF\xBF\xBD"),
            "specials shown; a special cuts a byte run", "got '%s'", rc ? err : text);
    if (!rc) free(text);
    int32_t bad[] = {5, 262144};
    rc = tok_decode(g, bad, 2, 0, &text, &len, err, sizeof err);
    T_CHECK(rc < 0 && strstr(err, "262144"), "decode refuses an out-of-range id", "rc %d: %s", rc, err);

    int32_t *out;
    size_t n;
    rc = tok_encode(g, "ok\xC3(", 4, &out, &n, err, sizeof err);
    T_CHECK(rc < 0 && strstr(err, "UTF-8") && strstr(err, "byte 2"), "encode refuses invalid UTF-8", "rc %d: %s", rc, err);
    rc = tok_encode(g, "", 0, &out, &n, err, sizeof err);
    T_CHECK(!rc && n == 0 && out, "empty text encodes to []", "rc %d n %zu", rc, n);
    free(out);
}

int main(void) {
    tok_tokenizer *g = tt_load("gemma4/tokenizer.json"), *tiny = tt_load("tiny-4096/tokenizer.json");
    vectors(g, "vectors-gemma4.jsonl", "gemma4");
    vectors(tiny, "vectors-tiny.jsonl", "tiny");
    streams(g, tiny);
    accessors(g);
    tok_free(g);
    tok_free(tiny);
    return t_exit();
}
