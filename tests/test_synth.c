/* syn: the configs of the four real shapes parse back with the values of spec/gemma4-text.md §3.1; the
 * tiny shapes hold exactly the tensors of §4, are deterministic per seed, load in gm and give finite,
 * varied logits; the tokenizer loads and round-trips; bytes per token matches perf-baseline.md. */
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>
#include "model/gm.h"
#include "model/smp.h"
#include "model/st.h"
#include "model/synth.h"
#include "tokenizer/tok.h"
#include "tests/t.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* The §3.1 values a real shape's config must parse back to. */
typedef struct {
    const char *shape;
    int hidden, layers, inter, heads, kv, full_kv, window, shared, double_wide, ple, k_eq_v, experts, top_k,
        moe_inter, max_pos, full_every;
} expect;

static const expect real[] = {
    {"e2b", 1536, 35, 6144, 8, 1, 1, 512, 20, 1, 256, 0, 0, 0, 0, 131072, 5},
    {"e4b", 2560, 42, 10240, 8, 2, 2, 512, 18, 0, 256, 0, 0, 0, 0, 131072, 6},
    {"26b-a4b", 2816, 30, 2112, 16, 8, 2, 1024, 0, 0, 0, 1, 128, 8, 704, 262144, 6},
    {"31b", 5376, 60, 21504, 32, 16, 4, 1024, 0, 0, 0, 1, 0, 0, 0, 262144, 6},
};

