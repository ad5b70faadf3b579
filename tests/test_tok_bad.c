/* tokenizer.json edge cases on small synthetic files: malformed files are refused with a message
 * naming the file and the problem (never a crash, even for every truncation and random damage),
 * and the supported variations (legacy merges, merges before vocab, a Split pre-tokenizer, regex
 * metacharacters in added tokens, ids beyond the vocab) encode as Hugging Face would. */
#include <sys/stat.h>
#include <unistd.h>
#include "tests/tok_t.h"

static char dir[64], path[128];

/* The parts of a synthetic tokenizer.json; NULL means the default below. */
typedef struct {
    const char *top, *added, *norm, *pre, *dec, *opts, *vocab, *merges, *bf;
    int merges_first, skip_byte;   /* skip_byte: rename that byte token */
} spec;

#define ADDED_DEF "[{\"id\":2,\"content\":\"<bos>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false," \
                  "\"normalized\":false,\"special\":true},{\"id\":265,\"content\":\"<t>\",\"special\":true}]"

/* vocab: 0-3 <pad> <eos> <bos> <unk>, 4-259 <0x00>..<0xFF>, 260 ▁, 261 a, 262 b, 263 ab, 264 ▁ab, 265 <t> */
static char *build(const spec *s) {
    static char buf[1 << 16];
    char vocab[16384];
    int n = snprintf(vocab, sizeof vocab, "{\"<pad>\":0,\"<eos>\":1,\"<bos>\":2,\"<unk>\":3");
    for (int b = 0; b < 256; b++)
        n += snprintf(vocab + n, sizeof vocab - (size_t)n, ",\"<0x%02X>\":%d", b, 4 + b);
    if (s->skip_byte) {
        char *p = strstr(vocab, "<0x41>");
        p[4] = 'l';   /* "<0x4l>": an ordinary piece now */
    }
    snprintf(vocab + n, sizeof vocab - (size_t)n, ",\"\xE2\x96\x81\":260,\"a\":261,\"b\":262,\"ab\":263,\"\xE2\x96\x81" "ab\":264,"
                                                  "\"<t>\":265%s}", s->vocab ? s->vocab : "");
    const char *merges = s->merges ? s->merges : "[[\"a\",\"b\"],[\"\xE2\x96\x81\",\"ab\"]]";
    static char model[1 << 15];
    int m = snprintf(model, sizeof model, "{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"fuse_unk\":true,%s"
             "\"byte_fallback\":%s,\"ignore_merges\":false,\"%s\":%s,\"%s\":%s}", s->opts ? s->opts : "", s->bf ? s->bf : "true",
             s->merges_first ? "merges" : "vocab", s->merges_first ? merges : vocab, s->merges_first ? "vocab" : "merges",
             s->merges_first ? vocab : merges);
    if (m < 0 || m >= (int)sizeof model) abort();   /* the fixed buffers are ample for these tests */
    snprintf(buf, sizeof buf,
             s->top ? s->top
                    : "{\"version\":\"1.0\",\"added_tokens\":%s,\"normalizer\":%s,\"pre_tokenizer\":%s,"
                      "\"post_processor\":null,\"decoder\":%s,\"model\":%s}",
             s->added ? s->added : ADDED_DEF,
             s->norm ? s->norm : "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\xE2\x96\x81\"}",
             s->pre ? s->pre : "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"MergedWithPrevious\",\"invert\":false}",
             s->dec ? s->dec
                    : "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\xE2\x96\x81\"},"
                      "\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}]}",
             model);
    return buf;
}

static void write_file(const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(text, 1, n, f);
        fclose(f);
    }
}

/* Loads text; returns the tokenizer or NULL with the message in err. */
static tok_tokenizer *load_text(const char *text, size_t n, char *err, size_t errlen) {
    write_file(text, n);
    tok_tokenizer *t = NULL;
    err[0] = 0;
    if (tok_load(&t, path, err, errlen)) return NULL;
    return t;
}

static void refused(const char *name, const spec *s, const char *phrase) {
    char err[512];
    const char *text = build(s);
    tok_tokenizer *t = load_text(text, strlen(text), err, sizeof err);
    T_CHECK(!t && strstr(err, path) && strstr(err, phrase), name, "%s", t ? "loaded" : err);
    tok_free(t);
}

