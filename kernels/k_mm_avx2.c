/* AVX2 activation quantization and the multi-token quantized kernels behind k_matmul (prefill). */
#include "kernels/k_avx2.h"

#include <math.h>
#include <stdlib.h>

void k_quantize_x8_avx2(const float *x, int64_t n, const k_x8 *out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / K_QBLOCK; i++) {
        const float *s = x + i * K_QBLOCK;
        __m256 v[4] = { _mm256_loadu_ps(s), _mm256_loadu_ps(s + 8), _mm256_loadu_ps(s + 16), _mm256_loadu_ps(s + 24) };
        float amax = hmax(_mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                                        _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3]))));
        float d = amax / 127.0f, id = d > 0 ? 127.0f / amax : 0;
        if (!(id < INFINITY) || any_nan32(v)) {      /* leave non-finite input to the reference */
            k_x8 one = { out->q + i * K_QBLOCK, out->d + i, out->ds + i };
            k_quantize_x8_ref(s, K_QBLOCK, &one);
            continue;
        }
        __m256i q[4];
        for (int k = 0; k < 4; k++) q[k] = round_clamp8(_mm256_mul_ps(v[k], _mm256_set1_ps(id)), -127, 127);
        __m256i t = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        __m128i t4 = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
        t4 = _mm_add_epi32(t4, _mm_shuffle_epi32(t4, 0x4e));
        t4 = _mm_add_epi32(t4, _mm_shuffle_epi32(t4, 0xb1));
        _mm256_storeu_si256((__m256i *)(out->q + i * K_QBLOCK), pack32(q));
        out->d[i] = d;
        out->ds[i] = d * (float)_mm_cvtsi128_si32(t4);
    }
}

/* Register tiles of R rows x T tokens (R <= 4, T <= 2, constants after inlining): each weight
 * block is loaded and unpacked once for T tokens, each activation block once for R rows, and the
 * R * T accumulators stay in registers.  dw / mw: the rows' block scales (and q4 mins) as f32. */
typedef struct {
    const void *w[4];
    const float *dw[4], *mw[4];
    const int8_t *xq[2];
    const int8_t *xp[2];             /* q4: the tokens' activations arranged in pairs (rows_q4's layout) */
    const float *xd[2], *xds[2];
    float *y[2];                     /* where row 0's result for each token goes */
} tile;

#define UNROLL _Pragma("GCC unroll 8")

static inline __attribute__((always_inline)) void tile_run(const tile *tl, int64_t nb, int q4, int R, int T) {
    __m256 acc[4][2];
    _Alignas(32) float sc[4][2][8];
    UNROLL for (int k = 0; k < R; k++) UNROLL for (int t = 0; t < T; t++) acc[k][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i += 8) {
        int m = nb - i < 8 ? (int)(nb - i) : 8;
        if (m == 8) {
            UNROLL for (int k = 0; k < R; k++) {
                __m256 d = _mm256_loadu_ps(tl->dw[k] + i), mn = q4 ? _mm256_loadu_ps(tl->mw[k] + i) : d;
                UNROLL for (int t = 0; t < T; t++) {
                    _mm256_store_ps(sc[k][t], _mm256_mul_ps(d, _mm256_loadu_ps(tl->xd[t] + i)));
                    if (q4) acc[k][t] = _mm256_fmadd_ps(mn, _mm256_loadu_ps(tl->xds[t] + i), acc[k][t]);
                }
            }
        } else {
            float mt[4][2] = { { 0 } };
            for (int k = 0; k < R; k++)
                for (int t = 0; t < T; t++)
                    for (int j = 0; j < m; j++) {
                        sc[k][t][j] = tl->dw[k][i + j] * tl->xd[t][i + j];
                        if (q4) mt[k][t] += tl->mw[k][i + j] * tl->xds[t][i + j];
                    }
            /* acc is indexed only in fully unrolled loops, so that it stays in registers */
            UNROLL for (int k = 0; k < R; k++) UNROLL for (int t = 0; t < T; t++)
                acc[k][t] = _mm256_add_ps(acc[k][t], _mm256_setr_ps(mt[k][t], 0, 0, 0, 0, 0, 0, 0));
        }
        const uint8_t *gq[4];            /* this group's quants, 16 or 32 bytes per block */
        UNROLL for (int k = 0; k < R; k++) gq[k] = k_qblock(q4 ? K_Q4 : K_Q8, tl->w[k], nb, i).q;
        int j = 0;
        if (q4)                          /* pairs of blocks (k_avx2.h) */
            for (; j + 1 < m; j += 2) {
                int64_t b = i + j;
                __m256i idx = _mm256_setr_epi32(j, j, j, j, j + 1, j + 1, j + 1, j + 1);
                UNROLL for (int k = 0; k < R; k++) {
                    __m256i lo, hi;        /* unpacked once for T tokens */
                    pair_unpack(gq[k] + (size_t)j * (K_QBLOCK / 2), &lo, &hi);
                    UNROLL for (int t = 0; t < T; t++) {
                        __m256 sv = _mm256_permutevar8x32_ps(_mm256_load_ps(sc[k][t]), idx);
                        acc[k][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(pair_dot(lo, hi, tl->xp[t] + b * K_QBLOCK)), sv, acc[k][t]);
                    }
                }
            }
        for (; j < m; j++) {
            int64_t b = i + j;
            __m256i wv[4];
            UNROLL for (int k = 0; k < R; k++) {
                const uint8_t *wq = gq[k] + (size_t)j * (q4 ? K_QBLOCK / 2 : K_QBLOCK);
                wv[k] = q4 ? unpack_q4(wq) : _mm256_loadu_si256((const __m256i *)wq);
            }
            UNROLL for (int t = 0; t < T; t++) {
                __m256i xq = _mm256_loadu_si256((const __m256i *)(tl->xq[t] + b * K_QBLOCK));
                __m256i ax = q4 ? xq : _mm256_sign_epi8(xq, xq);
                UNROLL for (int k = 0; k < R; k++) {
                    __m256i p = q4 ? _mm256_maddubs_epi16(wv[k], xq) : _mm256_maddubs_epi16(ax, _mm256_sign_epi8(wv[k], xq));
                    __m256 s = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
                    acc[k][t] = _mm256_fmadd_ps(s, _mm256_broadcast_ss(&sc[k][t][j]), acc[k][t]);
                }
            }
        }
    }
    UNROLL for (int t = 0; t < T; t++) {
        if (R == 4) _mm_storeu_ps(tl->y[t], hsum4(acc[0][t], acc[1][t], acc[2][t], acc[3][t]));
        else UNROLL for (int k = 0; k < R; k++) tl->y[t][k] = hsum(acc[k][t]);
    }
}

