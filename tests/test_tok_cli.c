/* gemmatool tokenize / detokenize / render as spec/cli.md describes them, run on the fixture files:
 * JSON-lines and plain modes, a model directory as --tokenizer (template file or the one inside
 * tokenizer_config.json), and one-line errors with a non-zero exit. */
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tests/tok_t.h"

static char tmp[64], out_path[128], err_path[128], in_path[128];

/* Runs gemmatool ARGS < in_path; returns the exit status, output in out_path / err_path. */
static int tool(const char *args) {
    const char *bin = getenv("GC_BIN");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "\"%s/gemmatool\" %s < \"%s\" > \"%s\" 2> \"%s\"", bin ? bin : "bin", args, in_path, out_path,
             err_path);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    *len = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n >= 0 && (b = malloc((size_t)n + 1)) && fread(b, 1, (size_t)n, f) == (size_t)n) b[*len = (size_t)n] = 0;
    fclose(f);
    return b;
}

static void put_file(const char *path, const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) fwrite(s, 1, n, f), fclose(f);
}

static void copy_fixture(const char *name) {
    char p[1024];
    size_t n;
    tt_path(p, sizeof p, name);
    char *s = slurp(p, &n);
    put_file(in_path, s ? s : "", n);
    free(s);
}

/* The tool's output lines parsed, compared field by field with the fixture's lines. */
static void compare_lines(const char *name, const char *fixture, const char *key_text, const char *key_ids) {
    size_t n, len;
    json_object **want = tt_jsonl(fixture, &n);
    char *out = slurp(out_path, &len), *save = NULL;
    size_t i = 0, bad = 0;
    for (char *line = out ? strtok_r(out, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save), i++) {
        json_object *got = json_tokener_parse(line);
        if (!got || i >= n) {
            bad++;
            json_object_put(got);
            continue;
        }
        if (key_text) {
            size_t a, b;
            const char *x = tt_str(got, "text", &a), *y = tt_str(want[i], key_text, &b);
            bad += a != b || memcmp(x, y, a);
        }
        if (key_ids) {
            size_t a, b;
            int32_t *x = tt_ids(got, "ids", &a), *y = tt_ids(want[i], key_ids, &b);
            bad += tt_diff(x, a, y, b) >= 0;
            free(x);
            free(y);
        }
        json_object_put(got);
    }
    T_CHECK(i == n && bad == 0, name, "%zu of %zu lines, %zu differ", i, n, bad);
    free(out);
    tt_jsonl_free(want);
}

static void jsonl_modes(void) {
    char args[4096], tj[1024], tiny[1024], large[1024];
    tt_path(tj, sizeof tj, "gemma4/tokenizer.json");
    tt_path(tiny, sizeof tiny, "tiny-4096");
    tt_path(large, sizeof large, "gemma4/chat_template-large.jinja");

    copy_fixture("vectors-gemma4.jsonl");
    snprintf(args, sizeof args, "tokenize --tokenizer \"%s\" --jsonl", tj);
    T_CHECK(tool(args) == 0, "tokenize --jsonl exits 0", "non-zero");
    compare_lines("tokenize --jsonl: ids of every gemma4 vector", "vectors-gemma4.jsonl", NULL, "ids");

    copy_fixture("vectors-tiny.jsonl");
    snprintf(args, sizeof args, "detokenize --tokenizer \"%s\" --jsonl", tiny);
    T_CHECK(tool(args) == 0, "detokenize --jsonl exits 0", "non-zero");
    compare_lines("detokenize --jsonl (model dir): text of every tiny vector", "vectors-tiny.jsonl", "decoded", NULL);

    copy_fixture("chat-gemma4-large.jsonl");
    snprintf(args, sizeof args, "render --tokenizer \"%s\" --template \"%s\" --jsonl", tj, large);
    T_CHECK(tool(args) == 0, "render --template large exits 0", "non-zero");
    compare_lines("render --template large: text and ids", "chat-gemma4-large.jsonl", "text", "ids");

    copy_fixture("chat-tiny.jsonl");
    snprintf(args, sizeof args, "render --tokenizer \"%s\" --jsonl", tiny);
    T_CHECK(tool(args) == 0, "render with a model dir exits 0", "non-zero");
    compare_lines("render with a model dir: text and ids", "chat-tiny.jsonl", "text", "ids");
}

