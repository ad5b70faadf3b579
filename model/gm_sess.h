/* Internal layout of gm_session, shared by gm_session.c (the cache) and gm.c (the forward pass). */
#ifndef GM_SESS_H
#define GM_SESS_H
#include "model/gm_int.h"

#define GM_CHUNK 128           /* tokens per pass through the layers; longer feeds are split */
#define GM_ATT_HEADS 8         /* query heads whose scores one attention task holds at once */

struct gm_session {
    gm_model *m;
    int ctx, pos, chunk, threads;
    int *cap;                  /* per layer: positions its K/V buffers hold (0: KV-shared layer) */
    float **kc, **vc;          /* per layer: [cap, nkv*d], position p at slot p % cap */
    /* scratch for one chunk of T <= chunk tokens */
    float *h, *a, *o, *y, *y1; /* [T, H] */
    float *q, *att;            /* [T, Nq*d] */
    float *k, *v;              /* [T, Nkv*d] */
    float *g, *u;              /* [T, I] */
    float *ple;                /* [T, L*P] per-layer inputs */
    float *pg;                 /* [T, P] */
    float *ple_row;            /* [L*P] one row of the per-layer embedding table */
    float *raw;                /* [max(H, L*P)] a table row as stored, before widening */
    float *rope;               /* [d] one position's RoPE table (k_rope_table) */
    float *router;             /* MoE: [T, E] router probabilities */
    float *xe, *xg, *acc;      /* MoE: [T, H] expert input, gathered rows, weighted expert sum */
    int *pick, *rows;          /* MoE: [T, k] chosen experts; [T] rows routed to one expert */
    float *pick_w, *row_w;     /* MoE: their weights */
    float **scores;            /* per thread: [GM_ATT_HEADS, ctx] attention scores */
};
#endif