static void check_real(const char *root, const expect *e) {
    char dir[512], name[128], err[1024] = "";
    snprintf(dir, sizeof dir, "%s/%s", root, e->shape);
    syn_opts o = {e->shape, ST_BF16, 7, 1};
    int rc = syn_write(dir, &o, err, sizeof err);
    snprintf(name, sizeof name, "synth %s --config-only", e->shape);
    T_CHECK(rc == 0, name, "%s", err);
    snprintf(name, sizeof name, "synth %s: no weights with --config-only", e->shape);
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    T_CHECK(access(path, F_OK) != 0, name, "%s exists", path);
    cfg_model c;
    rc = cfg_load(&c, dir, err, sizeof err);
    snprintf(name, sizeof name, "synth %s: config parses back", e->shape);
    T_CHECK(rc == 0, name, "%s", err);
    if (rc) return;
    int bad = 0, F = e->layers - e->shared;
    bad |= c.vocab != 262144 || c.ple_vocab != 262144 || c.hidden != e->hidden || c.n_layers != e->layers;
    bad |= c.inter != e->inter || c.n_heads != e->heads || c.n_kv_heads != e->kv || c.head_dim != 256;
    bad |= c.sliding_window != e->window || c.n_kv_shared != e->shared || c.double_wide_mlp != e->double_wide;
    bad |= c.ple_dim != e->ple || c.k_eq_v != e->k_eq_v || c.moe != (e->experts > 0) || c.max_pos != e->max_pos;
    bad |= e->experts && (c.n_experts != e->experts || c.top_k_experts != e->top_k || c.moe_inter != e->moe_inter);
    bad |= c.final_softcap != 30.0 || fabs(c.eps - 1e-6) > 1e-12 || !c.tie_embeddings || !c.nested;
    bad |= c.first_shared != F;
    snprintf(name, sizeof name, "synth %s: text_config values of spec 3.1", e->shape);
    T_CHECK(!bad, name, "hidden %d layers %d inter %d heads %d/%d window %d shared %d ple %d moe %d", c.hidden,
            c.n_layers, c.inter, c.n_heads, c.n_kv_heads, c.sliding_window, c.n_kv_shared, c.ple_dim, c.moe);
    int layer_bad = -1;
    for (int l = 0; l < c.n_layers && layer_bad < 0; l++) {
        int full = l % e->full_every == e->full_every - 1;
        int want_inter = e->inter * (e->double_wide && l >= F ? 2 : 1);
        if ((c.type[l] == CFG_FULL) != full || c.layer_head_dim[l] != (full ? 512 : 256) ||
            c.layer_kv_heads[l] != (full ? e->full_kv : e->kv) || c.layer_inter[l] != want_inter)
            layer_bad = l;
        /* KV-shared layers read the last owning layer of their type: F-2 (sliding) or F-1 (full) here. */
        if (l >= F && c.kv_source[l] != (full ? F - 1 : F - 2)) layer_bad = l;
        if (l < F && c.kv_source[l] != l) layer_bad = l;
    }
    snprintf(name, sizeof name, "synth %s: per-layer type, head dim, KV heads, MLP width, KV source", e->shape);
    T_CHECK(layer_bad < 0, name, "layer %d differs", layer_bad);
    snprintf(name, sizeof name, "synth %s: rope of both layer types", e->shape);
    T_CHECK(c.rope[CFG_SLIDING].theta == 1e4 && c.rope[CFG_FULL].theta == 1e6 && c.rope[CFG_FULL].partial_rotary == 0.25 &&
                !strcmp(c.rope[CFG_FULL].rope_type, "proportional"),
            name, "thetas %g %g", c.rope[CFG_SLIDING].theta, c.rope[CFG_FULL].theta);
    snprintf(name, sizeof name, "synth %s: -it generation config", e->shape);
    T_CHECK(c.n_eos == 3 && c.eos_ids[0] == 1 && c.eos_ids[1] == 106 && c.eos_ids[2] == 50 && c.do_sample &&
                c.temperature == 1.0 && c.top_k == 64 && fabs(c.top_p - 0.95) < 1e-9 && c.bos_id == 2 && c.pad_id == 0,
            name, "%d eos, top_k %d, top_p %g", c.n_eos, c.top_k, c.top_p);
    if (!strcmp(e->shape, "e2b")) {
        /* perf-baseline.md: E2B streams 4.56 GB per token in bf16; its q8_0 figure 2.44 GB. */
        double bf = syn_decode_bytes(&c, K_BF16, K_BF16), q8 = syn_decode_bytes(&c, K_BF16, K_Q8);
        T_CHECK(fabs(bf / 4.56e9 - 1) < 0.01, "synth e2b: bf16 bytes per token = 4.56 GB", "%.4g", bf);
        T_CHECK(fabs(q8 / 2.44e9 - 1) < 0.02, "synth e2b: q8 bytes per token ~ 2.44 GB", "%.4g", q8);
    }
    if (!strcmp(e->shape, "26b-a4b")) {
        /* "A4B": about 4 B parameters are active per token. */
        double active = syn_decode_bytes(&c, K_BF16, K_BF16) / 2;
        T_CHECK(active > 3.5e9 && active < 4.5e9, "synth 26b-a4b: ~4 B active parameters per token", "%.4g", active);
    }
}

/* The full-size tokenizer: specials and bytes at their ids; text round-trips, with merges in use. */
static void check_tokenizer(const char *dir, int vocab, const char *label) {
    char path[600], err[1024] = "", name[128];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    tok_tokenizer *t = NULL;
    int rc = tok_load(&t, path, err, sizeof err);
    snprintf(name, sizeof name, "%s tokenizer loads", label);
    T_CHECK(rc == 0, name, "%s", err);
    if (rc) return;
    snprintf(name, sizeof name, "%s tokenizer: %d ids, specials and bytes at their ids", label, vocab);
    int ok = tok_vocab_size(t) == vocab && tok_id(t, "<turn|>") == 106 && tok_id(t, "<|turn>") == 105 &&
             tok_is_special(t, 106) && tok_id(t, "<0x41>") == 238 + 0x41 && tok_id(t, "\n") == 107 && !tok_is_special(t, 107);
    if (vocab > 258884) ok &= tok_id(t, "<|video|>") == 258884 && tok_is_special(t, 258884) && tok_id(t, "<|image>") == 255999;
    T_CHECK(ok, name, "vocab %d, <turn|> %d", tok_vocab_size(t), tok_id(t, "<turn|>"));
    static const char *const texts[] = {"Hello world, this is a test.\n\tTabs and  two spaces",
                                        "Caf\xc3\xa9 \xf0\x9f\x98\x8a na\xc3\xafve<turn|>after"};
    for (int i = 0; i < 2; i++) {
        int32_t *ids = NULL;
        size_t n = 0, len = 0;
        char *back = NULL;
        rc = tok_encode(t, texts[i], strlen(texts[i]), &ids, &n, err, sizeof err);
        if (!rc) rc = tok_decode(t, ids, n, 0, &back, &len, err, sizeof err);
        snprintf(name, sizeof name, "%s tokenizer: text %d round-trips, merges in use", label, i);
        T_CHECK(!rc && len == strlen(texts[i]) && !memcmp(back, texts[i], len) && n < strlen(texts[i]), name,
                "%s; %zu ids for %zu bytes", rc ? err : "", n, strlen(texts[i]));
        free(ids);
        free(back);
    }
    tok_free(t);
}

