/* The Gemma 4 text decoder's forward pass over a chunk of new tokens on top of the session's cache.
 * Reads alongside spec/gemma4-text.md §1–§2; step numbers in comments are the spec's.  No SIMD here:
 * the arithmetic is in kernels/. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "model/gm_sess.h"

/* Y[T, W.rows] = X[T, W.cols] · Wᵀ */
static void linear(gm_session *s, const k_mat *W, const float *X, int T, float *Y) {
    if (T == 1) k_matvec(s->m->pool, W, X, Y);
    else k_matmul(s->m->pool, W, X, T, Y);
}

static void rms_rows(float *out, const float *x, const float *w, int T, int64_t n, float eps) {
    for (int t = 0; t < T; t++) k_rmsnorm(out + t * n, x + t * n, w, n, eps);
}

/* Row id of an embedding table as f32: read, not touched through the mapping (st_read says why). */
static void lookup(gm_session *s, const k_mat *W, int32_t id, float *out) {
    size_t rb = k_row_bytes(W->type, W->cols);
    st_read(s->m->st, (const char *)W->data + (size_t)id * rb, rb, s->raw);
    k_mat row = {W->type, 1, W->cols, s->raw};
    k_row_to_f32(&row, 0, out);
}

/* Steps 1–2: scaled embeddings into s->h and, with PLE, the per-layer inputs into s->ple. */
static void embed(gm_session *s, const int32_t *ids, int T) {
    const gm_model *m = s->m;
    const cfg_model *c = &m->cfg;
    int64_t H = c->hidden, P = c->ple_dim, LP = (int64_t)c->n_layers * P;
    const float scale = (float)sqrt((double)H);
    for (int t = 0; t < T; t++) {
        float *x = s->h + t * H;
        lookup(s, &m->embed, ids[t], x);
        for (int64_t i = 0; i < H; i++) x[i] *= scale;
    }
    if (P <= 0) return;
    linear(s, &m->ple_model_proj, s->h, T, s->ple);                 /* 2b, from the scaled embedding */
    const float proj_scale = (float)(1.0 / sqrt((double)H)), row_scale = (float)sqrt((double)P);
    const float mix = (float)(1.0 / sqrt(2.0));
    for (int t = 0; t < T; t++) {
        float *b = s->ple + t * LP;
        for (int64_t i = 0; i < LP; i++) b[i] *= proj_scale;
        for (int l = 0; l < c->n_layers; l++) k_rmsnorm(b + l * P, b + l * P, m->ple_norm, P, (float)c->eps);
        lookup(s, &m->ple_embed, ids[t], s->ple_row);               /* 2a: only this row is read */
        for (int64_t i = 0; i < LP; i++) b[i] = (s->ple_row[i] * row_scale + b[i]) * mix;   /* 2c */
    }
}

typedef struct {
    gm_session *s;
    const gm_layer *ly;
    int l, T, p0;
} attn_job;

/* Steps 8–10 for (token, query head) pairs: scores over the allowed keys, softmax, weighted values.
 * Heads that share a KV head go through its rows together, up to GM_ATT_HEADS at a time, so each K
 * and V row is read once for all of them and not once per head (8 times on E2B: at a context of 512
 * that was 280 MB per token from the caches). */
static void attn_task(void *arg, int64_t begin, int64_t end, int tid) {
    const attn_job *j = arg;
    gm_session *s = j->s;
    const cfg_model *c = &s->m->cfg;
    int src = c->kv_source[j->l], d = j->ly->d, nq = c->n_heads, nkv = j->ly->nkv;
    int cap = s->cap[src], group = nq / nkv;
    const float *K = s->kc[src], *V = s->vc[src];
    float *sc = s->scores[tid];                      /* [nh, nk] */
    for (int64_t it = begin; it < end;) {
        int t = (int)(it / nq), n0 = (int)(it % nq), g = n0 / group;
        int64_t stop = (int64_t)t * nq + (int64_t)(g + 1) * group;
        if (stop > end) stop = end;
        if (stop > it + GM_ATT_HEADS) stop = it + GM_ATT_HEADS;
        int nh = (int)(stop - it), p = j->p0 + t;
        int lo = c->type[j->l] == CFG_SLIDING ? p - c->sliding_window + 1 : 0;
        if (lo < 0) lo = 0;
        int nk = p - lo + 1;
        const float *q = s->q + ((size_t)t * nq + n0) * d;
        float *o = s->att + ((size_t)t * nq + n0) * d;
        for (int k = lo; k <= p; k++) {
            const float *kr = K + ((size_t)(k % cap) * nkv + g) * d;
            for (int h = 0; h < nh; h++) sc[h * nk + k - lo] = k_dot(q + (size_t)h * d, kr, d);
        }
        for (int h = 0; h < nh; h++) k_softmax(sc + h * nk, nk);
        memset(o, 0, (size_t)nh * d * sizeof *o);
        for (int k = lo; k <= p; k++) {
            const float *vr = V + ((size_t)(k % cap) * nkv + g) * d;
            for (int h = 0; h < nh; h++) k_axpy(o + (size_t)h * d, sc[h * nk + k - lo], vr, d);
        }
        it = stop;
    }
}