static void tile_q8_4x2(const tile *t, int64_t nb) { tile_run(t, nb, 0, 4, 2); }
static void tile_q8_4x1(const tile *t, int64_t nb) { tile_run(t, nb, 0, 4, 1); }
static void tile_q8_1x2(const tile *t, int64_t nb) { tile_run(t, nb, 0, 1, 2); }
static void tile_q8_1x1(const tile *t, int64_t nb) { tile_run(t, nb, 0, 1, 1); }
static void tile_q4_4x2(const tile *t, int64_t nb) { tile_run(t, nb, 1, 4, 2); }
static void tile_q4_4x1(const tile *t, int64_t nb) { tile_run(t, nb, 1, 4, 1); }
static void tile_q4_1x2(const tile *t, int64_t nb) { tile_run(t, nb, 1, 1, 2); }
static void tile_q4_1x1(const tile *t, int64_t nb) { tile_run(t, nb, 1, 1, 1); }

/* Row r's block scales (and q4 mins) as f32, a full group per conversion. */
static void row_scales(const k_mat *W, int64_t r, float *d, float *m) {
    int64_t nb = W->cols / K_QBLOCK, i = 0;
    const uint8_t *row = (const uint8_t *)W->data + (size_t)r * k_row_bytes(W->type, W->cols);
    int q4 = W->type == K_Q4;
    for (; i + 8 <= nb; i += 8) {
        k_qref g = k_qblock(W->type, row, nb, i);
        _mm256_storeu_ps(d + i, ld_h8(g.d));
        if (q4) _mm256_storeu_ps(m + i, ld_h8(g.m));
    }
    for (; i < nb; i++) {
        k_qref b = k_qblock(W->type, row, nb, i);
        d[i] = _cvtsh_ss(k_ld16(b.d));
        if (q4) m[i] = _cvtsh_ss(k_ld16(b.m));
    }
}

void k_rows_x8n_avx2(const k_mat *W, const k_x8 *x, int64_t n, int64_t r0, int64_t r1, float *Y, int64_t ldy) {
    int64_t nb = W->cols / K_QBLOCK;
    size_t rb = k_row_bytes(W->type, W->cols);
    int q4 = W->type == K_Q4;
    float *sc = malloc((size_t)(8 * nb + 1) * sizeof *sc);     /* d and m of up to 4 rows */
    if (!sc || (W->type != K_Q8 && !q4)) {
        free(sc);
        k_rows_x8n_ref(W, x, n, r0, r1, Y, ldy);
        return;
    }
    void (*const fn[2][2][2])(const tile *, int64_t) = {
        { { tile_q8_1x1, tile_q8_1x2 }, { tile_q8_4x1, tile_q8_4x2 } },
        { { tile_q4_1x1, tile_q4_1x2 }, { tile_q4_4x1, tile_q4_4x2 } },
    };
    int64_t npb = nb / 2 * 2;           /* q4: blocks that go in pairs */
    int8_t *xp = q4 ? malloc((size_t)(n * npb * K_QBLOCK) + 1) : NULL;
    if (q4 && !xp) {
        free(sc);
        k_rows_x8n_ref(W, x, n, r0, r1, Y, ldy);
        return;
    }
    for (int64_t t = 0; q4 && t < n; t++) pairs_x8(x->q + t * nb * K_QBLOCK, npb, xp + t * npb * K_QBLOCK);
    for (int64_t r = r0; r < r1;) {
        int R = r1 - r >= 4 ? 4 : 1;
        tile tl;
        for (int k = 0; k < R; k++) {
            tl.w[k] = (const char *)W->data + (size_t)(r + k) * rb;
            tl.dw[k] = sc + 2 * k * nb;
            tl.mw[k] = sc + (2 * k + 1) * nb;
            row_scales(W, r + k, sc + 2 * k * nb, sc + (2 * k + 1) * nb);
        }
        for (int64_t t = 0; t < n;) {
            int T = n - t >= 2 ? 2 : 1;
            for (int u = 0; u < T; u++) {
                tl.xq[u] = x->q + (t + u) * nb * K_QBLOCK;
                tl.xp[u] = xp ? xp + (t + u) * npb * K_QBLOCK : NULL;
                tl.xd[u] = x->d + (t + u) * nb;
                tl.xds[u] = x->ds + (t + u) * nb;
                tl.y[u] = Y + (t + u) * ldy + (r - r0);
            }
            fn[q4][R == 4][T == 2](&tl, nb);
            t += T;
        }
        r += R;
    }
    free(xp);
    free(sc);
}