static const st_tensor *find(st_archive *a, const char *fmt, int l) {
    char n[160], full[200];
    snprintf(n, sizeof n, fmt, l);
    snprintf(full, sizeof full, "model.language_model.%s", n);
    return st_find(a, full);
}

static double stddev_bf16(const st_tensor *t) {
    const uint16_t *p = t->data;
    size_t n = t->nbytes / 2;
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double v = k_bf16_to_f32(p[i]);
        s += v, s2 += v * v;
    }
    return sqrt(s2 / n - (s / n) * (s / n));
}

/* Tensors of the tiny E2B-like shape: 6 layers [S,S,F,S,S,F], KV shared from layer 4, H 64, I 128. */
static void check_tiny_tensors(const char *dir) {
    char err[1024] = "";
    st_archive *a = NULL;
    int rc = st_open_dir(&a, dir, err, sizeof err);
    T_CHECK(rc == 0, "synth tiny: safetensors opens", "%s", err);
    if (rc) return;
    const st_tensor *q4 = find(a, "layers.%d.self_attn.q_proj.weight", 4), *k4 = find(a, "layers.%d.self_attn.k_proj.weight", 4);
    const st_tensor *v5 = find(a, "layers.%d.self_attn.v_proj.weight", 5), *kn4 = find(a, "layers.%d.self_attn.k_norm.weight", 4);
    T_CHECK(q4 && !k4 && !v5 && !kn4, "synth tiny: KV-shared layers have q_proj but no k/v projections", "%p %p", (void *)k4, (void *)v5);
    const st_tensor *v2 = find(a, "layers.%d.self_attn.v_proj.weight", 2), *k2 = find(a, "layers.%d.self_attn.k_proj.weight", 2);
    T_CHECK(v2 && k2 && k2->shape[0] == 32 && k2->shape[1] == 64, "synth tiny: full layer 2 has k/v of 1 head x 32",
            "k rows %lld", k2 ? (long long)k2->shape[0] : -1LL);
    const st_tensor *g3 = find(a, "layers.%d.mlp.gate_proj.weight", 3), *g4 = find(a, "layers.%d.mlp.down_proj.weight", 4);
    T_CHECK(g3 && g4 && g3->shape[0] == 128 && g4->shape[1] == 256, "synth tiny: double-wide MLP on shared layers only",
            "widths %lld %lld", g3 ? (long long)g3->shape[0] : -1LL, g4 ? (long long)g4->shape[1] : -1LL);
    const st_tensor *ple = find(a, "embed_tokens_per_layer.weight", 0), *lm = st_find(a, "lm_head.weight");
    T_CHECK(ple && ple->shape[0] == 4096 && ple->shape[1] == 6 * 32 && !lm, "synth tiny: PLE table [4096, L*P], tied head",
            "%p", (void *)ple);
    const st_tensor *emb = find(a, "embed_tokens.weight", 0), *nw = find(a, "layers.%d.input_layernorm.weight", 1);
    const st_tensor *ls = find(a, "layers.%d.layer_scalar", 3);
    double sd = emb && emb->dtype == ST_BF16 ? stddev_bf16(emb) : 0;
    T_CHECK(fabs(sd / (1.2 / 8) - 1) < 0.05, "synth tiny: embedding ~ N(0, (1.2 / sqrt(64))^2)", "std %g", sd);
    int in_range = nw && ls && nw->dtype == ST_BF16;
    for (int i = 0; in_range && i < 64; i++) {
        float v = k_bf16_to_f32(((const uint16_t *)nw->data)[i]);
        in_range = v >= 0.79f && v <= 1.21f;
    }
    float s = ls && ls->dtype == ST_BF16 ? k_bf16_to_f32(*(const uint16_t *)ls->data) : 0;
    T_CHECK(in_range && s >= 0.59f && s <= 1.01f, "synth tiny: norm weights near 1, layer scalar in (0.6, 1)", "scalar %g", s);
    st_free(a);
}

