/* Internal layout of gm_model / gm_session, shared by gm_load.c (weights), gm_session.c (KV cache)
 * and gm.c (the forward pass).  Not part of the public API. */
#ifndef GM_INT_H
#define GM_INT_H
#include "model/gm.h"
#include "model/st.h"

typedef struct {
    /* attention */
    const float *in_norm, *post_attn_norm, *q_norm, *k_norm;   /* [H], [H], [d], [d] (k_norm NULL if shared) */
    k_mat q, k, v, o;          /* k/v .data NULL on KV-shared layers; v.data NULL when V = K (k_eq_v) */
    int d, nkv, inter;         /* head dim, KV heads, MLP width */
    const float *inv_freq;     /* [d/2] RoPE inverse frequencies (0 for pairs that do not rotate) */
    /* dense MLP */
    const float *pre_ff_norm, *post_ff_norm;
    k_mat gate, up, down;
    /* MoE (cfg.moe) */
    const float *post_ff1_norm, *pre_ff2_norm, *post_ff2_norm, *router_scale, *expert_scale;
    k_mat router;              /* [E, H] */
    k_mat *exp_gate_up;        /* E matrices [2M, H] (gate rows first) */
    k_mat *exp_down;           /* E matrices [H, M] */
    /* per-layer input (cfg.ple_dim > 0) */
    k_mat ple_gate, ple_proj;  /* [P, H], [H, P] */
    const float *post_ple_norm;
    float scalar;
} gm_layer;

struct gm_model {
    cfg_model cfg;
    st_archive *st;
    k_pool *pool;
    void *quant;               /* qnt_cache when quantized */
    char weights[16];
    k_mat embed;               /* [V, H] */
    k_mat head;                /* LM head: lm_head.weight or the tied embedding */
    k_mat ple_embed;           /* [Vp, L*P] — only looked up, never streamed */
    k_mat ple_model_proj;      /* [L*P, H] */
    const float *ple_norm;     /* [P] */
    const float *final_norm;   /* [H] */
    gm_layer *layers;
    void **owned;              /* f32 copies of the small vectors, freed with the model */
    size_t n_owned;
};

/* Largest sizes, for scratch buffers. */
int gm_max_q(const gm_model *m);      /* max Nq * d */
int gm_max_kv(const gm_model *m);     /* max Nkv * d */
int gm_max_inter(const gm_model *m);  /* max MLP / expert width (2M for experts) */
#endif