static void malformed(void) {
    refused("wrong type: vocab is an array", &(spec){.opts = "\"vocab\":[],"}, "expected the vocab object");
    refused("vocab twice", &(spec){.opts = "\"vocab\":{},"}, "\"vocab\" appears twice");
    refused("wrong type: a vocab id is a string", &(spec){.vocab = ",\"zz\":\"7\""}, "expected an integer");
    refused("wrong type: a vocab id is a fraction", &(spec){.vocab = ",\"zz\":266.5"}, "fraction");
    refused("wrong type: merges is an object", &(spec){.merges = "{}"}, "expected the merges array");
    refused("wrong type: a merge is a number", &(spec){.merges = "[7]"}, "merge 0");
    refused("wrong type: added_tokens is an object", &(spec){.added = "{}"}, "not an array");
    refused("wrong type: added token id is a string", &(spec){.added = "[{\"id\":\"2\",\"content\":\"<bos>\"}]"}, "integer \"id\"");
    refused("wrong type: model is an array", &(spec){.top = "{\"model\":[]}"}, "\"model\" is not an object");
    refused("wrong type: top level is an array", &(spec){.top = "[{\"model\":{}}]"}, "top level");
    refused("merge naming an unknown token", &(spec){.merges = "[[\"a\",\"zz\"]]"}, "right part is not in the vocab");
    refused("legacy merge naming an unknown token", &(spec){.merges = "[\"zz b\"]"}, "left part is not in the vocab");
    refused("merge whose result is not in the vocab", &(spec){.merges = "[[\"b\",\"a\"]]"}, "merged piece is not in the vocab");
    refused("legacy merge without one space", &(spec){.merges = "[\"a b c\"]"}, "separated by one space");
    refused("merge with three parts", &(spec){.merges = "[[\"a\",\"b\",\"c\"]]"}, "']' after the two parts");
    refused("duplicate id", &(spec){.vocab = ",\"zz\":261"}, "id 261 is given to both");
    refused("duplicate piece", &(spec){.vocab = ",\"a\":266"}, "piece 'a' appears twice");
    refused("negative id", &(spec){.vocab = ",\"zz\":-1"}, "out of range");
    refused("ids with a hole", &(spec){.vocab = ",\"zz\":300"}, "not contiguous");
    refused("missing byte-fallback token", &(spec){.skip_byte = 1}, "byte-fallback token <0x41> is missing");
    refused("missing model", &(spec){.top = "{\"version\":\"1.0\"}"}, "no \"model\" section");
    refused("model without vocab", &(spec){.top = "{\"model\":{\"type\":\"BPE\",\"merges\":[]}}"}, "has no \"vocab\"");
    refused("model without merges", &(spec){.top = "{\"model\":{\"byte_fallback\":true,\"vocab\":{\"a\":0}}}"}, "has no \"merges\"");
    refused("model twice", &(spec){.top = "{\"model\":{\"vocab\":{},\"merges\":[],\"byte_fallback\":true},\"model\":{}}"},
            "\"model\" appears twice");
    refused("section twice", &(spec){.top = "{\"decoder\":null,\"decoder\":null,\"model\":{}}"}, "\"decoder\" appears twice");
    refused("no decoder", &(spec){.top = "{\"model\":{\"byte_fallback\":true,\"vocab\":{\"a\":0},\"merges\":[]}}"}, "no \"decoder\"");
    refused("byte_fallback false", &(spec){.bf = "false"}, "byte_fallback must be true");
    refused("byte_fallback not a boolean", &(spec){.bf = "1"}, "byte_fallback is not a boolean");
    refused("model type WordPiece", &(spec){.opts = "\"type\":\"WordPiece\","}, "only BPE");
    refused("dropout", &(spec){.opts = "\"dropout\":0.1,"}, "dropout");
    refused("ignore_merges true", &(spec){.opts = "\"ignore_merges\":true,"}, "ignore_merges");
    refused("continuing_subword_prefix", &(spec){.opts = "\"continuing_subword_prefix\":\"##\","}, "continuing_subword_prefix");
    refused("unknown normalizer", &(spec){.norm = "{\"type\":\"NFC\"}"}, "normalizer type 'NFC' is not supported");
    refused("regex normalizer", &(spec){.norm = "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" +\"},\"content\":\"x\"}"},
            "regex patterns are not supported");
    refused("unknown pre-tokenizer", &(spec){.pre = "{\"type\":\"ByteLevel\"}"}, "pre_tokenizer 'ByteLevel' is not supported");
    refused("unknown decoder", &(spec){.dec = "{\"type\":\"Metaspace\"}"}, "decoder type 'Metaspace' is not supported");
    refused("decoder Replace after ByteFallback",
            &(spec){.dec = "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"},{\"type\":\"Replace\","
                           "\"pattern\":{\"String\":\"x\"},\"content\":\"y\"}]}"},
            "Replace after ByteFallback");
    refused("added token with lstrip", &(spec){.added = "[{\"id\":265,\"content\":\"<t>\",\"special\":true,\"lstrip\":true}]"},
            "lstrip");
    refused("added token listed twice",
            &(spec){.added = "[{\"id\":265,\"content\":\"<t>\",\"special\":true},{\"id\":2,\"content\":\"<t>\",\"special\":true}]"},
            "listed twice");
    refused("added token with empty content", &(spec){.added = "[{\"id\":265,\"content\":\"\",\"special\":true}]"}, "empty");
    refused("invalid UTF-8 in a piece", &(spec){.vocab = ",\"\xC3(\":266"}, "invalid UTF-8");
    refused("lone surrogate escape", &(spec){.vocab = ",\"\\ud800x\":266"}, "lone high surrogate");
    refused("raw control character", &(spec){.vocab = ",\"a\nb\":266"}, "raw control character");
    refused("trailing data", &(spec){.top = "{\"model\":{}} x"}, "\"model\" has no \"vocab\"");
    refused("unterminated string", &(spec){.top = "{\"model\":{\"vocab\":{\"abc"}, "truncated");
    refused("missing colon", &(spec){.top = "{\"model\" {}}"}, "expected ':'");
    refused("trailing comma", &(spec){.vocab = ",\"zz\":266,"}, "expected a string");

    char err[512];
    tok_tokenizer *t = NULL;
    int rc = tok_load(&t, "/nonexistent/tokenizer.json", err, sizeof err);
    T_CHECK(rc < 0 && strstr(err, "/nonexistent/tokenizer.json"), "missing file", "%s", err);
    rc = tok_load(&t, dir, err, sizeof err);
    T_CHECK(rc < 0 && strstr(err, "not a regular file"), "a directory", "%s", err);
    t = load_text("", 0, err, sizeof err);
    T_CHECK(!t && strstr(err, "empty file"), "empty file", "%s", err);
}

