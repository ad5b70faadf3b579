/* The decoder against the float32 reference logits of every model in tests/data/models, on the three
 * paths: one chunk, prefill then decode, and the multi-turn greedy chat on one cache (plus a rewind
 * of the cache and a rerun of the last turn).  Tolerance: max |diff| <= 1e-2, identical greedy ids. */
#include <json-c/json.h>
#include <math.h>
#include "model/gm.h"
#include "model/smp.h"
#include "model/st.h"
#include "tests/t.h"

#define TOL 1e-2

typedef struct {
    const char *name;
    json_object *g;
    st_archive *gs;
    gm_model *m;
    int V;
} fixture;

static int32_t *ids_of(json_object *arr, size_t *n) {
    *n = json_object_array_length(arr);
    int32_t *v = malloc((*n ? *n : 1) * sizeof *v);
    for (size_t i = 0; i < *n; i++) v[i] = json_object_get_int(json_object_array_get_idx(arr, i));
    return v;
}

static json_object *key(json_object *o, const char *k) {
    json_object *v = NULL;
    json_object_object_get_ex(o, k, &v);
    return v;
}

/* max |a - b| over rows: row r of got at position pos[r] (or r) against ref row r. */
static double diff_rows(const float *got, const st_tensor *ref, const int32_t *pos, size_t rows, int V) {
    const float *r = ref->data;
    double mx = 0;
    for (size_t i = 0; i < rows; i++) {
        const float *g = got + (size_t)(pos ? pos[i] : (int32_t)i) * V;
        for (int j = 0; j < V; j++) {
            double d = fabs((double)g[j] - r[i * V + j]);
            if (d > mx || isnan(d)) mx = isnan(d) ? INFINITY : d;
        }
    }
    return mx;
}

static void check_seq(fixture *f) {
    size_t n;
    int32_t *ids = ids_of(key(f->g, "seq_ids"), &n);
    float *out = malloc(n * f->V * sizeof *out);
    gm_session *s = NULL;
    char err[512], name[256];
    int ok = !gm_session_create(&s, f->m, (int)n, 0, err, sizeof err) && !gm_session_feed(s, ids, (int)n, out, 1, err, sizeof err);
    const st_tensor *ref = st_find(f->gs, "seq_logits");
    double d = ok && ref ? diff_rows(out, ref, NULL, n, f->V) : INFINITY;
    snprintf(name, sizeof name, "%s seq one chunk: max |diff| %.2e", f->name, d);
    T_CHECK(d <= TOL, name, "%s", ok ? "logits differ" : err);
    gm_session_free(s);
    free(ids);
    free(out);
}

static void check_long(fixture *f, int prefill_path) {
    size_t n, npos = 0;
    int32_t *ids = ids_of(key(f->g, "long_ids"), &n), *pos = NULL;
    json_object *jp = key(f->g, "long_positions");
    if (jp) pos = ids_of(jp, &npos);
    int prefill = prefill_path ? json_object_get_int(key(f->g, "long_prefill")) : (int)n;
    float *out = malloc(n * f->V * sizeof *out);
    gm_session *s = NULL;
    char err[512] = "", name[256];
    int ok = !gm_session_create(&s, f->m, (int)n, 0, err, sizeof err) && !gm_session_feed(s, ids, prefill, out, 1, err, sizeof err);
    for (size_t i = (size_t)prefill; ok && i < n; i++) ok = !gm_session_feed(s, ids + i, 1, out + i * f->V, 0, err, sizeof err);
    const st_tensor *ref = st_find(f->gs, "long_logits");
    double d = ok && ref ? diff_rows(out, ref, pos, pos ? npos : n, f->V) : INFINITY;
    snprintf(name, sizeof name, "%s long %s (%zu ids): max |diff| %.2e", f->name, prefill_path ? "prefill+decode" : "one chunk", n, d);
    T_CHECK(d <= TOL, name, "%s", ok ? "logits differ" : err);
    gm_session_free(s);
    free(ids);
    free(pos);
    free(out);
}