static void check_moe_tensors(const char *dir) {
    char err[1024] = "";
    st_archive *a = NULL;
    int rc = st_open_dir(&a, dir, err, sizeof err);
    T_CHECK(rc == 0, "synth tiny-moe: safetensors opens", "%s", err);
    if (rc) return;
    const st_tensor *gu = find(a, "layers.%d.experts.gate_up_proj", 0), *dn = find(a, "layers.%d.experts.down_proj", 0);
    T_CHECK(gu && dn && gu->ndim == 3 && gu->shape[0] == 8 && gu->shape[1] == 64 && gu->shape[2] == 64 && dn->shape[1] == 64 &&
                dn->shape[2] == 32,
            "synth tiny-moe: experts [E, 2M, H] and [E, H, M]", "%p %p", (void *)gu, (void *)dn);
    const st_tensor *v2 = find(a, "layers.%d.self_attn.v_proj.weight", 2), *k2 = find(a, "layers.%d.self_attn.k_proj.weight", 2);
    const st_tensor *v1 = find(a, "layers.%d.self_attn.v_proj.weight", 1), *r = find(a, "layers.%d.router.per_expert_scale", 5);
    T_CHECK(!v2 && k2 && k2->shape[0] == 32 && v1 && v1->shape[0] == 32 && r && r->shape[0] == 8,
            "synth tiny-moe: K=V full layers have no v_proj and 1 global KV head", "%p %p", (void *)v2, (void *)k2);
    st_free(a);
}

/* A few tokens through gm: finite logits with a real spread, and an arg-max that depends on the input. */
static void check_forward(const char *dir, const char *label) {
    char err[1024] = "", name[128];
    gm_model *m = NULL;
    gm_session *s = NULL;
    gm_load_opts o = {1, NULL, NULL};
    int rc = gm_load(&m, dir, &o, err, sizeof err);
    snprintf(name, sizeof name, "%s: gm_load", label);
    T_CHECK(rc == 0, name, "%s", err);
    if (rc) return;
    int V = gm_config(m)->vocab, distinct = 0, finite = 1, tops[6];
    float *logits = malloc((size_t)V * sizeof *logits);
    double spread = 1e9;
    for (int i = 0; i < 6 && logits; i++) {
        int32_t ids[5] = {2, 105, 600 + 97 * i, 1000 + 31 * i, 2000 + 13 * i};
        if ((rc = gm_session_create(&s, m, 16, 0, err, sizeof err)) || (rc = gm_session_feed(s, ids, 5, logits, 0, err, sizeof err)))
            break;
        double sum = 0, sum2 = 0;
        for (int v = 0; v < V; v++) {
            finite &= isfinite(logits[v]) != 0;
            sum += logits[v], sum2 += (double)logits[v] * logits[v];
        }
        double sd = sqrt(sum2 / V - (sum / V) * (sum / V));
        if (sd < spread) spread = sd;
        tops[i] = smp_argmax(logits, V);
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= tops[j] == tops[i];
        distinct += !seen;
        gm_session_free(s);
        s = NULL;
    }
    snprintf(name, sizeof name, "%s: feeding 5 tokens works", label);
    T_CHECK(rc == 0 && logits, name, "%s", err);
    snprintf(name, sizeof name, "%s: logits finite with spread between 0.3 and 10", label);
    T_CHECK(finite && spread > 0.3 && spread < 10, name, "finite %d, smallest std %g", finite, spread);
    snprintf(name, sizeof name, "%s: top-1 varies with the input", label);
    T_CHECK(distinct >= 3, name, "%d distinct arg-max over 6 inputs", distinct);
    gm_session_free(s);
    free(logits);
    gm_free(m);
}

