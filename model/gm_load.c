/* Loading a checkpoint: config, safetensors (mmapped), and typed, shape-checked views of every weight
 * of the text decoder.  Matrices stay in the mapping; only small vectors are widened to f32 copies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/gm_int.h"
#include "model/quant.h"

typedef struct {
    gm_model *m;
    const char *dir;
    const char *prefix;        /* "model." or "model.language_model." */
    char *err;
    size_t errlen;
} loader;

static int fail_oom(loader *L) {
    snprintf(L->err, L->errlen, "out of memory while loading the weights");
    return -1;
}

/* Finds prefix+name and checks its shape (ndim dims; -1 = any).  Returns NULL with a message when it
 * is missing or has the wrong shape or dtype. */
static const st_tensor *find(loader *L, const char *name, int ndim, const int64_t *dims, int optional) {
    char full[512];
    snprintf(full, sizeof full, "%s%s", L->prefix, name);
    const st_tensor *t = st_find(L->m->st, full);
    if (!t) {
        if (!optional) snprintf(L->err, L->errlen, "%s: missing tensor '%s'", L->dir, full);
        return NULL;
    }
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = dims[i] < 0 || t->shape[i] == dims[i];
    if (!ok) {
        char got[128] = "", want[128] = "";
        for (int i = 0; i < t->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        for (int i = 0; i < ndim; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? ", " : "", (long long)dims[i]);
        snprintf(L->err, L->errlen, "%s: tensor '%s' has shape [%s], expected [%s]", t->file, full, got, want);
        return NULL;
    }
    if (t->dtype != ST_F32 && t->dtype != ST_BF16 && t->dtype != ST_F16) {
        snprintf(L->err, L->errlen, "%s: tensor '%s' has dtype %s; expected F32, BF16 or F16", t->file, full,
                 st_dtype_name(t->dtype));
        return NULL;
    }
    return t;
}

static k_type ktype(st_dtype d) { return d == ST_F32 ? K_F32 : d == ST_BF16 ? K_BF16 : K_F16; }

static int mat(loader *L, k_mat *out, const char *name, int64_t rows, int64_t cols, int optional) {
    int64_t dims[2] = {rows, cols};
    const st_tensor *t = find(L, name, 2, dims, optional);
    if (!t) return optional && !L->err[0] ? 1 : -1;
    *out = (k_mat){ktype(t->dtype), rows, cols, t->data};
    return 0;
}

static float *owned_floats(loader *L, size_t n) {
    gm_model *m = L->m;
    void **grown = realloc(m->owned, (m->n_owned + 1) * sizeof *grown);
    if (!grown) return NULL;
    m->owned = grown;
    float *v = calloc(n ? n : 1, sizeof *v);
    if (v) m->owned[m->n_owned++] = v;
    return v;
}

/* A 1-D weight widened to an owned f32 array. */
static int vec(loader *L, const float **out, const char *name, int64_t n) {
    const st_tensor *t = find(L, name, 1, &n, 0);
    if (!t) return -1;
    float *v = owned_floats(L, (size_t)n);
    if (!v) return fail_oom(L);
    k_mat row = {ktype(t->dtype), 1, n, t->data};
    k_row_to_f32(&row, 0, v);
    *out = v;
    return 0;
}

/* RoPE inverse frequencies of a layer: theta^(-2i/d) for the rotated pairs, 0 for the others
 * ("proportional": the exponent's denominator is the full head dim). */
static int rope_freqs(loader *L, gm_layer *ly, const cfg_rope *r) {
    int half = ly->d / 2;
    float *f = owned_floats(L, (size_t)half);
    if (!f) return fail_oom(L);
    int rotated = half;
    if (!strcmp(r->rope_type, "proportional")) rotated = (int)floor(r->partial_rotary * ly->d / 2.0);
    for (int i = 0; i < rotated && i < half; i++) f[i] = (float)(1.0 / pow(r->theta, 2.0 * i / ly->d));
    ly->inv_freq = f;
    return 0;
}

static int load_layer(loader *L, int l) {
    const cfg_model *c = &L->m->cfg;
    gm_layer *ly = &L->m->layers[l];
    char n[256];
    int64_t H = c->hidden;
    ly->d = c->layer_head_dim[l];
    ly->nkv = c->layer_kv_heads[l];
    ly->inter = c->layer_inter[l];
    int owns_kv = c->kv_source[l] == l;
    int64_t q_rows = (int64_t)c->n_heads * ly->d, kv_rows = (int64_t)ly->nkv * ly->d;
#define P(s) (snprintf(n, sizeof n, "layers.%d.%s", l, s), n)
    if (vec(L, &ly->in_norm, P("input_layernorm.weight"), H) || vec(L, &ly->post_attn_norm, P("post_attention_layernorm.weight"), H) ||
        vec(L, &ly->pre_ff_norm, P("pre_feedforward_layernorm.weight"), H) ||
        vec(L, &ly->post_ff_norm, P("post_feedforward_layernorm.weight"), H) ||
        vec(L, &ly->q_norm, P("self_attn.q_norm.weight"), ly->d) || mat(L, &ly->q, P("self_attn.q_proj.weight"), q_rows, H, 0) ||
        mat(L, &ly->o, P("self_attn.o_proj.weight"), H, q_rows, 0))
        return -1;
    if (owns_kv) {
        if (vec(L, &ly->k_norm, P("self_attn.k_norm.weight"), ly->d) || mat(L, &ly->k, P("self_attn.k_proj.weight"), kv_rows, H, 0))
            return -1;
        int k_eq_v = c->k_eq_v && c->type[l] == CFG_FULL;
        if (!k_eq_v && mat(L, &ly->v, P("self_attn.v_proj.weight"), kv_rows, H, 0)) return -1;
    }
    if (mat(L, &ly->gate, P("mlp.gate_proj.weight"), ly->inter, H, 0) || mat(L, &ly->up, P("mlp.up_proj.weight"), ly->inter, H, 0) ||
        mat(L, &ly->down, P("mlp.down_proj.weight"), H, ly->inter, 0))
        return -1;
    int64_t one = 1;
    const st_tensor *s = find(L, P("layer_scalar"), 1, &one, 1);
    if (!s && L->err[0]) return -1;
    ly->scalar = 1.0f;
    if (s) {
        k_mat row = {ktype(s->dtype), 1, 1, s->data};
        k_row_to_f32(&row, 0, &ly->scalar);
    }
    if (c->ple_dim > 0) {
        if (mat(L, &ly->ple_gate, P("per_layer_input_gate.weight"), c->ple_dim, H, 0) ||
            mat(L, &ly->ple_proj, P("per_layer_projection.weight"), H, c->ple_dim, 0) ||
            vec(L, &ly->post_ple_norm, P("post_per_layer_input_norm.weight"), H))
            return -1;
    }
    if (c->moe) {
        int64_t E = c->n_experts, M = c->moe_inter;
        if (vec(L, &ly->post_ff1_norm, P("post_feedforward_layernorm_1.weight"), H) ||
            vec(L, &ly->pre_ff2_norm, P("pre_feedforward_layernorm_2.weight"), H) ||
            vec(L, &ly->post_ff2_norm, P("post_feedforward_layernorm_2.weight"), H) || vec(L, &ly->router_scale, P("router.scale"), H) ||
            vec(L, &ly->expert_scale, P("router.per_expert_scale"), E) || mat(L, &ly->router, P("router.proj.weight"), E, H, 0))
            return -1;
        int64_t gu[3] = {E, 2 * M, H}, dn[3] = {E, H, M};
        const st_tensor *tgu = find(L, P("experts.gate_up_proj"), 3, gu, 0);
        if (!tgu) return -1;
        const st_tensor *tdn = find(L, P("experts.down_proj"), 3, dn, 0);
        if (!tdn) return -1;
        ly->exp_gate_up = calloc((size_t)E, sizeof *ly->exp_gate_up);
        ly->exp_down = calloc((size_t)E, sizeof *ly->exp_down);
        if (!ly->exp_gate_up || !ly->exp_down) return fail_oom(L);
        size_t gu_bytes = (size_t)(2 * M * H) * st_dtype_size(tgu->dtype), dn_bytes = (size_t)(H * M) * st_dtype_size(tdn->dtype);
        for (int64_t e = 0; e < E; e++) {
            ly->exp_gate_up[e] = (k_mat){ktype(tgu->dtype), 2 * M, H, (const char *)tgu->data + e * gu_bytes};
            ly->exp_down[e] = (k_mat){ktype(tdn->dtype), H, M, (const char *)tdn->data + e * dn_bytes};
        }
    }
#undef P
    return rope_freqs(L, ly, &c->rope[c->type[l]]);
}

/* Every matrix that is streamed per token, for quantization. */
static size_t collect_mats(gm_model *m, k_mat **mats, char (*names)[96], size_t cap) {
    size_t n = 0;
#define ADD(ptr, ...) do { if ((ptr)->data && n < cap) { mats[n] = (ptr); snprintf(names[n], 96, __VA_ARGS__); n++; } } while (0)
    ADD(&m->head, "head");
    ADD(&m->ple_model_proj, "per_layer_model_projection");
    for (int l = 0; l < m->cfg.n_layers; l++) {
        gm_layer *ly = &m->layers[l];
        ADD(&ly->q, "%d.q", l); ADD(&ly->k, "%d.k", l); ADD(&ly->v, "%d.v", l); ADD(&ly->o, "%d.o", l);
        ADD(&ly->gate, "%d.gate", l); ADD(&ly->up, "%d.up", l); ADD(&ly->down, "%d.down", l);
        ADD(&ly->ple_gate, "%d.ple_gate", l); ADD(&ly->ple_proj, "%d.ple_proj", l);
        if (m->cfg.moe)
            for (int e = 0; e < m->cfg.n_experts; e++) {
                ADD(&ly->exp_gate_up[e], "%d.e%d.gu", l, e);
                ADD(&ly->exp_down[e], "%d.e%d.d", l, e);
            }
    }
#undef ADD
    return n;
}

/* Room for every matrix collect_mats can list. */
static size_t mats_cap(const gm_model *m) {
    return 2 + (size_t)m->cfg.n_layers * (9 + 2 * (size_t)(m->cfg.moe ? m->cfg.n_experts : 0));
}

static size_t mat_bytes(const k_mat *w) { return (size_t)w->rows * k_row_bytes(w->type, w->cols); }

/* The matrices read whole for every token, straight from the checkpoint (not quantized). */
static void advise_streamed(gm_model *m) {
    size_t cap = mats_cap(m);
    k_mat **mats = malloc(cap * sizeof *mats);
    char (*names)[96] = malloc(cap * sizeof *names);
    if (mats && names) {   /* a hint: without memory for the list, it is not given */
        size_t n = collect_mats(m, mats, names, cap);
        for (size_t i = 0; i < n; i++) st_advise_streamed(mats[i]->data, mat_bytes(mats[i]));
    }
    free(mats);
    free(names);
}

static int quantize(gm_model *m, const char *dir, const gm_load_opts *o, char *err, size_t errlen) {
    k_type qt = !strcmp(o->quant, "q8") ? K_Q8 : !strcmp(o->quant, "q4") ? K_Q4 : K_NTYPES;
    if (qt == K_NTYPES) {
        snprintf(err, errlen, "unknown weight format '%s' (expected none, q8 or q4)", o->quant);
        return -1;
    }
    size_t cap = mats_cap(m);
    k_mat **mats = malloc(cap * sizeof *mats);
    char (*names)[96] = malloc(cap * sizeof *names);
    k_mat *flat = malloc(cap * sizeof *flat);
    const char **np = malloc(cap * sizeof *np);
    int rc = -1;
    if (!mats || !names || !flat || !np) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    size_t n = collect_mats(m, mats, names, cap);
    for (size_t i = 0; i < n; i++) flat[i] = *mats[i], np[i] = names[i];
    qnt_cache *qc = NULL;
    if (qnt_apply(dir, o->cache_dir, qt, np, flat, n, m->pool, &qc, err, errlen)) goto done;
    m->quant = qc;
    for (size_t i = 0; i < n; i++) *mats[i] = flat[i];
    snprintf(m->weights, sizeof m->weights, "%s", o->quant);
    rc = 0;
done:
    free(mats); free(names); free(flat); free(np);
    return rc;
}

int gm_load(gm_model **out, const char *dir, const gm_load_opts *opts, char *err, size_t errlen) {
    gm_load_opts def = {0};
    const gm_load_opts *o = opts ? opts : &def;
    *out = NULL;
    err[0] = 0;
    gm_model *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    loader L = {m, dir, "model.", err, errlen};
    if (cfg_load(&m->cfg, dir, err, errlen) || st_open_dir(&m->st, dir, err, errlen)) goto fail;
    const cfg_model *c = &m->cfg;
    if (st_find(m->st, "model.language_model.embed_tokens.weight")) L.prefix = "model.language_model.";
    int64_t V = c->vocab, H = c->hidden;
    if (mat(&L, &m->embed, "embed_tokens.weight", V, H, 0) || vec(&L, &m->final_norm, "norm.weight", H)) goto fail;
    snprintf(m->weights, sizeof m->weights, "%s", k_type_name(m->embed.type));
    m->head = m->embed;
    const st_tensor *lm = st_find(m->st, "lm_head.weight");   /* an untied checkpoint carries its own head */
    if (lm) {
        if (lm->ndim != 2 || lm->shape[0] != V || lm->shape[1] != H ||
            (lm->dtype != ST_F32 && lm->dtype != ST_BF16 && lm->dtype != ST_F16)) {
            snprintf(err, errlen, "%s: tensor 'lm_head.weight' must be F32/BF16/F16 of shape [%lld, %lld]", lm->file,
                     (long long)V, (long long)H);
            goto fail;
        }
        m->head = (k_mat){ktype(lm->dtype), V, H, lm->data};
    }
    if (c->ple_dim > 0) {
        int64_t LP = (int64_t)c->n_layers * c->ple_dim;
        if (mat(&L, &m->ple_embed, "embed_tokens_per_layer.weight", c->ple_vocab, LP, 0) ||
            mat(&L, &m->ple_model_proj, "per_layer_model_projection.weight", LP, H, 0) ||
            vec(&L, &m->ple_norm, "per_layer_projection_norm.weight", c->ple_dim))
            goto fail;
    }
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers) {
        fail_oom(&L);
        goto fail;
    }
    for (int l = 0; l < c->n_layers; l++)
        if (load_layer(&L, l)) goto fail;
    if (k_pool_create(&m->pool, o->threads, err, errlen)) goto fail;
    advise_streamed(m);   /* quantized too: building the cache streams them once, and reads them in 2 MB folios */
    if (o->quant && strcmp(o->quant, "none") && quantize(m, dir, o, err, errlen)) goto fail;
    *out = m;
    return 0;
fail:
    gm_free(m);
    return -1;
}

