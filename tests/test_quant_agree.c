/* The quantized paths against the float reference on the reference models: teacher-forced greedy
 * agreement (arg-max of each row of the long sequence) and the logit error, for q8 and q4.  The trained
 * tiny-chat is the meaningful case (its logits have clear winners); the random-weight models are
 * chaotic, with near-ties everywhere, so for them only q8 must clearly beat q4. */
#include <json-c/json.h>
#include <math.h>
#include <unistd.h>
#include "model/gm.h"
#include "model/smp.h"
#include "model/st.h"
#include "tests/t.h"

static double check(const char *name, const char *quant, double min_agree, const char *cache, double *max_diff) {
    char dir[1024], path[1200], err[512] = "", label[256];
    snprintf(dir, sizeof dir, "%s/models/%s", t_data(), name);
    snprintf(path, sizeof path, "%s/golden.json", dir);
    json_object *g = json_object_from_file(path), *jl = NULL, *jp = NULL;
    st_archive *gs = NULL;
    gm_model *m = NULL;
    gm_session *s = NULL;
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    gm_load_opts o = {1, quant, cache};
    int ok = g && json_object_object_get_ex(g, "long_ids", &jl) && !st_open_file(&gs, path, err, sizeof err) &&
             !gm_load(&m, dir, &o, err, sizeof err);
    json_object_object_get_ex(g, "long_positions", &jp);
    size_t n = ok ? json_object_array_length(jl) : 0;
    int V = ok ? gm_config(m)->vocab : 0;
    int32_t *ids = calloc(n + 1, sizeof *ids);
    float *out = calloc(n * (size_t)V + 1, sizeof *out);
    for (size_t i = 0; i < n; i++) ids[i] = json_object_get_int(json_object_array_get_idx(jl, i));
    ok = ok && !gm_session_create(&s, m, (int)n, 0, err, sizeof err) && !gm_session_feed(s, ids, (int)n, out, 1, err, sizeof err);
    const st_tensor *ref = ok ? st_find(gs, "long_logits") : NULL;
    size_t rows = ref ? (size_t)ref->shape[0] : 0, same = 0;
    double mx = 0;
    for (size_t r = 0; r < rows; r++) {
        size_t pos = jp ? (size_t)json_object_get_int(json_object_array_get_idx(jp, r)) : r;
        const float *a = out + pos * V, *b = (const float *)ref->data + r * V;
        same += smp_argmax(a, V) == smp_argmax(b, V);
        for (int j = 0; j < V; j++) mx = fmax(mx, fabs(a[j] - b[j]));
    }
    double agree = rows ? (double)same / rows : 0;
    snprintf(label, sizeof label, "%s %s: greedy agreement %.1f %% of %zu rows (max |logit diff| %.3f)", name, quant, 100 * agree, rows, mx);
    T_CHECK(ok && agree >= min_agree, label, "%s", ok ? "too many greedy tokens differ" : err);
    gm_session_free(s);
    gm_free(m);
    st_free(gs);
    json_object_put(g);
    free(ids);
    free(out);
    *max_diff = ok ? mx : INFINITY;
    return ok ? agree : -1;
}

int main(void) {
    char cache[] = "/tmp/quant_agree_XXXXXX";
    if (!mkdtemp(cache)) return 1;
    double d8, d4;
    check("tiny-chat", "q8", 0.98, cache, &d8);
    check("tiny-chat", "q4", 0.85, cache, &d4);
    const char *random[] = {"tiny-e", "tiny-dense", "tiny-moe", "wide-e"};
    for (size_t i = 0; i < sizeof random / sizeof random[0]; i++) {
        char label[128];
        double a8 = check(random[i], "q8", 0.6, cache, &d8), a4 = check(random[i], "q4", 0.0, cache, &d4);
        snprintf(label, sizeof label, "%s: q8 is closer to the float path than q4", random[i]);
        T_CHECK(a8 > a4 && d8 < d4, label, "q8 %.3f / %.3f, q4 %.3f / %.3f", a8, d8, a4, d4);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
    return system(cmd) ? 1 : t_exit();
}