/* Deep nesting is refused at a fixed depth without recursion, so 4 MB of '[' fail fast. */
static void deep(void) {
    size_t n = 4 << 20;
    char *s = malloc(n + 64), err[512];
    static const char *const heads[] = {"{\"extra\":", "{\"model\":{\"foo\":", "{\"added_tokens\":", ""};
    for (int h = 0; h < 4; h++) {
        size_t k = (size_t)sprintf(s, "%s", heads[h]);
        memset(s + k, '[', n - k);
        double t0 = tt_now();
        tok_tokenizer *t = load_text(s, n, err, sizeof err);
        double dt = tt_now() - t0;
        char name[64];
        snprintf(name, sizeof name, "4 MB of '[' (case %d) refused fast", h);
        T_CHECK(!t && strstr(err, path) && (strstr(err, "nested deeper") || strstr(err, "top level")) && dt < 2, name,
                "%s (%.2f s)", err, dt);
        tok_free(t);
    }
    free(s);
}

/* Every truncation and 3000 random byte changes of a valid file: loads or a message, no crash. */
static void damaged(void) {
    char err[512], *text = strdup(build(&(spec){0}));
    size_t n = strlen(text);
    int ok = 1;
    for (size_t cut = 0; cut < n && ok; cut += 3) {
        tok_tokenizer *t = load_text(text, cut, err, sizeof err);
        if (t || !strstr(err, path)) ok = 0;
        tok_free(t);
    }
    T_CHECK(ok, "every truncation is refused with the file name", "%s", err);
    uint64_t r = 88172645463325252ull;
    int loaded = 0, refusedn = 0;
    ok = 1;
    for (int i = 0; i < 3000 && ok; i++) {
        char *d = strdup(text);
        for (int k = 0; k < 1 + i % 3; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            d[r % n] = (char)(r >> 40);
        }
        tok_tokenizer *t = load_text(d, n, err, sizeof err);
        if (t) loaded++;
        else if (strstr(err, path)) refusedn++;
        else ok = 0;
        if (t) {   /* whatever loaded must still encode and decode without harm */
            int32_t *ids;
            size_t nids, len;
            char *back;
            if (!tok_encode(t, "ab ab<t>x\xC3\xA9", 11, &ids, &nids, err, sizeof err)) {
                if (!tok_decode(t, ids, nids, 0, &back, &len, err, sizeof err)) free(back);
                free(ids);
            }
        }
        tok_free(t);
        free(d);
    }
    T_CHECK(ok && refusedn > 1000, "3000 damaged files load or are refused with the file name", "%d loaded, %d refused: %s",
            loaded, refusedn, err);
    free(text);
}

