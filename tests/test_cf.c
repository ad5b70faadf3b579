/* Chat format: every fixture rendering (text and ids) for the E2B/E4B template, the 26B/31B template
 * and the tiny tokenizer; template quirks (expected texts rendered from Google's template with
 * jinja2 as transformers configures it); strip_thinking and template detection. */
#include "tests/tok_t.h"
#include "tokenizer/cf.h"

static void fixture(const tok_tokenizer *t, const char *file, cf_variant v) {
    size_t n;
    json_object **cases = tt_jsonl(file, &n);
    for (size_t i = 0; i < n; i++) {
        json_object *msgs, *gen, *think;
        json_object_object_get_ex(cases[i], "messages", &msgs);
        json_object_object_get_ex(cases[i], "add_generation_prompt", &gen);
        json_object_object_get_ex(cases[i], "enable_thinking", &think);
        size_t nm = json_object_array_length(msgs), wlen, rl, nwant, nids = 0, len = 0;
        cf_message *m = calloc(nm + 1, sizeof *m);
        for (size_t k = 0; k < nm; k++) {
            json_object *e = json_object_array_get_idx(msgs, k);
            m[k].role = tt_str(e, "role", &rl);
            m[k].content = tt_str(e, "content", &m[k].len);
        }
        const char *want = tt_str(cases[i], "text", &wlen);
        int32_t *want_ids = tt_ids(cases[i], "ids", &nwant), *ids = NULL;
        char *text = NULL, err[256] = "", name[96];
        int rc = cf_render(v, m, nm, json_object_get_boolean(gen), json_object_get_boolean(think), &text, &len, err,
                           sizeof err);
        snprintf(name, sizeof name, "%s %zu text", file, i);
        T_CHECK(!rc && len == wlen && !memcmp(text, want, wlen), name, "%s got '%s'", err, text ? text : "");
        snprintf(name, sizeof name, "%s %zu ids", file, i);
        rc = rc ? rc : tok_encode(t, text, len, &ids, &nids, err, sizeof err);
        long d = rc ? 0 : tt_diff(ids, nids, want_ids, nwant);
        T_CHECK(!rc && d < 0, name, "%s first difference at %ld", err, d);
        free(ids);
        free(want_ids);
        free(text);
        free(m);
    }
    tt_jsonl_free(cases);
}

typedef struct {
    const char *name;
    cf_variant v;
    int gen, think;
    cf_message m[5];
    const char *want;
} quirk;

#define M(r, c) {r, c, sizeof(c) - 1}
static const quirk quirks[] = {
    {"consecutive assistants merge", CF_SMALL, 1, 0, {M("user", "Q"), M("assistant", "A "), M("assistant", " B"), M("user", "R")},
     "<bos><|turn>user\nQ<turn|>\n<|turn>model\nAB<turn|>\n<|turn>user\nR<turn|>\n<|turn>model\n"},
    {"model then assistant", CF_SMALL, 0, 0, {M("user", "Q"), M("model", "A"), M("assistant", "B")},
     "<bos><|turn>user\nQ<turn|>\n<|turn>model\nA<|turn>model\nB<turn|>\n"},
    {"assistant then model", CF_SMALL, 0, 0, {M("user", "Q"), M("assistant", "A"), M("model", "B")},
     "<bos><|turn>user\nQ<turn|>\n<|turn>model\nA<turn|>\nB<turn|>\n"},
    {"tool messages skipped", CF_SMALL, 1, 1, {M("user", "Q"), M("assistant", "A"), M("tool", "T"), M("assistant", "B")},
     "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\nQ<turn|>\n<|turn>model\nAB<turn|>\n<|turn>model\n"},
    {"later system turn", CF_SMALL, 1, 0, {M("user", "Q"), M("system", " S "), M("developer", "D")},
     "<bos><|turn>user\nQ<turn|>\n<|turn>system\nS<turn|>\n<|turn>developer\nD<turn|>\n<|turn>model\n"},
    {"python whitespace", CF_SMALL, 0, 0,
     {M("user", "\xE3\x80\x80\xC2\xA0\t\x1C\xC2\x85 x \xE2\x80\x8B\xEF\xBB\xBF\xE2\x80\xA8\xE2\x81\x9F\xE2\x80\xAF\xE1\x9A\x80"
                "\xE2\x80\x80\xE2\x80\x8A\r\n\x0B\x0C")},
     "<bos><|turn>user\nx \xE2\x80\x8B\xEF\xBB\xBF<turn|>\n"},
    {"not whitespace", CF_SMALL, 0, 0, {M("user", "\xE2\x80\x8Bx\xEF\xBB\xBF")},
     "<bos><|turn>user\n\xE2\x80\x8Bx\xEF\xBB\xBF<turn|>\n"},
    {"strip thinking", CF_SMALL, 0, 0, {M("user", "Q"), M("assistant", " a<channel|>b<|channel>c<|channel>d<channel|>e<|channel>f ")},
     "<bos><|turn>user\nQ<turn|>\n<|turn>model\nabe<turn|>\n"},
    {"empty conversation", CF_SMALL, 1, 1, {{0}}, "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>model\n"},
    {"empty conversation, no thinking", CF_SMALL, 1, 0, {{0}}, "<bos><|turn>model\n"},
    {"large, thinking off", CF_LARGE, 1, 0, {M("system", "S"), M("user", "Q")},
     "<bos><|turn>system\nS<turn|>\n<|turn>user\nQ<turn|>\n<|turn>model\n<|channel>thought\n<channel|>"},
    {"large, thinking on", CF_LARGE, 1, 1, {M("user", "Q")},
     "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\nQ<turn|>\n<|turn>model\n"},
    {"large, no prompt", CF_LARGE, 0, 0, {M("user", "Q")}, "<bos><|turn>user\nQ<turn|>\n"},
    {"whitespace-only answer", CF_SMALL, 1, 0, {M("user", " "), M("assistant", " \n ")},
     "<bos><|turn>user\n<turn|>\n<|turn>model\n<turn|>\n<|turn>model\n"},
    {"assistant first", CF_SMALL, 1, 0, {M("assistant", "Hi"), M("user", "Q")},
     "<bos><|turn>model\nHi<turn|>\n<|turn>user\nQ<turn|>\n<|turn>model\n"},
    {"system only", CF_SMALL, 0, 1, {M("developer", "only")}, "<bos><|turn>system\n<|think|>\nonly<turn|>\n"},
};