/* Greedy multi-turn chat as `gemmatool chat` runs it.  Returns the steps taken; fills out/ids. */
static int run_chat(gm_session *s, json_object *turns, json_object *gen, int first_turn, float *out, int32_t *got, int V,
                    char *err, size_t errlen) {
    int steps = 0;
    for (size_t t = (size_t)first_turn; t < json_object_array_length(turns); t++) {
        size_t n;
        int32_t *ids = ids_of(json_object_array_get_idx(turns, t), &n);
        int max_new = (int)json_object_array_length(json_object_array_get_idx(gen, t));
        int rc = gm_session_feed(s, ids, (int)n, out + (size_t)steps * V, 0, err, errlen);
        free(ids);
        if (rc) return -1;
        for (int k = 0; k < max_new; k++) {
            int32_t id = smp_argmax(out + (size_t)steps * V, V);
            got[steps++] = id;
            if (id == 1 || id == 106) break;
            if (gm_session_feed(s, &id, 1, out + (size_t)steps * V, 0, err, errlen)) return -1;
        }
    }
    return steps;
}

static void check_chat(fixture *f) {
    json_object *turns = key(f->g, "chat_turns"), *gen = key(f->g, "chat_generated");
    size_t total = 0, expect_n = 0;
    for (size_t t = 0; t < json_object_array_length(gen); t++) expect_n += json_object_array_length(json_object_array_get_idx(gen, t));
    for (size_t t = 0; t < json_object_array_length(turns); t++) total += json_object_array_length(json_object_array_get_idx(turns, t));
    int32_t *expect = calloc(expect_n + 1, sizeof *expect), *got = calloc(expect_n + 1, sizeof *got);
    size_t k = 0;
    for (size_t t = 0; t < json_object_array_length(gen); t++) {
        json_object *a = json_object_array_get_idx(gen, t);
        for (size_t i = 0; i < json_object_array_length(a); i++) expect[k++] = json_object_get_int(json_object_array_get_idx(a, i));
    }
    float *out = malloc((expect_n + 1) * f->V * sizeof *out);
    gm_session *s = NULL;
    char err[512] = "", name[256];
    /* a chat session keeps a rewind margin, as the chat program does */
    int ok = !gm_session_create(&s, f->m, (int)(total + expect_n + 8), 256, err, sizeof err);
    int steps = ok ? run_chat(s, turns, gen, 0, out, got, f->V, err, sizeof err) : -1;
    int same = steps == (int)expect_n && !memcmp(got, expect, expect_n * sizeof *got);
    snprintf(name, sizeof name, "%s chat: greedy ids identical (%d steps)", f->name, steps);
    T_CHECK(same, name, "%s", steps < 0 ? err : "generated ids differ from the reference");
    const st_tensor *ref = st_find(f->gs, "chat_step_logits");
    double d = same && ref ? diff_rows(out, ref, NULL, expect_n, f->V) : INFINITY;
    snprintf(name, sizeof name, "%s chat step logits: max |diff| %.2e", f->name, d);
    T_CHECK(d <= TOL, name, "step logits differ");

    /* Rewind to the start of the last turn and regenerate it: the cache must give the same steps. */
    size_t last = json_object_array_length(turns) - 1;
    size_t before = 0, steps_before = 0;
    for (size_t t = 0; t < last; t++) {
        before += json_object_array_length(json_object_array_get_idx(turns, t));
        size_t g = json_object_array_length(json_object_array_get_idx(gen, t));
        steps_before += g;
        int32_t lastg = expect[steps_before - 1];
        before += (lastg == 1 || lastg == 106) ? g - 1 : g;
    }
    int kept = ok ? gm_session_truncate(s, (int)before) : -1;
    snprintf(name, sizeof name, "%s chat: truncate to %zu keeps the cache", f->name, before);
    T_CHECK(kept == (int)before, name, "truncate kept %d", kept);
    int again = kept == (int)before ? run_chat(s, turns, gen, (int)last, out, got, f->V, err, sizeof err) : -1;
    int same2 = again == (int)(expect_n - steps_before) && !memcmp(got, expect + steps_before, (size_t)again * sizeof *got);
    d = same2 && ref ? diff_rows(out, ref, NULL, 0, f->V) : INFINITY;
    if (same2) {
        const float *r = ref->data;
        d = 0;
        for (size_t i = 0; i < (size_t)again * f->V; i++) d = fmax(d, fabs(out[i] - r[steps_before * f->V + i]));
    }
    snprintf(name, sizeof name, "%s chat after rewind: same ids, max |diff| %.2e", f->name, d);
    T_CHECK(same2 && d <= TOL, name, "%s", again < 0 ? err : "rerun of the last turn differs");
    gm_session_free(s);
    free(expect);
    free(got);
    free(out);
}

