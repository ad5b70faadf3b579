/* Tokenizer properties on both fixture tokenizers: decode(encode(x)) == x for random and adversarial
 * valid UTF-8 without a literal ▁ (the reference guarantees it there), specials glued to text, random
 * bytes (refused exactly when not UTF-8, never a crash), long single words in n log n time, and
 * streaming chunks adding up to the full decode.  Also prints load/encode/decode speeds. */
#include "tests/tok_t.h"

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint32_t rnd(uint32_t n) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33) % n;
}

static size_t put_cp(char *o, uint32_t cp) {
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 63)), 2;
    if (cp < 0x10000)
        return o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | (cp >> 6 & 63)), o[2] = (char)(0x80 | (cp & 63)), 3;
    o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | (cp >> 12 & 63)), o[2] = (char)(0x80 | (cp >> 6 & 63));
    o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* A reference UTF-8 check written independently of the tokenizer's: decode, then reject overlong
 * forms, surrogates and values above U+10FFFF. */
static int utf8_ok(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n) return 0;
        uint32_t cp = k == 1 ? c : c & (0x7F >> k);
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || (cp >= 0xD800 && cp < 0xE000) || cp > 0x10FFFF) return 0;
        i += k;
    }
    return 1;
}

static const char *const atoms[] = {"a", "Z", "7", " ", "  ", "   ", "\n", "\n\n", "\t", "\r\n", ".", "<", ">", "|",
                                    "é", "e\xCC\x81", "ß", "日本", "語", "한", "😀", "👍🏽", "\xE2\x80\x8D", "\xC2\xA0",
                                    "\xE3\x80\x80", "𐀀", "\xEE\x80\x80", "\xF4\x8F\xBF\xBF", "\0", "<|turn>", "<turn|>",
                                    "<bos>", "<turn", "|>", "<|channel>", "<0x41>", "<unused5>", "the", " the", "ing"};

/* Random valid UTF-8 without U+2581: atoms and random scalar values. */
static size_t random_text(char *o, size_t max) {
    size_t n = 0, parts = rnd(40);
    for (size_t i = 0; i < parts && n + 64 < max; i++) {
        if (rnd(3)) {
            const char *a = atoms[rnd(sizeof atoms / sizeof atoms[0])];
            size_t l = a[0] ? strlen(a) : 1;
            memcpy(o + n, a, l);
            n += l;
        } else {
            static const uint32_t top[] = {0x80, 0x800, 0x10000, 0x110000};
            uint32_t cp;
            do cp = rnd(top[rnd(4)]);
            while ((cp >= 0xD800 && cp < 0xE000) || cp == 0x2581);
            n += put_cp(o + n, cp);
        }
    }
    return n;
}

static int roundtrip(const tok_tokenizer *t, const char *s, size_t n, char *why, size_t wl) {
    int32_t *ids;
    size_t nids, len;
    char *back, err[256];
    if (tok_encode(t, s, n, &ids, &nids, err, sizeof err)) return snprintf(why, wl, "encode: %.200s", err), 0;
    int rc = tok_decode(t, ids, nids, 0, &back, &len, err, sizeof err);
    free(ids);
    if (rc) return snprintf(why, wl, "decode: %.200s", err), 0;
    int ok = len == n && !memcmp(back, s, n);
    if (!ok) snprintf(why, wl, "decoded %zu bytes, want %zu", len, n);
    free(back);
    return ok;
}

static void random_roundtrips(const tok_tokenizer *t, const char *tag) {
    char buf[4096], why[256] = "", name[96];
    int ok = 1;
    for (int i = 0; i < 400 && ok; i++) {
        size_t n = random_text(buf, sizeof buf);
        ok = roundtrip(t, buf, n, why, sizeof why);
    }
    snprintf(name, sizeof name, "%s: 400 random texts round-trip", tag);
    T_CHECK(ok, name, "%s", why);
}

static void long_runs(const tok_tokenizer *t, const char *tag) {
    static const char *const unit[] = {"a", " ", "\n", "😀", "ab", "日", " x", "\xF0\x90\x80\x80", "\xC2\xA0", "<"};
    static const char *const label[] = {"a", "space", "newline", "emoji", "ab", "CJK", "space-x", "Linear B", "NBSP", "<"};
    size_t cap = 200000;
    char *buf = malloc(cap + 8), name[96], why[256] = "";
    for (size_t u = 0; u < sizeof unit / sizeof unit[0]; u++) {
        size_t n = 0, l = strlen(unit[u]);
        while (n + l <= cap) memcpy(buf + n, unit[u], l), n += l;
        double t0 = tt_now();
        int ok = roundtrip(t, buf, n, why, sizeof why);
        double dt = tt_now() - t0;
        /* one 200 KB word: n log n takes milliseconds, a quadratic merge loop would take minutes */
        snprintf(name, sizeof name, "%s: 200 KB run of '%s' round-trips in time", tag, label[u]);
        T_CHECK(ok && dt < 5.0, name, "%s, %.2f s", why, dt);
    }
    free(buf);
}

