/* The tokenizer of a synthetic checkpoint: a valid BPE tokenizer.json in the Gemma 4 layout (spec
 * tokenizer-and-chat.md §1-§2) with the 24 special tokens and the byte tokens at their real ids, but a
 * made-up vocabulary: single ASCII characters, then every pair of them, then lowercase words of 3 and 4
 * letters, each built by one merge (prefix + last character), and <unusedN> pieces where the real
 * vocabulary has them.  Any text encodes (byte fallback) and decodes back. */
#include "model/synth_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIECE 96                 /* longest piece: 31 x U+2581 (93 bytes) + NUL */
#define FIRST_BYTE 238           /* <0x00>..<0xFF> at 238..493 */
#define FIRST_SINGLE 494
#define MEDIA_START 255999       /* from here on: media specials and <unusedN> */

static const struct { int id; const char *text; } specials[] = {
    {0, "<pad>"}, {1, "<eos>"}, {2, "<bos>"}, {3, "<unk>"}, {4, "<mask>"}, {46, "<|tool>"}, {47, "<tool|>"},
    {48, "<|tool_call>"}, {49, "<tool_call|>"}, {50, "<|tool_response>"}, {51, "<tool_response|>"}, {52, "<|\"|>"},
    {98, "<|think|>"}, {100, "<|channel>"}, {101, "<channel|>"}, {105, "<|turn>"}, {106, "<turn|>"},
    {255999, "<|image>"}, {256000, "<|audio>"}, {258880, "<|image|>"}, {258881, "<|audio|>"}, {258882, "<image|>"},
    {258883, "<audio|>"}, {258884, "<|video|>"},
};
#define NSPECIAL (sizeof specials / sizeof specials[0])

static const char LOW[] = "\xe2\x96\x81";   /* U+2581, which stands for a space */

typedef struct {
    char (*piece)[PIECE];
    unsigned char *split;        /* byte length of the merge's left part; 0 = not built by a merge */
    int vocab, next, unused;
} vocab_builder;

static int put(vocab_builder *b, const char *left, const char *right) {
    if (b->next >= b->vocab) return -1;
    snprintf(b->piece[b->next], PIECE, "%s%s", left, right);
    b->split[b->next] = right[0] ? (unsigned char)strlen(left) : 0;
    b->next++;
    return 0;
}

static void put_unused(vocab_builder *b) {
    char u[PIECE];
    snprintf(u, sizeof u, "<unused%d>", b->unused++);
    put(b, u, "");
}

/* Fills ids [b->next, end) with <unusedN>, leaving the special ids to their tokens. */
static void fill_unused(vocab_builder *b, int end, char (*special)[PIECE]) {
    while (b->next < end && b->next < b->vocab) {
        if (special[b->next][0]) put(b, special[b->next], "");
        else put_unused(b);
    }
}

/* The single characters: U+2581, tab and printable ASCII. */
static int singles(char (*out)[4]) {
    int n = 0;
    snprintf(out[n++], 4, "%s", LOW);
    snprintf(out[n++], 4, "\t");
    for (int c = 0x21; c < 0x7f; c++) snprintf(out[n++], 4, "%c", c);
    return n;
}

static int is_word_char(const char *s) { return !strcmp(s, LOW) || (s[0] >= 'a' && s[0] <= 'z' && !s[1]); }