/* Steps 4–12. */
static void attention(gm_session *s, int l, int T, int p0) {
    const gm_model *m = s->m;
    const cfg_model *c = &m->cfg;
    const gm_layer *ly = &m->layers[l];
    int64_t H = c->hidden;
    int d = ly->d, nq = c->n_heads, nkv = ly->nkv;
    float eps = (float)c->eps;
    rms_rows(s->a, s->h, ly->in_norm, T, H, eps);                                  /* 4 */
    int own = c->kv_source[l] == l;
    if (T == 1) {                                    /* decode: q, k and v in one job (5, 7) */
        const k_mat *W[3] = {&ly->q, &ly->k, &ly->v};
        const float *X[3] = {s->a, s->a, s->a};
        float *Y[3] = {s->q, s->k, s->v};
        k_matvec_n(m->pool, own ? (ly->v.data ? 3 : 2) : 1, W, X, Y);
    } else {
        linear(s, &ly->q, s->a, T, s->q);                                          /* 5 */
        if (own) linear(s, &ly->k, s->a, T, s->k);
        if (own && ly->v.data) linear(s, &ly->v, s->a, T, s->v);
    }
    if (own && !ly->v.data) memcpy(s->v, s->k, (size_t)T * nkv * d * sizeof(float));   /* V = raw K */
    for (int t = 0; t < T; t++) {
        k_rope_table(s->rope, d, ly->inv_freq, p0 + t);
        for (int n = 0; n < nq; n++) {                                             /* 6 */
            float *q = s->q + ((size_t)t * nq + n) * d;
            k_rmsnorm(q, q, ly->q_norm, d, eps);
            k_rope_apply(q, d, s->rope);
        }
        if (!own) continue;
        for (int g = 0; g < nkv; g++) {                                            /* 7 */
            float *k = s->k + ((size_t)t * nkv + g) * d, *v = s->v + ((size_t)t * nkv + g) * d;
            k_rmsnorm(k, k, ly->k_norm, d, eps);
            k_rope_apply(k, d, s->rope);
            k_rmsnorm(v, v, NULL, d, eps);
        }
        size_t slot = (size_t)((p0 + t) % s->cap[l]) * nkv * d;
        memcpy(s->kc[l] + slot, s->k + (size_t)t * nkv * d, (size_t)nkv * d * sizeof(float));
        memcpy(s->vc[l] + slot, s->v + (size_t)t * nkv * d, (size_t)nkv * d * sizeof(float));
    }
    attn_job job = {s, ly, l, T, p0};
    int64_t keys = c->type[l] == CFG_SLIDING && c->sliding_window < p0 + T ? c->sliding_window : p0 + T;
    int64_t grain = 1;                     /* hand a thread at least ~64K multiply-adds, or do it here */
    while (grain * keys * d * 2 < 65536 && grain < (int64_t)T * nq) grain *= 2;
    int64_t share = ((int64_t)T * nq + s->threads - 1) / s->threads, group = nq / nkv;
    int64_t together = group < share ? group : share;      /* the heads of a KV head in one task */
    if (grain < together) grain = together;
    k_pool_run(m->pool, attn_task, &job, (int64_t)T * nq, grain);                  /* 8–10 */
    linear(s, &ly->o, s->att, T, s->o);                                            /* 11 */
    rms_rows(s->o, s->o, ly->post_attn_norm, T, H, eps);                           /* 12 */
    for (int64_t i = 0; i < T * H; i++) s->h[i] += s->o[i];
}

/* Gated GELU MLP: out = W_down(gelu(W_gate x) * W_up x). */
static void mlp(gm_session *s, const k_mat *gate, const k_mat *up, const k_mat *down, const float *x, int T, float *out) {
    int64_t I = gate->rows;
    if (T == 1) {                                    /* decode: gate and up in one job */
        const k_mat *W[2] = {gate, up};
        const float *X[2] = {x, x};
        float *Y[2] = {s->g, s->u};
        k_matvec_n(s->m->pool, 2, W, X, Y);
    } else {
        linear(s, gate, x, T, s->g);
        linear(s, up, x, T, s->u);
    }
    k_gelu_mul(s->g, s->u, (int64_t)T * I);
    linear(s, down, s->g, T, out);
}

