/* gemmatool tokenize / detokenize / render: the tokenizer and the chat format on stdin/stdout
 * (spec/cli.md).  --tokenizer takes a tokenizer.json or a model directory. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "app/args.h"
#include "app/tool.h"
#include "model/cfg_json.h"
#include "tokenizer/cf.h"
#include "tokenizer/tok.h"

typedef struct {
    const char *cmd;
    tok_tokenizer *tok;
    cf_variant variant;
    int skip_special;
    char err[1024];
} job;

/* One JSON-lines record: in, out, err; returns 0 or -1 with job.err set. */
typedef int (*line_fn)(job *j, json_object *in, json_object **out);

static int fail(job *j, int rc) {
    char prog[64];
    snprintf(prog, sizeof prog, "gemmatool %s", j->cmd);
    args_complain(prog, "%s", j->err);
    return rc;
}

static int is_dir(const char *p) {
    struct stat st;
    return !stat(p, &st) && S_ISDIR(st.st_mode);
}

/* Parses the options, loads the tokenizer and, for render, finds the template variant. */
static int setup(job *j, int argc, char **argv, int render) {
    static const char *const known[] = {"--tokenizer=", "--jsonl", "--template=", "--skip-special", NULL};
    const char *arg = args_get(argc, argv, "--tokenizer"), *tpl = args_get(argc, argv, "--template");
    if (args_check(argc, argv, known, j->err, sizeof j->err)) return -1;
    if (!arg) return snprintf(j->err, sizeof j->err, "--tokenizer FILE|DIR is required"), -1;
    if ((tpl && !render) || (args_has(argc, argv, "--skip-special") && strcmp(j->cmd, "detokenize")))
        return snprintf(j->err, sizeof j->err, "%s does not take this option", tpl ? "--template" : "--skip-special"), -1;
    if (render && !args_has(argc, argv, "--jsonl")) return snprintf(j->err, sizeof j->err, "render needs --jsonl"), -1;
    j->skip_special = args_has(argc, argv, "--skip-special");
    char path[4096];
    int dir = is_dir(arg);
    snprintf(path, sizeof path, dir ? "%s/tokenizer.json" : "%s", arg);
    if (tok_load(&j->tok, path, j->err, sizeof j->err)) return -1;
    j->variant = CF_SMALL;
    if (tpl) return cf_detect_file(tpl, &j->variant, j->err, sizeof j->err);
    if (render && dir) j->variant = cf_detect_dir(arg);
    return 0;
}

static int read_stdin(char **buf, size_t *len) {
    size_t cap = 1 << 16, n = 0, got;
    char *b = malloc(cap + 1);
    while (b && (got = fread(b + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(b, (cap *= 2) + 1);
            if (!nb) free(b);
            b = nb;
        }
    }
    if (!b || ferror(stdin)) {
        free(b);
        return -1;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return 0;
}

static json_object *ids_json(const int32_t *ids, size_t n) {
    json_object *a = json_object_new_array_ext((int)n);
    for (size_t i = 0; a && i < n; i++) json_object_array_add(a, json_object_new_int(ids[i]));
    return a;
}

static const char *str_field(json_object *o, const char *key, size_t *len) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

static int tokenize_line(job *j, json_object *in, json_object **out) {
    size_t len, n;
    const char *text = str_field(in, "text", &len);
    int32_t *ids;
    if (!text) return snprintf(j->err, sizeof j->err, "expected {\"text\": STRING}"), -1;
    if (tok_encode(j->tok, text, len, &ids, &n, j->err, sizeof j->err)) return -1;
    *out = json_object_new_object();
    json_object_object_add(*out, "ids", ids_json(ids, n));
    free(ids);
    return 0;
}

static int detokenize_line(job *j, json_object *in, json_object **out) {
    json_object *a;
    if (!json_object_object_get_ex(in, "ids", &a) || !json_object_is_type(a, json_type_array))
        return snprintf(j->err, sizeof j->err, "expected {\"ids\": [...]}"), -1;
    size_t n = json_object_array_length(a), len;
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) return snprintf(j->err, sizeof j->err, "out of memory"), -1;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        int64_t v = json_object_get_int64(e);
        if (!json_object_is_type(e, json_type_int) || v < 0 || v > INT32_MAX) {
            free(ids);
            return snprintf(j->err, sizeof j->err, "ids[%zu] is not a token id", i), -1;
        }
        ids[i] = (int32_t)v;
    }
    char *text;
    int rc = tok_decode(j->tok, ids, n, j->skip_special, &text, &len, j->err, sizeof j->err);
    free(ids);
    if (rc) return -1;
    *out = json_object_new_object();
    json_object_object_add(*out, "text", json_object_new_string_len(text, (int)len));
    free(text);
    return 0;
}

static int flag(json_object *in, const char *key) {
    json_object *v;
    return json_object_object_get_ex(in, key, &v) && json_object_get_boolean(v);
}