static void quirk_cases(void) {
    for (size_t i = 0; i < sizeof quirks / sizeof quirks[0]; i++) {
        const quirk *q = &quirks[i];
        size_t n = 0, len;
        while (n < 5 && q->m[n].role) n++;
        char *text = NULL, err[128] = "";
        int rc = cf_render(q->v, q->m, n, q->gen, q->think, &text, &len, err, sizeof err);
        T_CHECK(!rc && len == strlen(q->want) && !strcmp(text, q->want), q->name, "%s got '%s'", err, text ? text : "");
        free(text);
    }
    cf_message nul[2] = {M("user", "a\0b"), {NULL, "x", 1}};
    char *text = NULL, err[128] = "";
    size_t len = 0;
    int rc = cf_render(CF_SMALL, nul, 1, 0, 0, &text, &len, err, sizeof err);
    static const char want[] = "<bos><|turn>user\na\0b<turn|>\n";
    T_CHECK(!rc && len == sizeof want - 1 && !memcmp(text, want, len), "content with a NUL", "len %zu", len);
    free(text);
    rc = cf_render(CF_SMALL, nul, 2, 0, 0, &text, &len, err, sizeof err);
    T_CHECK(rc < 0 && strstr(err, "message 1"), "a message without a role is refused", "rc %d: %s", rc, err);
}

static void strip_and_detect(void) {
    const char *in = "pre<|channel>thought\nx<channel|>mid<|channel>y<channel|>post";
    size_t len;
    char *s = cf_strip_thinking(in, strlen(in), &len);
    T_CHECK(s && len == 10 && !strcmp(s, "premidpost"), "strip_thinking spec example", "got '%s'", s ? s : "");
    free(s);
    s = cf_strip_thinking(" \xE3\x80\x80keep<|channel>unclosed", 27, &len);
    T_CHECK(s && !strcmp(s, "keep"), "strip_thinking cuts an unclosed channel and trims", "got '%s'", s ? s : "");
    free(s);

    static const struct { const char *file; cf_variant v; } tpl[] = {
        {"gemma4/chat_template.jinja", CF_SMALL}, {"gemma4/chat_template-large.jinja", CF_LARGE},
        {"tiny-4096/chat_template.jinja", CF_SMALL}};
    for (size_t i = 0; i < 3; i++) {
        char path[1024], buf[1 << 16];
        tt_path(path, sizeof path, tpl[i].file);
        FILE *f = fopen(path, "rb");
        size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f) fclose(f);
        T_CHECK(n > 1000 && cf_detect(buf, n) == tpl[i].v, tpl[i].file, "detected %d from %zu bytes", cf_detect(buf, n), n);
    }
    T_CHECK(cf_detect("", 0) == CF_SMALL, "an unknown template is the small variant", "not small");
}

int main(void) {
    tok_tokenizer *g = tt_load("gemma4/tokenizer.json"), *tiny = tt_load("tiny-4096/tokenizer.json");
    fixture(g, "chat-gemma4.jsonl", CF_SMALL);
    fixture(g, "chat-gemma4-large.jsonl", CF_LARGE);
    fixture(tiny, "chat-tiny.jsonl", CF_SMALL);
    quirk_cases();
    strip_and_detect();
    tok_free(g);
    tok_free(tiny);
    return t_exit();
}