/* §2 router for T tokens: picks the top-k experts of each token and their weights (renormalised,
 * times per_expert_scale) into s->pick / s->pick_w [T, k]. */
static void route(gm_session *s, const gm_layer *ly, int T) {
    const cfg_model *c = &s->m->cfg;
    int64_t H = c->hidden;
    int E = c->n_experts, K = c->top_k_experts;
    const float rs = (float)(1.0 / sqrt((double)H));
    for (int t = 0; t < T; t++) {                       /* router input: RMS_∅(h) · s_r / √H */
        float *u = s->xg + t * H;
        k_rmsnorm(u, s->h + t * H, NULL, H, (float)c->eps);
        for (int64_t i = 0; i < H; i++) u[i] *= ly->router_scale[i] * rs;
    }
    linear(s, &ly->router, s->xg, T, s->router);
    for (int t = 0; t < T; t++) {
        float *p = s->router + (size_t)t * E, sum = 0;
        int *pick = s->pick + t * K;
        float *w = s->pick_w + t * K;
        k_softmax(p, E);
        for (int k = 0; k < K; k++) {                   /* top-k by probability, lowest id on ties */
            int best = -1;
            for (int e = 0; e < E; e++) {
                int taken = 0;
                for (int q = 0; q < k; q++) taken |= pick[q] == e;
                if (!taken && (best < 0 || p[e] > p[best])) best = e;
            }
            pick[k] = best;
            sum += w[k] = p[best];
        }
        for (int k = 0; k < K; k++) w[k] = w[k] / sum * ly->expert_scale[pick[k]];
    }
}

#define DECODE_EXPERTS 64

/* §2 experts: each expert runs once over the tokens routed to it (a matrix product in prefill);
 * s->acc[T, H] receives Σ ω_e · out_e. */
static void experts(gm_session *s, const gm_layer *ly, int T) {
    const cfg_model *c = &s->m->cfg;
    int64_t H = c->hidden, M = c->moe_inter;
    int E = c->n_experts, K = c->top_k_experts;
    rms_rows(s->xe, s->h, ly->pre_ff2_norm, T, H, (float)c->eps);
    route(s, ly, T);
    memset(s->acc, 0, (size_t)T * H * sizeof(float));
    if (T == 1 && K <= DECODE_EXPERTS && K <= s->chunk) {   /* decode: one job per stage for all K experts */
        const k_mat *W[DECODE_EXPERTS];
        const float *X[DECODE_EXPERTS];
        float *Y[DECODE_EXPERTS];
        for (int k = 0; k < K; k++) W[k] = &ly->exp_gate_up[s->pick[k]], X[k] = s->xe, Y[k] = s->g + k * 2 * M;
        k_matvec_n(s->m->pool, K, W, X, Y);
        for (int k = 0; k < K; k++) {
            k_gelu_mul(Y[k], Y[k] + M, M);
            W[k] = &ly->exp_down[s->pick[k]], X[k] = Y[k];
        }
        for (int k = 0; k < K; k++) Y[k] = s->o + k * H;
        k_matvec_n(s->m->pool, K, W, X, Y);
        for (int k = 0; k < K; k++) k_axpy(s->acc, s->pick_w[k], Y[k], H);
        return;
    }
    for (int e = 0; e < E; e++) {
        int n = 0;
        for (int t = 0; t < T; t++)
            for (int k = 0; k < K; k++)
                if (s->pick[t * K + k] == e) {
                    s->rows[n] = t;
                    s->row_w[n] = s->pick_w[t * K + k];
                    memcpy(s->xg + n * H, s->xe + t * H, (size_t)H * sizeof(float));
                    n++;
                }
        if (!n) continue;                                /* never touched: its pages stay unread */
        linear(s, &ly->exp_gate_up[e], s->xg, n, s->g);  /* [n, 2M]: gate rows first, then up */
        for (int r = 0; r < n; r++) {
            float *g = s->g + (int64_t)r * 2 * M;
            k_gelu_mul(g, g + M, M);
            memmove(s->u + r * M, g, (size_t)M * sizeof(float));
        }
        linear(s, &ly->exp_down[e], s->u, n, s->o);
        for (int r = 0; r < n; r++) k_axpy(s->acc + s->rows[r] * H, s->row_w[r], s->o + r * H, H);
    }
}