static int render_line(job *j, json_object *in, json_object **out) {
    json_object *msgs;
    if (!json_object_object_get_ex(in, "messages", &msgs) || !json_object_is_type(msgs, json_type_array))
        return snprintf(j->err, sizeof j->err, "expected {\"messages\": [...], ...}"), -1;
    size_t n = json_object_array_length(msgs), len, nids;
    cf_message *m = calloc(n ? n : 1, sizeof *m);
    if (!m) return snprintf(j->err, sizeof j->err, "out of memory"), -1;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(msgs, i), *c;
        size_t rl;
        m[i].role = str_field(e, "role", &rl);
        m[i].content = str_field(e, "content", &m[i].len);
        int null_content = !json_object_object_get_ex(e, "content", &c) || !c;
        if (!m[i].role || (!m[i].content && !null_content)) {
            free(m);
            return snprintf(j->err, sizeof j->err, "messages[%zu] needs a string \"role\" and a string \"content\"", i), -1;
        }
    }
    char *text = NULL;
    int32_t *ids = NULL;
    int rc = cf_render(j->variant, m, n, flag(in, "add_generation_prompt"), flag(in, "enable_thinking"), &text, &len,
                       j->err, sizeof j->err);
    free(m);
    if (!rc) rc = tok_encode(j->tok, text, len, &ids, &nids, j->err, sizeof j->err);
    if (!rc) {
        *out = json_object_new_object();
        json_object_object_add(*out, "text", json_object_new_string_len(text, (int)len));
        json_object_object_add(*out, "ids", ids_json(ids, nids));
    }
    free(text);
    free(ids);
    return rc;
}

/* Each non-blank input line is one JSON object, each answer one line, in order. */
static int jsonl(job *j, line_fn fn) {
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int rc = 0;
    while (!rc && (len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        json_tokener *tk = json_tokener_new();
        json_object *in = tk ? json_tokener_parse_ex(tk, line, (int)len) : NULL, *out = NULL;
        if (!in || !json_object_is_type(in, json_type_object)) {
            snprintf(j->err, sizeof j->err, "line %zu: not a JSON object", lineno);
            rc = -1;
        } else if (fn(j, in, &out)) {
            char why[sizeof j->err];
            snprintf(why, sizeof why, "%s", j->err);
            snprintf(j->err, sizeof j->err, "line %zu: %.900s", lineno, why);
            rc = -1;
        } else {
            size_t n;
            const char *s = cfg_json_print(out, &n);
            if (s) {
                fwrite(s, 1, n, stdout);
                putchar('\n');
            } else {
                snprintf(j->err, sizeof j->err, "line %zu: out of memory", lineno);
                rc = -1;
            }
        }
        json_object_put(in);
        json_object_put(out);
        if (tk) json_tokener_free(tk);
    }
    free(line);
    return rc;
}

static int finish(job *j, int rc) {
    if (!rc && fflush(stdout)) snprintf(j->err, sizeof j->err, "cannot write the output"), rc = -1;
    if (rc) fail(j, 1);
    tok_free(j->tok);
    return rc ? 1 : 0;
}

int tool_tokenize(int argc, char **argv) {
    job j = {.cmd = "tokenize"};
    if (setup(&j, argc, argv, 0)) return finish(&j, -1);
    if (args_has(argc, argv, "--jsonl")) return finish(&j, jsonl(&j, tokenize_line));
    char *text;
    size_t len, n;
    int32_t *ids = NULL;
    if (read_stdin(&text, &len)) return snprintf(j.err, sizeof j.err, "cannot read stdin"), finish(&j, -1);
    int rc = tok_encode(j.tok, text, len, &ids, &n, j.err, sizeof j.err);
    for (size_t i = 0; !rc && i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
    if (!rc) putchar('\n');
    free(text);
    free(ids);
    return finish(&j, rc);
}

int tool_detokenize(int argc, char **argv) {
    job j = {.cmd = "detokenize"};
    if (setup(&j, argc, argv, 0)) return finish(&j, -1);
    if (args_has(argc, argv, "--jsonl")) return finish(&j, jsonl(&j, detokenize_line));
    char *in, *text = NULL;
    size_t len, n = 0;
    int32_t *ids = NULL;
    if (read_stdin(&in, &len)) return snprintf(j.err, sizeof j.err, "cannot read stdin"), finish(&j, -1);
    while (len && in[len - 1] && strchr(" \t\r\n", in[len - 1])) in[--len] = 0;
    int rc = len ? args_ids(in, &ids, &n, j.err, sizeof j.err) : 0;
    if (!rc) rc = tok_decode(j.tok, ids, n, j.skip_special, &text, &len, j.err, sizeof j.err);
    if (!rc) fwrite(text, 1, len, stdout);
    free(in);
    free(ids);
    free(text);
    return finish(&j, rc);
}

int tool_render(int argc, char **argv) {
    job j = {.cmd = "render"};
    if (setup(&j, argc, argv, 1)) return finish(&j, -1);
    return finish(&j, jsonl(&j, render_line));
}