void gm_free(gm_model *m) {
    if (!m) return;
    if (m->layers)
        for (int l = 0; l < m->cfg.n_layers; l++) {
            free(m->layers[l].exp_gate_up);
            free(m->layers[l].exp_down);
        }
    free(m->layers);
    for (size_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    qnt_free(m->quant);
    k_pool_free(m->pool);
    st_free(m->st);
    free(m);
}

const cfg_model *gm_config(const gm_model *m) { return &m->cfg; }
const char *gm_weights_name(const gm_model *m) { return m->weights; }
k_pool *gm_pool(gm_model *m) { return m->pool; }

int gm_max_q(const gm_model *m) {
    int r = 0;
    for (int l = 0; l < m->cfg.n_layers; l++)
        if (m->cfg.n_heads * m->layers[l].d > r) r = m->cfg.n_heads * m->layers[l].d;
    return r;
}

int gm_max_kv(const gm_model *m) {
    int r = 0;
    for (int l = 0; l < m->cfg.n_layers; l++)
        if (m->layers[l].nkv * m->layers[l].d > r) r = m->layers[l].nkv * m->layers[l].d;
    return r;
}

int gm_max_inter(const gm_model *m) {
    int r = m->cfg.moe ? 2 * m->cfg.moe_inter : 0;
    for (int l = 0; l < m->cfg.n_layers; l++)
        if (m->layers[l].inter > r) r = m->layers[l].inter;
    return r;
}