/* Steps 13–15, or §2 for MoE layers. */
static void feed_forward(gm_session *s, int l, int T) {
    const gm_model *m = s->m;
    const cfg_model *c = &m->cfg;
    const gm_layer *ly = &m->layers[l];
    int64_t H = c->hidden;
    float eps = (float)c->eps;
    rms_rows(s->a, s->h, ly->pre_ff_norm, T, H, eps);
    mlp(s, &ly->gate, &ly->up, &ly->down, s->a, T, s->y);
    if (c->moe) {
        rms_rows(s->y, s->y, ly->post_ff1_norm, T, H, eps);                       /* y1 */
        experts(s, ly, T);
        rms_rows(s->acc, s->acc, ly->post_ff2_norm, T, H, eps);                   /* y2 */
        for (int64_t i = 0; i < T * H; i++) s->y[i] += s->acc[i];
    }
    rms_rows(s->y, s->y, ly->post_ff_norm, T, H, eps);
    for (int64_t i = 0; i < T * H; i++) s->h[i] += s->y[i];
}

/* Steps 16–17. */
static void per_layer_input(gm_session *s, int l, int T) {
    const gm_model *m = s->m;
    const cfg_model *c = &m->cfg;
    const gm_layer *ly = &m->layers[l];
    int64_t H = c->hidden, P = c->ple_dim, LP = (int64_t)c->n_layers * P;
    linear(s, &ly->ple_gate, s->h, T, s->pg);
    for (int t = 0; t < T; t++) {
        float *g = s->pg + t * P;
        const float *p = s->ple + t * LP + l * P;
        for (int64_t i = 0; i < P; i++) g[i] = k_gelu_tanh(g[i]) * p[i];
    }
    linear(s, &ly->ple_proj, s->pg, T, s->o);
    rms_rows(s->o, s->o, ly->post_ple_norm, T, H, (float)c->eps);
    for (int64_t i = 0; i < T * H; i++) s->h[i] += s->o[i];
}

/* Steps 19–21 for rows [first, T) of the chunk, into out[(T - first), V]. */
static void logits(gm_session *s, int first, int T, float *out) {
    const gm_model *m = s->m;
    const cfg_model *c = &m->cfg;
    int64_t H = c->hidden, V = c->vocab, n = T - first;
    rms_rows(s->a, s->h + first * H, m->final_norm, (int)n, H, (float)c->eps);
    linear(s, &m->head, s->a, (int)n, out);
    if (c->final_softcap > 0) {
        float cap = (float)c->final_softcap;
        k_softcap(out, n * V, cap);
    }
}

static void forward_chunk(gm_session *s, const int32_t *ids, int T, float *out, int all_rows) {
    const cfg_model *c = &s->m->cfg;
    int p0 = s->pos;
    embed(s, ids, T);
    for (int l = 0; l < c->n_layers; l++) {
        attention(s, l, T, p0);
        feed_forward(s, l, T);
        if (c->ple_dim > 0) per_layer_input(s, l, T);
        float sc = s->m->layers[l].scalar;                                         /* 18 */
        if (sc != 1.0f)
            for (int64_t i = 0; i < (int64_t)T * c->hidden; i++) s->h[i] *= sc;
    }
    s->pos += T;
    if (out) logits(s, all_rows ? 0 : T - 1, T, out);
}

int gm_session_feed(gm_session *s, const int32_t *ids, int n, float *out, int all_rows, char *err, size_t errlen) {
    const cfg_model *c = &s->m->cfg;
    if (n <= 0) {
        snprintf(err, errlen, "nothing to feed");
        return -1;
    }
    if (n > s->ctx - s->pos) {
        snprintf(err, errlen, "context full: %d tokens do not fit (%d of %d positions used)", n, s->pos, s->ctx);
        return -1;
    }
    int limit = c->ple_dim > 0 && c->ple_vocab < c->vocab ? c->ple_vocab : c->vocab;
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= limit) {
            snprintf(err, errlen, "token id %d is out of range (vocabulary size %d)", ids[i], limit);
            return -1;
        }
    for (int done = 0; done < n;) {
        int T = n - done < s->chunk ? n - done : s->chunk;
        int last = done + T == n;
        float *rows = NULL;
        if (out && all_rows) rows = out + (size_t)done * c->vocab;
        else if (out && last) rows = out;
        forward_chunk(s, ids + done, T, rows, all_rows);
        done += T;
    }
    return 0;
}