static void expect_ids(const char *name, const spec *s, const char *in, const int32_t *want, size_t nwant) {
    char err[512];
    const char *text = build(s);
    tok_tokenizer *t = load_text(text, strlen(text), err, sizeof err);
    int32_t *ids = NULL;
    size_t n = 0;
    char *back = NULL;
    size_t blen = 0;
    int rc = t ? tok_encode(t, in, strlen(in), &ids, &n, err, sizeof err) : -1;
    if (!rc) rc = tok_decode(t, ids, n, 0, &back, &blen, err, sizeof err);
    T_CHECK(!rc && tt_diff(ids, n, want, nwant) < 0 && blen == strlen(in) && !memcmp(back, in, blen), name,
            "%s n=%zu first=%d", err, n, n ? ids[0] : -1);
    free(ids);
    free(back);
    tok_free(t);
}

static void variations(void) {
    expect_ids("array merges", &(spec){0}, "ab ab", (int32_t[]){263, 264}, 2);
    expect_ids("legacy string merges", &(spec){.merges = "[\"a b\",\"\xE2\x96\x81 ab\"]"}, "ab ab", (int32_t[]){263, 264}, 2);
    expect_ids("merges before vocab", &(spec){.merges_first = 1}, "ab ab", (int32_t[]){263, 264}, 2);
    expect_ids("added token inside text, byte fallback", &(spec){0}, "x<t>ab", (int32_t[]){4 + 'x', 265, 263}, 3);
    expect_ids("no normalizer: Split cuts after each space", &(spec){.norm = "null"}, "ab ab",
               (int32_t[]){263, 4 + ' ', 263}, 3);
    expect_ids("regex metacharacters and \\E in an added token",
               &(spec){.added = "[{\"id\":265,\"content\":\"<\\\\E.*|(>\",\"special\":true}]", .vocab = ",\"<\\\\E.*|(>\":266"},
               "a<\\E.*|(>b<\\E.x|(>", (int32_t[]){261, 265, 262, 4 + '<', 4 + '\\', 4 + 'E', 4 + '.', 4 + 'x', 4 + '|', 4 + '(', 4 + '>'},
               11);

    char err[512];
    const char *text = build(&(spec){.added = "[{\"id\":266,\"content\":\"<new>\",\"special\":false,\"normalized\":false}]"});
    tok_tokenizer *t = load_text(text, strlen(text), err, sizeof err);
    int32_t *ids = NULL;
    size_t n = 0, len = 0;
    int rc = t ? tok_encode(t, "<new><t>", 8, &ids, &n, err, sizeof err) : -1;
    T_CHECK(!rc && tok_vocab_size(t) == 267 && n == 4 && ids[0] == 266 && !tok_is_special(t, 266) &&
                !strcmp(tok_piece(t, 266, &len), "<new>") && tok_id(t, "<new>") == 266,
            "a non-special added token past the vocab", "%s", err);
    free(ids);
    tok_free(t);

    text = build(&(spec){.dec = "{\"type\":\"Fuse\"}"});
    t = load_text(text, strlen(text), err, sizeof err);
    char *back = NULL;
    rc = t ? tok_decode(t, (int32_t[]){4 + 'A', 264}, 2, 0, &back, &len, err, sizeof err) : -1;
    T_CHECK(!rc && !strcmp(back, "<0x41>\xE2\x96\x81" "ab"), "a decoder without ByteFallback or Replace", "%s", rc ? err : back);
    free(back);
    tok_free(t);
}

int main(void) {
    /* tmpfs when there is one: thousands of rewrites of one file are slow on a journaling disk */
    snprintf(dir, sizeof dir, "%s/tok_bad_XXXXXX", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    malformed();
    deep();
    damaged();
    variations();
    unlink(path);
    rmdir(dir);
    return t_exit();
}