/* The same logits with 1 and 3 threads as with the default: the pool's chunks then cut the rows and
 * the attention's heads (and the heads that share a KV head) at other places. */
static void check_threads(fixture *f, const char *dir) {
    size_t n;
    int32_t *ids = ids_of(key(f->g, "seq_ids"), &n);
    float *base = malloc(n * f->V * sizeof *base), *out = malloc(n * f->V * sizeof *out);
    char err[512] = "", name[256];
    gm_session *s = NULL;
    int ok = !gm_session_create(&s, f->m, (int)n, 0, err, sizeof err) && !gm_session_feed(s, ids, (int)n, base, 1, err, sizeof err);
    gm_session_free(s);
    for (int th = 1; th <= 3; th += 2) {
        gm_model *m = NULL;
        gm_load_opts o = {th, NULL, NULL};
        s = NULL;
        int ok2 = ok && !gm_load(&m, dir, &o, err, sizeof err) && !gm_session_create(&s, m, (int)n, 0, err, sizeof err) &&
                  !gm_session_feed(s, ids, (int)n, out, 1, err, sizeof err);
        double d = 0;
        for (size_t i = 0; ok2 && i < n * (size_t)f->V; i++) d = fmax(d, fabs((double)out[i] - base[i]));
        snprintf(name, sizeof name, "%s seq with %d thread%s: max |diff| to the default %.2e", f->name, th, th > 1 ? "s" : "", d);
        T_CHECK(ok2 && d <= 1e-4, name, "%s", ok2 ? "logits differ" : err);
        gm_session_free(s);
        gm_free(m);
    }
    free(ids);
    free(base);
    free(out);
}

static void run_model(const char *name) {
    char dir[1024], path[1200], err[512];
    fixture f = {name, NULL, NULL, NULL, 0};
    snprintf(dir, sizeof dir, "%s/models/%s", t_data(), name);
    snprintf(path, sizeof path, "%s/golden.json", dir);
    f.g = json_object_from_file(path);
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    int ok = f.g && !st_open_file(&f.gs, path, err, sizeof err) && !gm_load(&f.m, dir, NULL, err, sizeof err);
    char label[256];
    snprintf(label, sizeof label, "%s loads", name);
    T_CHECK(ok, label, "%s", f.g ? err : "golden.json unreadable");
    if (ok) {
        f.V = gm_config(f.m)->vocab;
        check_seq(&f);
        check_long(&f, 0);
        check_long(&f, 1);
        check_chat(&f);
        check_threads(&f, dir);
    }
    gm_free(f.m);
    st_free(f.gs);
    json_object_put(f.g);
}

int main(int argc, char **argv) {
    const char *all[] = {"tiny-e", "tiny-dense", "tiny-dense-hub", "tiny-moe", "tiny-chat", "wide-e"};
    if (argc > 1) run_model(argv[1]);
    else
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) run_model(all[i]);
    return t_exit();
}
