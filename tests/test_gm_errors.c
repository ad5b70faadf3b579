/* Bad checkpoints and bad input to the decoder: each is refused with a message naming the file (or
 * the id) and the problem, and nothing crashes. */
#include <sys/stat.h>
#include <unistd.h>
#include "model/gm.h"
#include "model/st.h"
#include "tests/t.h"

static char tmp[256];

/* Writes tmp/NAME/ = tiny-e's config + its tensors, with `drop` left out and `reshape` given shape [n]. */
static const char *broken(const char *name, const char *drop, const char *reshape, int64_t n) {
    static char dir[512];
    char src[512], path[600], cmd[2048], err[512];
    snprintf(src, sizeof src, "%s/models/tiny-e", t_data());
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    mkdir(dir, 0700);
    snprintf(cmd, sizeof cmd, "cp '%s/config.json' '%s/generation_config.json' '%s/'", src, src, dir);
    if (system(cmd)) return NULL;
    st_archive *a;
    if (st_open_dir(&a, src, err, sizeof err)) return NULL;
    size_t cnt = st_count(a), k = 0;
    st_tensor *ts = calloc(cnt, sizeof *ts);
    for (size_t i = 0; i < cnt; i++) {
        const st_tensor *t = st_at(a, i);
        if (drop && !strcmp(t->name, drop)) continue;
        ts[k] = *t;
        if (reshape && !strcmp(t->name, reshape)) {
            ts[k].ndim = 1;
            ts[k].shape[0] = n;
            ts[k].nbytes = (size_t)n * st_dtype_size(t->dtype);
        }
        k++;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc = st_write(path, ts, k, err, sizeof err);
    free(ts);
    st_free(a);
    return rc ? NULL : dir;
}

static void expect_load_error(const char *label, const char *dir, const char *want1, const char *want2) {
    gm_model *m = NULL;
    char err[1024] = "";
    int rc = dir ? gm_load(&m, dir, NULL, err, sizeof err) : 0;
    T_CHECK(dir && rc < 0 && !m && strstr(err, want1) && strstr(err, want2), label, "got rc %d: '%s'", rc, err);
    gm_free(m);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/gm_errors_XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    expect_load_error("missing directory is named", "/nonexistent/model-dir", "/nonexistent/model-dir", "");
    expect_load_error("missing tensor is named",
                      broken("missing", "model.layers.1.mlp.up_proj.weight", NULL, 0), "missing tensor", "model.layers.1.mlp.up_proj.weight");
    expect_load_error("missing PLE table is named", broken("nople", "model.embed_tokens_per_layer.weight", NULL, 0),
                      "missing tensor", "embed_tokens_per_layer");
    expect_load_error("wrong shape names file, tensor and both shapes",
                      broken("shape", NULL, "model.layers.0.self_attn.q_norm.weight", 15), "model.safetensors", "has shape [15], expected [16]");
    expect_load_error("wrong final-norm length", broken("norm", NULL, "model.norm.weight", 63), "model.norm.weight", "expected [64]");

    /* Bad ids and context overflow leave the session usable. */
    gm_model *m = NULL;
    gm_session *s = NULL;
    char dir[512], err[512] = "";
    snprintf(dir, sizeof dir, "%s/models/tiny-e", t_data());
    int ok = !gm_load(&m, dir, NULL, err, sizeof err) && !gm_session_create(&s, m, 8, 0, err, sizeof err);
    T_CHECK(ok, "tiny-e loads", "%s", err);
    if (ok) {
        int32_t bad[] = {2, 4096};
        int rc = gm_session_feed(s, bad, 2, NULL, 0, err, sizeof err);
        T_CHECK(rc < 0 && strstr(err, "4096") && strstr(err, "out of range") && gm_session_pos(s) == 0, "id >= vocab refused, nothing fed",
                "rc %d '%s' pos %d", rc, err, gm_session_pos(s));
        int32_t neg = -1;
        rc = gm_session_feed(s, &neg, 1, NULL, 0, err, sizeof err);
        T_CHECK(rc < 0 && strstr(err, "-1"), "negative id refused", "rc %d '%s'", rc, err);
        int32_t many[9] = {2, 3, 4, 5, 6, 7, 8, 9, 10};
        rc = gm_session_feed(s, many, 9, NULL, 0, err, sizeof err);
        T_CHECK(rc < 0 && strstr(err, "context full") && gm_session_pos(s) == 0, "context overflow refused", "rc %d '%s'", rc, err);
        rc = gm_session_feed(s, many, 8, NULL, 0, err, sizeof err);
        T_CHECK(rc == 0 && gm_session_pos(s) == 8, "session still usable after refusals", "rc %d '%s'", rc, err);
    }
    gm_session_free(s);
    gm_free(m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd)) return 1;
    return t_exit();
}