static void build(vocab_builder *b, char (*special)[PIECE]) {
    b->next = 0;
    b->unused = 0;
    put(b, special[0], "");
    for (int id = 1; id < 5; id++) put(b, special[id], "");
    put(b, "[multimodal]", "");
    fill_unused(b, 107, special);
    char run[PIECE] = "";
    for (int k = 1; k <= 31; k++) put(b, run, "\n"), strcat(run, "\n");   /* 107..137: 1..31 newlines */
    snprintf(run, sizeof run, "%s", LOW);
    for (int k = 2; k <= 31; k++) put(b, run, LOW), strcat(run, LOW);       /* 138..167: 2..31 U+2581 */
    fill_unused(b, FIRST_BYTE, special);
    for (int byte = 0; byte < 256; byte++) {
        char p[PIECE];
        snprintf(p, sizeof p, "<0x%02X>", byte);
        put(b, p, "");
    }
    char ch[128][4];
    int ns = singles(ch);
    for (int i = 0; i < ns; i++) put(b, ch[i], "");
    /* Pairs of singles, then words: a run of pieces of one length is extended by one lowercase letter. */
    int limit = b->vocab < MEDIA_START ? b->vocab : MEDIA_START, first = b->next;
    for (int i = 0; i < ns && b->next < limit; i++)
        for (int j = 0; j < ns && b->next < limit; j++)
            if (i || j) put(b, ch[i], ch[j]);   /* U+2581 U+2581 is already a run */
    for (int level = 0, lo = first, hi = b->next; level < 2; level++) {
        int start = b->next;
        for (int id = lo; id < hi && b->next < limit; id++) {
            if (level == 0) {   /* of the pairs, only those of word characters grow into words */
                char left[4];
                snprintf(left, sizeof left, "%.*s", b->split[id], b->piece[id]);
                if (!is_word_char(left) || !is_word_char(b->piece[id] + b->split[id])) continue;
            }
            for (char c = 'a'; c <= 'z' && b->next < limit; c++) put(b, b->piece[id], (char[]){c, 0});
        }
        lo = start;
        hi = b->next;
    }
    fill_unused(b, b->vocab, special);
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void write_json(FILE *f, const vocab_builder *b) {
    fputs("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [", f);
    int first = 1;
    for (size_t i = 0; i < NSPECIAL; i++) {
        if (specials[i].id >= b->vocab) continue;
        fprintf(f, "%s\n    {\"id\": %d, \"content\": ", first ? "" : ",", specials[i].id);
        json_string(f, specials[i].text);
        fputs(", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, "
              "\"special\": true}", f);
        first = 0;
    }
    fputs("\n  ],\n"
          "  \"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\xe2\x96\x81\"},\n"
          "  \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \" \"}, \"behavior\": "
          "\"MergedWithPrevious\", \"invert\": false},\n"
          "  \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"Sequence\": {\"id\": \"A\", "
          "\"type_id\": 0}}], \"pair\": [{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"Sequence\": {\"id\": "
          "\"B\", \"type_id\": 1}}], \"special_tokens\": {}},\n"
          "  \"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Replace\", \"pattern\": {\"String\": "
          "\"\xe2\x96\x81\"}, \"content\": \" \"}, {\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}]},\n"
          "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": \"<unk>\",\n"
          "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": true,\n"
          "    \"byte_fallback\": true,\n    \"ignore_merges\": false,\n    \"vocab\": {",
          f);
    for (int id = 0; id < b->vocab; id++) {
        fputs(id ? ",\n      " : "\n      ", f);
        json_string(f, b->piece[id]);
        fprintf(f, ": %d", id);
    }
    fputs("\n    },\n    \"merges\": [", f);
    first = 1;
    for (int id = 0; id < b->vocab; id++) {   /* ids were given in merge order, so rank = order here */
        if (!b->split[id]) continue;
        char left[PIECE];
        snprintf(left, sizeof left, "%.*s", b->split[id], b->piece[id]);
        fputs(first ? "\n      [" : ",\n      [", f);
        json_string(f, left);
        fputs(", ", f);
        json_string(f, b->piece[id] + b->split[id]);
        fputc(']', f);
        first = 0;
    }
    fputs("\n    ]\n  }\n}\n", f);
}

static void write_config(FILE *f, int vocab) {
    fputs("{\n  \"backend\": \"tokenizers\",\n  \"bos_token\": \"<bos>\",\n  \"eoc_token\": \"<channel|>\",\n"
          "  \"eos_token\": \"<eos>\",\n  \"eot_token\": \"<turn|>\",\n  \"escape_token\": \"<|\\\"|>\",\n"
          "  \"etc_token\": \"<tool_call|>\",\n  \"etd_token\": \"<tool|>\",\n  \"etr_token\": \"<tool_response|>\",\n",
          f);
    if (vocab > MEDIA_START)
        fputs("  \"audio_token\": \"<|audio|>\",\n  \"boa_token\": \"<|audio>\",\n  \"boi_token\": \"<|image>\",\n"
              "  \"eoa_token\": \"<audio|>\",\n  \"eoi_token\": \"<image|>\",\n  \"image_token\": \"<|image|>\",\n"
              "  \"extra_special_tokens\": [\"<|video|>\"],\n",
              f);
    fputs("  \"mask_token\": \"<mask>\",\n  \"model_max_length\": 1000000000000000019884624838656,\n"
          "  \"pad_token\": \"<pad>\",\n  \"padding_side\": \"left\",\n  \"soc_token\": \"<|channel>\",\n"
          "  \"sot_token\": \"<|turn>\",\n  \"stc_token\": \"<|tool_call>\",\n  \"std_token\": \"<|tool>\",\n"
          "  \"str_token\": \"<|tool_response>\",\n  \"think_token\": \"<|think|>\",\n"
          "  \"tokenizer_class\": \"GemmaTokenizer\",\n  \"unk_token\": \"<unk>\"\n}\n",
          f);
}

/* Renders one file with fn into memory, then writes it atomically. */
static int emit_file(const char *dir, const char *name, void (*fn)(FILE *, const void *), const void *arg, char *err,
                     size_t errlen) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        snprintf(err, errlen, "%s/%s: out of memory", dir, name);
        return -1;
    }
    fn(f, arg);
    if (fclose(f)) {
        free(text);
        snprintf(err, errlen, "%s/%s: out of memory", dir, name);
        return -1;
    }
    int rc = syn_write_text(dir, name, text, len, err, errlen);
    free(text);
    return rc;
}

static void tokenizer_fn(FILE *f, const void *arg) { write_json(f, arg); }
static void config_fn(FILE *f, const void *arg) { write_config(f, *(const int *)arg); }

int syn_write_tokenizer(const char *dir, int vocab, char *err, size_t errlen) {
    if (vocab < 4096) {
        snprintf(err, errlen, "%s/tokenizer.json: a vocabulary of %d ids is too small (at least 4096)", dir, vocab);
        return -1;
    }
    vocab_builder b = {.vocab = vocab};
    char (*special)[PIECE] = calloc((size_t)vocab, sizeof *special);
    b.piece = calloc((size_t)vocab, sizeof *b.piece);
    b.split = calloc((size_t)vocab, 1);
    int rc = -1;
    if (!special || !b.piece || !b.split) {
        snprintf(err, errlen, "%s/tokenizer.json: out of memory", dir);
        goto done;
    }
    for (size_t i = 0; i < NSPECIAL; i++)
        if (specials[i].id < vocab) snprintf(special[specials[i].id], PIECE, "%s", specials[i].text);
    build(&b, special);
    rc = emit_file(dir, "tokenizer.json", tokenizer_fn, &b, err, errlen);
    if (!rc) rc = emit_file(dir, "tokenizer_config.json", config_fn, &vocab, err, errlen);
done:
    free(special);
    free(b.piece);
    free(b.split);
    return rc;
}