/* 70 000 distinct words (more than the encoder memoizes) and many repeats: the whole text encodes
 * exactly as its words do one by one, each in a fresh call. */
static void many_words(const tok_tokenizer *t, const char *tag) {
    size_t cap = 70000 * 12 + 64, n = 0, nall, k = 0;
    char *buf = malloc(cap), name[96], err[128] = "";
    int32_t *all = NULL;
    for (uint32_t i = 0; i < 70000; i++) n += (size_t)sprintf(buf + n, " w%u%s", i % 3 ? i : i % 1000, i % 7 ? "" : ".");
    int ok = !tok_encode(t, buf, n, &all, &nall, err, sizeof err);
    for (size_t at = 0; ok && at < n;) {
        size_t end = at + 1;
        while (end < n && buf[end] != ' ') end++;
        int32_t *ids;
        size_t m;
        ok = !tok_encode(t, buf + at, end - at, &ids, &m, err, sizeof err);
        if (ok) {
            ok = k + m <= nall && !memcmp(all + k, ids, m * sizeof *ids);
            free(ids);
        }
        k += m;
        at = end;
    }
    snprintf(name, sizeof name, "%s: 70000 distinct words encode as they do one by one", tag);
    T_CHECK(ok && k == nall, name, "%s at id %zu of %zu", err, k, nall);
    free(all);
    free(buf);
}

static void specials_glued(const tok_tokenizer *t, const char *tag) {
    static const char *const around[] = {"x", "é", "😀", " ", "\n", "<", "|>", ""};
    int ok = 1, count = 0;
    char why[256] = "", name[96];
    for (int id = 0; id < tok_vocab_size(t) && ok; id++) {
        if (!tok_is_special(t, id)) continue;
        count++;
        size_t plen;
        const char *p = tok_piece(t, id, &plen);
        for (size_t a = 0; a < 8 && ok; a++)
            for (size_t b = 0; b < 8 && ok; b++) {
                char s[256];
                int n = snprintf(s, sizeof s, "%s%s%s%s", around[a], p, p, around[b]);
                int32_t *ids;
                size_t nids, hits = 0;
                char err[128];
                if (tok_encode(t, s, (size_t)n, &ids, &nids, err, sizeof err)) {
                    snprintf(why, sizeof why, "%s", err);
                    ok = 0;
                    break;
                }
                for (size_t k = 0; k < nids; k++) hits += ids[k] == id;
                free(ids);
                if (hits != 2) snprintf(why, sizeof why, "'%.200s' gave %zu x id %d", s, hits, id), ok = 0;
                else ok = roundtrip(t, s, (size_t)n, why, sizeof why);
            }
    }
    snprintf(name, sizeof name, "%s: each of %d specials glued to text is matched and round-trips", tag, count);
    T_CHECK(ok && count > 0, name, "%s", why);
}

static void random_bytes(const tok_tokenizer *t, const char *tag) {
    int ok = 1, good = 0, bad = 0;
    char why[256] = "", name[96];
    for (int i = 0; i < 2000 && ok; i++) {
        unsigned char s[512];
        size_t n = rnd(64);
        for (size_t k = 0; k < n; k++) s[k] = (unsigned char)(rnd(4) ? rnd(0x80) : 0x80 + rnd(0x80));
        if (rnd(2)) {   /* mostly valid text with one flipped bit */
            n = random_text((char *)s, sizeof s);
            if (n) s[rnd((uint32_t)n)] ^= (unsigned char)(1 << rnd(8));
        }
        int32_t *ids;
        size_t nids;
        char err[128];
        int rc = tok_encode(t, (const char *)s, n, &ids, &nids, err, sizeof err);
        int valid = utf8_ok(s, n);
        if (!rc) free(ids);
        good += valid;
        bad += !valid;
        if ((rc == 0) != valid) ok = 0, snprintf(why, sizeof why, "case %d: rc %d for %s input", i, rc, valid ? "valid" : "invalid");
        else if (!rc && !memmem(s, n, "\xE2\x96\x81", 3)) ok = roundtrip(t, (const char *)s, n, why, sizeof why);
    }
    snprintf(name, sizeof name, "%s: random bytes refused exactly when not UTF-8 (%d valid, %d invalid)", tag, good, bad);
    T_CHECK(ok && good > 100 && bad > 100, name, "%s", why);
}

/* Random non-byte ids and complete UTF-8 characters as byte tokens: the streamed chunks plus the
 * flush equal the full decode, and no chunk ends inside a character. */