/* A model dir whose template is only inside tokenizer_config.json (string and list forms). */
static void config_template(void) {
    char dir[256], p[1024], tpl_path[1024], src[1024], args[1200];
    size_t n, tl;
    snprintf(dir, sizeof dir, "%s/model", tmp);
    mkdir(dir, 0755);
    tt_path(src, sizeof src, "tiny-4096/tokenizer.json");
    char *tokjson = slurp(src, &n);
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    put_file(p, tokjson ? tokjson : "", n);
    free(tokjson);
    tt_path(tpl_path, sizeof tpl_path, "gemma4/chat_template-large.jinja");
    char *tpl = slurp(tpl_path, &tl);
    const char *in = "{\"messages\":[{\"role\":\"user\",\"content\":\"Q\"}],\"add_generation_prompt\":true,\"enable_thinking\":false}\n";
    put_file(in_path, in, strlen(in));
    for (int form = 0; form < 2; form++) {
        json_object *cfg = json_object_new_object(), *t = json_object_new_string_len(tpl ? tpl : "", (int)tl);
        if (form) {
            json_object *list = json_object_new_array(), *other = json_object_new_object(), *def = json_object_new_object();
            json_object_object_add(other, "name", json_object_new_string("tool_use"));
            json_object_object_add(other, "template", json_object_new_string("plain"));
            json_object_object_add(def, "name", json_object_new_string("default"));
            json_object_object_add(def, "template", t);
            json_object_array_add(list, other);
            json_object_array_add(list, def);
            t = list;
        }
        json_object_object_add(cfg, "chat_template", t);
        snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
        const char *s = json_object_to_json_string(cfg);
        put_file(p, s, strlen(s));
        json_object_put(cfg);
        snprintf(args, sizeof args, "render --tokenizer \"%s\" --jsonl", dir);
        int rc = tool(args);
        size_t len;
        char *out = slurp(out_path, &len);
        T_CHECK(rc == 0 && out && strstr(out, "<|turn>model\\n<|channel>thought\\n<channel|>\""),
                form ? "template from a tokenizer_config.json list" : "template from tokenizer_config.json", "rc %d: %s", rc,
                out ? out : "");
        free(out);
    }
    free(tpl);
}

static void plain_modes(void) {
    char args[1200], tiny[1024];
    tt_path(tiny, sizeof tiny, "tiny-4096/tokenizer.json");
    size_t nv;
    json_object **v = tt_jsonl("vectors-tiny.jsonl", &nv);
    int ok = 1;
    for (size_t i = 0; i < nv && ok; i += 17) {   /* a sample: every run loads the tokenizer */
        size_t tl, nids, len;
        const char *text = tt_str(v[i], "text", &tl);
        int32_t *ids = tt_ids(v[i], "ids", &nids);
        put_file(in_path, text, tl);
        snprintf(args, sizeof args, "tokenize --tokenizer \"%s\"", tiny);
        int rc = tool(args);
        char *out = slurp(out_path, &len), want[65536];
        size_t w = 0;
        for (size_t k = 0; k < nids && w + 16 < sizeof want; k++) w += (size_t)sprintf(want + w, k ? ",%d" : "%d", ids[k]);
        want[w++] = '\n';
        ok = rc == 0 && out && len == w && !memcmp(out, want, w);
        free(out);
        put_file(in_path, want, w);
        snprintf(args, sizeof args, "detokenize --tokenizer \"%s\"", tiny);
        rc = tool(args);
        out = slurp(out_path, &len);
        size_t dl;
        const char *dec = tt_str(v[i], "decoded", &dl);
        ok = ok && rc == 0 && out && len == dl && !memcmp(out, dec, dl);
        if (!ok) printf("info: plain mode differs on vector %zu\n", i);
        free(out);
        free(ids);
    }
    T_CHECK(ok, "plain tokenize prints comma-separated ids; detokenize prints the exact text", "see info");
    tt_jsonl_free(v);
}

static void errors(void) {
    char tiny[1024], args[1200];
    tt_path(tiny, sizeof tiny, "tiny-4096/tokenizer.json");
    static const struct { const char *name, *args, *input, *phrase; } cases[] = {
        {"missing tokenizer file", "tokenize --tokenizer /nonexistent/tok.json", "x", "/nonexistent/tok.json"},
        {"invalid UTF-8 input", "tokenize --tokenizer \"%s\"", "ok\xFF", "invalid UTF-8"},
        {"a line that is not JSON", "tokenize --tokenizer \"%s\" --jsonl", "{\"text\":\"a\"}\n{oops\n", "line 2"},
        {"a line without text", "tokenize --tokenizer \"%s\" --jsonl", "{\"ids\":[1]}\n", "line 1"},
        {"an id out of range", "detokenize --tokenizer \"%s\"", "1,2,99999\n", "99999"},
        {"a malformed id list", "detokenize --tokenizer \"%s\"", "1,,2", "bad id list"},
        {"a bad id in jsonl", "detokenize --tokenizer \"%s\" --jsonl", "{\"ids\":[1,\"x\"]}\n", "ids[1]"},
        {"render without --jsonl", "render --tokenizer \"%s\"", "", "--jsonl"},
        {"render with a bad message", "render --tokenizer \"%s\" --jsonl", "{\"messages\":[{\"role\":1}]}\n", "messages[0]"},
        {"an unknown option", "tokenize --tokenizer \"%s\" --bogus", "", "--bogus"},
        {"a missing template file", "render --tokenizer \"%s\" --template /nonexistent.jinja --jsonl", "", "/nonexistent.jinja"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put_file(in_path, cases[i].input, strlen(cases[i].input));
        snprintf(args, sizeof args, cases[i].args, tiny);
        int rc = tool(args);
        size_t len;
        char *err = slurp(err_path, &len);
        int one_line = err && len > 0 && strchr(err, '\n') == err + len - 1;
        T_CHECK(rc != 0 && one_line && strstr(err, cases[i].phrase), cases[i].name, "rc %d, stderr '%s'", rc, err ? err : "");
        free(err);
    }
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/tok_cli_XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    snprintf(in_path, sizeof in_path, "%s/in", tmp);
    snprintf(out_path, sizeof out_path, "%s/out", tmp);
    snprintf(err_path, sizeof err_path, "%s/err", tmp);
    jsonl_modes();
    config_template();
    plain_modes();
    errors();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf \"%s\"", tmp);
    if (system(cmd)) return 1;
    return t_exit();
}
