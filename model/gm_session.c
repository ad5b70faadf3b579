/* Sessions: the KV cache of one conversation, kept between calls.  Layers that own K/V keep them
 * per position; full-attention layers linearly (ctx positions), sliding layers in a ring of
 * window + chunk + rewind positions — the window for the queries of one chunk, plus how far
 * gm_session_truncate may go back without recomputation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/gm_sess.h"

int gm_session_create(gm_session **out, gm_model *m, int ctx, int rewind, char *err, size_t errlen) {
    const cfg_model *c = &m->cfg;
    *out = NULL;
    if (ctx <= 0 || rewind < 0) {
        snprintf(err, errlen, "context length must be positive (got %d)", ctx);
        return -1;
    }
    gm_session *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    s->m = m;
    s->ctx = ctx;
    s->chunk = GM_CHUNK;
    int L = c->n_layers;
    s->cap = calloc((size_t)L, sizeof *s->cap);
    s->kc = calloc((size_t)L, sizeof *s->kc);
    s->vc = calloc((size_t)L, sizeof *s->vc);
    if (!s->cap || !s->kc || !s->vc) goto oom;
    for (int l = 0; l < L; l++) {
        if (c->kv_source[l] != l) continue;
        int cap = ctx;
        if (c->type[l] == CFG_SLIDING) {
            long long ring = (long long)c->sliding_window + s->chunk + rewind;
            if (ring < cap) cap = (int)ring;
        }
        size_t row = (size_t)m->layers[l].nkv * m->layers[l].d;
        s->cap[l] = cap;
        s->kc[l] = calloc((size_t)cap * row, sizeof(float));
        s->vc[l] = calloc((size_t)cap * row, sizeof(float));
        if (!s->kc[l] || !s->vc[l]) {
            snprintf(err, errlen, "not enough memory for a KV cache of %d positions", ctx);
            gm_session_free(s);
            return -1;
        }
    }
    size_t T = (size_t)s->chunk, H = (size_t)c->hidden;
    size_t LP = (size_t)c->n_layers * (size_t)c->ple_dim;
    size_t I = (size_t)gm_max_inter(m), Q = (size_t)gm_max_q(m), KV = (size_t)gm_max_kv(m);
    s->threads = k_pool_threads(m->pool);
    float **bufs[] = {&s->h, &s->a, &s->o, &s->y, &s->y1, &s->q, &s->k, &s->v, &s->att, &s->g, &s->u, &s->ple, &s->pg, &s->ple_row, &s->raw, &s->rope};
    size_t sizes[] = {T * H, T * H, T * H, T * H, T * H, T * Q, T * KV, T * KV, T * Q, T * I, T * I, T * LP + 1, T * (size_t)c->ple_dim + 1, LP + 1, (LP > H ? LP : H) + 1, Q};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (!(*bufs[i] = malloc(sizes[i] * sizeof(float)))) goto oom;
    if (c->moe) {
        size_t TK = T * (size_t)c->top_k_experts;
        s->router = malloc(T * (size_t)c->n_experts * sizeof(float));
        s->xe = malloc(T * H * sizeof(float));
        s->xg = malloc(T * H * sizeof(float));
        s->acc = malloc(T * H * sizeof(float));
        s->pick = malloc(TK * sizeof(int));
        s->pick_w = malloc(TK * sizeof(float));
        s->rows = malloc(T * sizeof(int));
        s->row_w = malloc(T * sizeof(float));
        if (!s->router || !s->xe || !s->xg || !s->acc || !s->pick || !s->pick_w || !s->rows || !s->row_w) goto oom;
    }
    s->scores = calloc((size_t)s->threads, sizeof *s->scores);
    if (!s->scores) goto oom;
    for (int t = 0; t < s->threads; t++)
        if (!(s->scores[t] = malloc((size_t)GM_ATT_HEADS * ctx * sizeof(float)))) goto oom;
    *out = s;
    return 0;
oom:
    snprintf(err, errlen, "out of memory for a session of %d positions", ctx);
    gm_session_free(s);
    return -1;
}

void gm_session_free(gm_session *s) {
    if (!s) return;
    for (int l = 0; l < s->m->cfg.n_layers; l++) {
        if (s->kc) free(s->kc[l]);
        if (s->vc) free(s->vc[l]);
    }
    free(s->kc); free(s->vc); free(s->cap);
    float *bufs[] = {s->h, s->a, s->o, s->y, s->y1, s->q, s->k, s->v, s->att, s->g, s->u, s->ple, s->pg, s->ple_row, s->raw, s->rope, s->router, s->xe, s->xg, s->acc, s->pick_w, s->row_w};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    if (s->scores)
        for (int t = 0; t < s->threads; t++) free(s->scores[t]);
    free(s->scores);
    free(s->pick);
    free(s->rows);
    free(s);
}

int gm_session_pos(const gm_session *s) { return s->pos; }
int gm_session_ctx(const gm_session *s) { return s->ctx; }
void gm_session_reset(gm_session *s) { s->pos = 0; }

int gm_session_truncate(gm_session *s, int pos) {
    if (pos < 0) pos = 0;
    if (pos >= s->pos) return s->pos;
    const cfg_model *c = &s->m->cfg;
    /* A ring holding positions [s->pos - cap, s->pos) can serve a query at pos only if it still has
     * the pos - W + 1 .. pos - 1 window. */
    for (int l = 0; l < c->n_layers; l++) {
        if (!s->cap[l] || s->cap[l] >= s->pos || pos == 0) continue;
        long long need = (long long)pos - c->sliding_window + 1;
        if (need < 0) need = 0;
        if (need < (long long)s->pos - s->cap[l]) {
            pos = 0;
            break;
        }
    }
    s->pos = pos;
    return pos;
}