static void stream_sums(const tok_tokenizer *t, const char *tag) {
    int ok = 1;
    char why[256] = "", name[96];
    for (int c = 0; c < 200 && ok; c++) {
        int32_t ids[64];
        size_t n = 0;
        while (n < 60) {
            if (rnd(4)) {
                int32_t id = (int32_t)rnd((uint32_t)tok_vocab_size(t));
                if (id < 238 || id > 493) ids[n++] = id;
            } else {
                char u[4];
                size_t l = put_cp(u, 0xA0 + rnd(0x2000));
                for (size_t k = 0; k < l; k++) ids[n++] = tok_id(t, (char[]){'<', '0', 'x', "0123456789ABCDEF"[(u[k] >> 4) & 15],
                                                                             "0123456789ABCDEF"[u[k] & 15], '>', 0});
            }
        }
        tok_stream *s;
        tok_stream_create(&s, t, c & 1);
        char out[16384], *full, err[128];
        size_t at = 0, len, flen;
        for (size_t k = 0; k < n && ok; k++) {
            const char *p = tok_stream_push(s, ids[k], &len);
            if (!p || !utf8_ok((const unsigned char *)p, len)) ok = 0, snprintf(why, sizeof why, "bad chunk at %zu", k);
            else if (at + len < sizeof out) memcpy(out + at, p, len), at += len;
        }
        const char *p = tok_stream_flush(s, &len);
        if (p && at + len < sizeof out) memcpy(out + at, p, len), at += len;
        tok_stream_free(s);
        if (tok_decode(t, ids, n, c & 1, &full, &flen, err, sizeof err)) ok = 0, snprintf(why, sizeof why, "%s", err);
        else {
            if (ok && (flen != at || memcmp(full, out, at))) ok = 0, snprintf(why, sizeof why, "case %d differs", c);
            free(full);
        }
    }
    snprintf(name, sizeof name, "%s: 200 random streams add up to the full decode", tag);
    T_CHECK(ok, name, "%s", why);
}

static void speed(const tok_tokenizer *t) {
    size_t nv;
    json_object **v = tt_jsonl("vectors-gemma4.jsonl", &nv);
    size_t dl = 0, cap = 1 << 20, len = 0;
    const char *doc = "";
    for (size_t i = 0; i < nv; i++) {   /* the longest vector: a 20 KB English-like document */
        size_t l;
        const char *s = tt_str(v[i], "text", &l);
        if (l > dl) doc = s, dl = l;
    }
    char *buf = malloc(cap), err[128];
    while (dl && len + dl <= cap) memcpy(buf + len, doc, dl), len += dl;
    int32_t *ids;
    size_t n;
    int rc = 0;
    double t0 = tt_now();
    for (size_t at = 0; at < len && !rc; at += dl) {   /* one call per copy: nothing memoized across calls */
        rc = tok_encode(t, doc, dl, &ids, &n, err, sizeof err);
        if (!rc) free(ids);
    }
    double t1 = tt_now();
    T_CHECK(!rc && n > 0, "encode the 20 KB English document 50 times", "%s", err);
    rc = rc ? rc : tok_encode(t, buf, len, &ids, &n, err, sizeof err);
    T_CHECK(!rc && n > 0, "encode 1 MB of English in one call", "%s", err);
    if (!rc) {
        char *text;
        size_t tl;
        double t2 = tt_now();
        rc = tok_decode(t, ids, n, 0, &text, &tl, err, sizeof err);
        double t3 = tt_now();
        T_CHECK(!rc && tl == len && !memcmp(text, buf, len), "decode 1 MB of English back", "%s", err);
        printf("info: encode %.1f MB/s (English, 20 KB per call), decode %.0f MB/s (%.1f M tokens/s)\n",
               len / (t1 - t0) / 1e6, len / (t3 - t2) / 1e6,
               n / (t3 - t2) / 1e6);
        if (!rc) free(text);
        free(ids);
    }
    free(buf);
    tt_jsonl_free(v);
}

int main(void) {
    tok_tokenizer *g = tt_load("gemma4/tokenizer.json"), *tiny = tt_load("tiny-4096/tokenizer.json");
    const struct { const tok_tokenizer *t; const char *tag; } all[] = {{g, "gemma4"}, {tiny, "tiny"}};
    for (int i = 0; i < 2; i++) {
        random_roundtrips(all[i].t, all[i].tag);
        long_runs(all[i].t, all[i].tag);
        many_words(all[i].t, all[i].tag);
        specials_glued(all[i].t, all[i].tag);
        random_bytes(all[i].t, all[i].tag);
        stream_sums(all[i].t, all[i].tag);
    }
    speed(g);
    tok_free(g);
    tok_free(tiny);
    return t_exit();
}
