/* bin/gemmatool logits / chat as spec/cli.md defines them, run as a user would, against the reference
 * logits; and their failures: non-zero exit, one line on stderr naming the problem. */
#include <json-c/json.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "model/st.h"
#include "tests/t.h"

static char model[512], tmp[256];

static char *ids_csv(json_object *a) {
    size_t n = json_object_array_length(a);
    char *s = malloc(n * 12 + 1);
    s[0] = 0;
    for (size_t i = 0; i < n; i++)
        sprintf(s + strlen(s), "%s%d", i ? "," : "", json_object_get_int(json_object_array_get_idx(a, i)));
    return s;
}

/* Runs a shell command; captures stdout and stderr into malloc'd strings. */
static int run(const char *cmd, char **out, char **errs) {
    char full[16384], path_o[300], path_e[300];
    snprintf(path_o, sizeof path_o, "%s/out.txt", tmp);
    snprintf(path_e, sizeof path_e, "%s/err.txt", tmp);
    snprintf(full, sizeof full, "%s >'%s' 2>'%s'", cmd, path_o, path_e);
    int st = system(full);
    const char *paths[2] = {path_o, path_e};
    char **dst[2] = {out, errs};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(paths[i], "rb");
        char *buf = calloc(1, 1 << 20);
        if (f) {
            size_t n = fread(buf, 1, (1 << 20) - 1, f);
            buf[n] = 0;
            fclose(f);
        }
        *dst[i] = buf;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static double max_diff(const char *file, const char *name, const st_tensor *ref, size_t rows) {
    st_archive *a;
    char err[512];
    if (st_open_file(&a, file, err, sizeof err)) return INFINITY;
    const st_tensor *t = st_find(a, name);
    double d = INFINITY;
    if (t && t->dtype == ST_F32 && t->ndim == 2 && (size_t)t->shape[0] == rows && t->shape[1] == ref->shape[1]) {
        d = 0;
        const float *x = t->data, *y = ref->data;
        for (size_t i = 0; i < rows * (size_t)t->shape[1]; i++) d = fmax(d, fabs(x[i] - y[i]));
    }
    st_free(a);
    return d;
}

static void expect_failure(const char *label, const char *args, const char *want) {
    char cmd[4096], *out, *errs;
    snprintf(cmd, sizeof cmd, "'%s/gemmatool' %s", getenv("GC_BIN"), args);
    int rc = run(cmd, &out, &errs);
    int lines = 0;
    for (char *p = errs; *p; p++) lines += *p == '\n';
    T_CHECK(rc != 0 && lines == 1 && strstr(errs, want), label, "exit %d, stderr '%s'", rc, errs);
    free(out);
    free(errs);
}

int main(void) {
    char path[700], cmd[16384], err[512], *out, *errs, label[256];
    snprintf(tmp, sizeof tmp, "/tmp/tool_model_XXXXXX");
    if (!mkdtemp(tmp) || !getenv("GC_BIN")) return 1;
    snprintf(model, sizeof model, "%s/models/tiny-dense-hub", t_data());
    snprintf(path, sizeof path, "%s/golden.json", model);
    json_object *g = json_object_from_file(path), *v;
    st_archive *gs;
    snprintf(path, sizeof path, "%s/golden.safetensors", model);
    if (!g || st_open_file(&gs, path, err, sizeof err)) return 1;

    json_object_object_get_ex(g, "seq_ids", &v);
    char *seq = ids_csv(v);
    size_t nseq = json_object_array_length(v);
    snprintf(cmd, sizeof cmd, "'%s/gemmatool' logits --model '%s' --ids %s --out '%s/seq.st'", getenv("GC_BIN"), model, seq, tmp);
    int rc = run(cmd, &out, &errs);
    snprintf(path, sizeof path, "%s/seq.st", tmp);
    double d = rc ? INFINITY : max_diff(path, "logits", st_find(gs, "seq_logits"), nseq);
    snprintf(label, sizeof label, "gemmatool logits (sharded published layout): max |diff| %.2e", d);
    T_CHECK(d <= 1e-2, label, "exit %d: %s", rc, errs);
    free(out), free(errs);

    json_object_object_get_ex(g, "long_ids", &v);
    char *lng = ids_csv(v);
    size_t nlong = json_object_array_length(v);
    snprintf(cmd, sizeof cmd, "'%s/gemmatool' logits --model '%s' --ids %s --prefill 60 --out '%s/long.st'", getenv("GC_BIN"), model, lng, tmp);
    rc = run(cmd, &out, &errs);
    snprintf(path, sizeof path, "%s/long.st", tmp);
    d = rc ? INFINITY : max_diff(path, "logits", st_find(gs, "long_logits"), nlong);
    snprintf(label, sizeof label, "gemmatool logits --prefill 60: max |diff| %.2e", d);
    T_CHECK(d <= 1e-2, label, "exit %d: %s", rc, errs);
    free(out), free(errs);

    json_object *turns, *gen;
    json_object_object_get_ex(g, "chat_turns", &turns);
    json_object_object_get_ex(g, "chat_generated", &gen);
    snprintf(cmd, sizeof cmd, "'%s/gemmatool' chat --model '%s' --max-new %zu --out '%s/chat.st'", getenv("GC_BIN"), model,
             json_object_array_length(json_object_array_get_idx(gen, 0)), tmp);
    char expect[4096] = "";
    size_t steps = 0;
    for (size_t t = 0; t < json_object_array_length(turns); t++) {
        char *ids = ids_csv(json_object_array_get_idx(turns, t)), *gids = ids_csv(json_object_array_get_idx(gen, t));
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " --turn %s", ids);
        snprintf(expect + strlen(expect), sizeof expect - strlen(expect), "%s\n", gids);
        steps += json_object_array_length(json_object_array_get_idx(gen, t));
        free(ids), free(gids);
    }
    rc = run(cmd, &out, &errs);
    T_CHECK(rc == 0 && !strcmp(out, expect), "gemmatool chat prints the reference greedy ids, one line per turn", "exit %d\n%s\nexpected\n%s%s", rc,
            out, expect, errs);
    snprintf(path, sizeof path, "%s/chat.st", tmp);
    d = rc ? INFINITY : max_diff(path, "step_logits", st_find(gs, "chat_step_logits"), steps);
    snprintf(label, sizeof label, "gemmatool chat --out step_logits: max |diff| %.2e", d);
    T_CHECK(d <= 1e-2, label, "exit %d", rc);
    free(out), free(errs);

    char args[1024];
    expect_failure("logits without --model", "logits --ids 1,2 --out /tmp/x", "--model");
    snprintf(args, sizeof args, "logits --model '%s' --ids 2,x --out '%s/x'", model, tmp);
    expect_failure("logits with a malformed id list", args, "bad id list");
    snprintf(args, sizeof args, "logits --model '%s' --ids 2,4096 --out '%s/x'", model, tmp);
    expect_failure("logits with an id beyond the vocabulary", args, "4096");
    snprintf(args, sizeof args, "logits --model /nonexistent --ids 2 --out '%s/x'", tmp);
    expect_failure("logits on a missing model directory names it", args, "/nonexistent");
    snprintf(args, sizeof args, "chat --model '%s' --turn 2,105 --max-new 12abc", model);
    expect_failure("chat with --max-new 12abc", args, "--max-new");
    snprintf(args, sizeof args, "logits --model '%s' --ids 2 --out '%s/x' --bogus", model, tmp);
    expect_failure("unknown option named", args, "--bogus");
    snprintf(args, sizeof args, "logits --model '%s' --ids 2 --out /nonexistent-dir/x.st", model);
    expect_failure("unwritable output names the path", args, "/nonexistent-dir/x.st");

    /* Text quoted from a file never reaches the terminal as control characters. */
    snprintf(path, sizeof path, "%s/evil", tmp);
    mkdir(path, 0700);
    char cfgpath[800];
    snprintf(cfgpath, sizeof cfgpath, "%s/config.json", path);
    FILE *cf = fopen(cfgpath, "w");
    if (!cf) return 1;
    fputs("{\"model_type\": \"\\u001b[2J\\u001b]0;pwned\\u0007\"}", cf);   /* JSON escapes for ESC and BEL */
    fclose(cf);
    snprintf(cmd, sizeof cmd, "'%s/gemmatool' logits --model '%s' --ids 2 --out '%s/x'", getenv("GC_BIN"), path, tmp);
    rc = run(cmd, &out, &errs);
    T_CHECK(rc != 0 && !strchr(errs, 0x1b) && !strchr(errs, 0x07) && strstr(errs, "\\x1b[2J"),
            "control characters from a file are escaped in error messages", "stderr '%s'", errs);
    free(out), free(errs);

    free(seq), free(lng);
    st_free(gs);
    json_object_put(g);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) ? 1 : t_exit();
}