static int same_file(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = getc(fa), cb = getc(fb);
        same = ca == cb;
        if (ca == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void check_tiny(const char *root) {
    char d1[512], d2[512], d3[512], d4[512], err[1024] = "", f1[600], f2[600], f3[600];
    snprintf(d1, sizeof d1, "%s/tiny-a", root);
    snprintf(d2, sizeof d2, "%s/tiny-b", root);
    snprintf(d3, sizeof d3, "%s/tiny-c", root);
    snprintf(d4, sizeof d4, "%s/tiny-moe", root);
    syn_opts o = {"tiny", ST_BF16, 5, 0};
    int rc = syn_write(d1, &o, err, sizeof err);
    T_CHECK(rc == 0, "synth tiny writes", "%s", err);
    rc |= syn_write(d2, &o, err, sizeof err);
    o.seed = 6;
    rc |= syn_write(d3, &o, err, sizeof err);
    T_CHECK(rc == 0, "synth tiny writes with two seeds", "%s", err);
    snprintf(f1, sizeof f1, "%s/model.safetensors", d1);
    snprintf(f2, sizeof f2, "%s/model.safetensors", d2);
    snprintf(f3, sizeof f3, "%s/model.safetensors", d3);
    T_CHECK(same_file(f1, f2), "synth tiny: same seed, same bytes", NULL);
    T_CHECK(!same_file(f1, f3), "synth tiny: another seed, other weights", NULL);
    check_tiny_tensors(d1);
    check_forward(d1, "synth tiny bf16");
    check_tokenizer(d1, 4096, "synth tiny");
    syn_opts om = {"tiny-moe", ST_BF16, 5, 0};
    rc = syn_write(d4, &om, err, sizeof err);
    T_CHECK(rc == 0, "synth tiny-moe writes", "%s", err);
    check_moe_tensors(d4);
    check_forward(d4, "synth tiny-moe");
    o.dtype = ST_F32;
    rc = syn_write(d3, &o, err, sizeof err);
    T_CHECK(rc == 0, "synth tiny f32 writes", "%s", err);
    check_forward(d3, "synth tiny f32");
}

static void check_errors(const char *root) {
    char err[1024] = "", dir[512];
    syn_opts o = {"e3b", ST_BF16, 1, 1};
    snprintf(dir, sizeof dir, "%s/bad", root);
    T_CHECK(syn_write(dir, &o, err, sizeof err) < 0 && strstr(err, "e3b"), "synth: unknown shape refused by name", "%s", err);
    o.shape = "tiny";
    o.dtype = ST_I32;
    T_CHECK(syn_write(dir, &o, err, sizeof err) < 0 && strstr(err, "I32"), "synth: non-float dtype refused", "%s", err);
    o.dtype = ST_BF16;
    snprintf(dir, sizeof dir, "%s/tiny-a/config.json/sub", root);   /* below a regular file */
    T_CHECK(syn_write(dir, &o, err, sizeof err) < 0 && strstr(err, "config.json/sub"), "synth: unwritable directory named",
            "%s", err);
}

int main(void) {
    (void)t_data;   /* no fixtures: every input here is synthesized */
    const char *tmp = getenv("TMPDIR");
    char root[256];
    snprintf(root, sizeof root, "%s/gc-synth-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        T_CHECK(0, "synth: temporary directory", "%s", root);
        return t_exit();
    }
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) check_real(root, &real[i]);
    char e2b[600];
    snprintf(e2b, sizeof e2b, "%s/e2b", root);
    check_tokenizer(e2b, 262144, "synth e2b");
    check_tiny(root);
    check_errors(root);
    rm_tree(root);
    return t_exit();
}
