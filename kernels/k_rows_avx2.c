/* AVX2 row kernels: the matrix-vector dot products behind k_matvec. */
#include "kernels/k_avx2.h"

#include <stdlib.h>

/* The float kernels take 4 rows at a time: 4 concurrent streams keep more of memory's bandwidth
 * busy than one, and every x load serves 4 rows.  Leftover rows go one at a time. */

static void rows_f32(const float *W, int64_t n, const float *x, int64_t r0, int64_t r1, float *y) {
    int64_t n8 = n / 8 * 8, r = r0;
    for (; r + 4 <= r1; r += 4) {
        const float *w0 = W + r * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t i = 0; i < n8; i += 8) {
            __m256 xv = _mm256_loadu_ps(x + i);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), xv, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), xv, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), xv, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), xv, a3);
        }
        __m128 s = hsum4(a0, a1, a2, a3);
        for (int64_t i = n8; i < n; i++)
            s = _mm_add_ps(s, _mm_mul_ps(_mm_setr_ps(w0[i], w1[i], w2[i], w3[i]), _mm_set1_ps(x[i])));
        _mm_storeu_ps(y + (r - r0), s);
    }
    for (; r < r1; r++) {
        const float *w = W + r * n;
        __m256 a = _mm256_setzero_ps();
        for (int64_t i = 0; i < n8; i += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a);
        float s = hsum(a);
        for (int64_t i = n8; i < n; i++) s += w[i] * x[i];
        y[r - r0] = s;
    }
}

static __m256 ld_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

static void rows_f16(const uint16_t *W, int64_t n, const float *x, int64_t r0, int64_t r1, float *y) {
    int64_t n8 = n / 8 * 8, r = r0;
    for (; r + 4 <= r1; r += 4) {
        const uint16_t *w0 = W + r * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t i = 0; i < n8; i += 8) {
            __m256 xv = _mm256_loadu_ps(x + i);
            a0 = _mm256_fmadd_ps(ld_f16(w0 + i), xv, a0);
            a1 = _mm256_fmadd_ps(ld_f16(w1 + i), xv, a1);
            a2 = _mm256_fmadd_ps(ld_f16(w2 + i), xv, a2);
            a3 = _mm256_fmadd_ps(ld_f16(w3 + i), xv, a3);
        }
        __m128 s = hsum4(a0, a1, a2, a3);
        for (int64_t i = n8; i < n; i++)
            s = _mm_add_ps(s, _mm_mul_ps(_mm_setr_ps(k_f16_to_f32(w0[i]), k_f16_to_f32(w1[i]), k_f16_to_f32(w2[i]),
                                                     k_f16_to_f32(w3[i])), _mm_set1_ps(x[i])));
        _mm_storeu_ps(y + (r - r0), s);
    }
    for (; r < r1; r++) {
        const uint16_t *w = W + r * n;
        __m256 a = _mm256_setzero_ps();
        for (int64_t i = 0; i < n8; i += 8) a = _mm256_fmadd_ps(ld_f16(w + i), _mm256_loadu_ps(x + i), a);
        float s = hsum(a);
        for (int64_t i = n8; i < n; i++) s += k_f16_to_f32(w[i]) * x[i];
        y[r - r0] = s;
    }
}

/* bf16 widens by a shift: in each 32-bit lane of a 16-element load, the low half (even element)
 * becomes f32 by a left shift and the high half (odd element) by masking.  x is reordered to
 * match (per 16 elements, the 8 even ones then the 8 odd ones) once per call, on the stack unless
 * the row is very long. */
#define BF16_STACK 16384
static void rows_bf16(const uint16_t *W, int64_t n, const float *x, int64_t r0, int64_t r1, float *y) {
    int64_t n16 = n / 16 * 16, r = r0;
    _Alignas(32) float stack[BF16_STACK];
    float *xp = n16 <= BF16_STACK ? stack : malloc((size_t)n16 * sizeof *xp);
    if (!xp) {
        k_mat m = { K_BF16, r1, n, W };
        k_rows_ref(&m, x, r0, r1, y);
        return;
    }
    for (int64_t i = 0; i < n16; i += 16) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        __m256 ev = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), od = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
        _mm256_storeu_ps(xp + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xd8)));
        _mm256_storeu_ps(xp + i + 8, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), 0xd8)));
    }
    const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
#define EVEN(v) _mm256_castsi256_ps(_mm256_slli_epi32(v, 16))
#define ODD(v) _mm256_castsi256_ps(_mm256_and_si256(v, hi))
#define LD(p) _mm256_loadu_si256((const __m256i *)(p))
    for (; r + 4 <= r1; r += 4) {
        const uint16_t *w0 = W + r * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
        __m256 e0 = _mm256_setzero_ps(), e1 = e0, e2 = e0, e3 = e0, o0 = e0, o1 = e0, o2 = e0, o3 = e0;
        for (int64_t i = 0; i < n16; i += 16) {
            __m256 xe = _mm256_loadu_ps(xp + i), xo = _mm256_loadu_ps(xp + i + 8);
            __m256i v0 = LD(w0 + i), v1 = LD(w1 + i), v2 = LD(w2 + i), v3 = LD(w3 + i);
            e0 = _mm256_fmadd_ps(EVEN(v0), xe, e0);
            o0 = _mm256_fmadd_ps(ODD(v0), xo, o0);
            e1 = _mm256_fmadd_ps(EVEN(v1), xe, e1);
            o1 = _mm256_fmadd_ps(ODD(v1), xo, o1);
            e2 = _mm256_fmadd_ps(EVEN(v2), xe, e2);
            o2 = _mm256_fmadd_ps(ODD(v2), xo, o2);
            e3 = _mm256_fmadd_ps(EVEN(v3), xe, e3);
            o3 = _mm256_fmadd_ps(ODD(v3), xo, o3);
        }
        __m128 s = hsum4(_mm256_add_ps(e0, o0), _mm256_add_ps(e1, o1), _mm256_add_ps(e2, o2), _mm256_add_ps(e3, o3));
        for (int64_t i = n16; i < n; i++)
            s = _mm_add_ps(s, _mm_mul_ps(_mm_setr_ps(k_bf16_to_f32(w0[i]), k_bf16_to_f32(w1[i]), k_bf16_to_f32(w2[i]),
                                                     k_bf16_to_f32(w3[i])), _mm_set1_ps(x[i])));
        _mm_storeu_ps(y + (r - r0), s);
    }
    for (; r < r1; r++) {
        const uint16_t *w = W + r * n;
        __m256 e = _mm256_setzero_ps(), o = e;
        for (int64_t i = 0; i < n16; i += 16) {
            __m256i v = LD(w + i);
            e = _mm256_fmadd_ps(EVEN(v), _mm256_loadu_ps(xp + i), e);
            o = _mm256_fmadd_ps(ODD(v), _mm256_loadu_ps(xp + i + 8), o);
        }
        float s = hsum(_mm256_add_ps(e, o));
        for (int64_t i = n16; i < n; i++) s += k_bf16_to_f32(w[i]) * x[i];
        y[r - r0] = s;
    }
#undef EVEN
#undef ODD
#undef LD
    if (xp != stack) free(xp);
}

#define XQ(i) _mm256_loadu_si256((const __m256i *)(x->q + (i) * K_QBLOCK))
#define CVT(v) _mm256_cvtepi32_ps(v)

/* The quantized kernels take 4 rows at a time too: besides sharing x, the 4 independent
 * accumulation chains hide the latency of the per-block convert-and-scale. */
static void rows_q8(const k_block_q8 *W, int64_t nb, const k_x8 *x, int64_t r0, int64_t r1, float *y) {
    _Alignas(32) float sc[4][8];
    int64_t r = r0, nb8 = nb / 8 * 8;
    for (; r + 4 <= r1; r += 4) {
        const k_block_q8 *w0 = W + r * nb, *w1 = w0 + nb, *w2 = w1 + nb, *w3 = w2 + nb;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t i = 0; i < nb; i += 8) {
            int m = i < nb8 ? 8 : (int)(nb - i);
            if (m == 8) {
                __m256 xd = _mm256_loadu_ps(x->d + i);
                _mm256_store_ps(sc[0], _mm256_mul_ps(q8_d8(w0 + i), xd));
                _mm256_store_ps(sc[1], _mm256_mul_ps(q8_d8(w1 + i), xd));
                _mm256_store_ps(sc[2], _mm256_mul_ps(q8_d8(w2 + i), xd));
                _mm256_store_ps(sc[3], _mm256_mul_ps(q8_d8(w3 + i), xd));
            } else {
                for (int j = 0; j < m; j++) {
                    sc[0][j] = _cvtsh_ss(w0[i + j].d) * x->d[i + j];
                    sc[1][j] = _cvtsh_ss(w1[i + j].d) * x->d[i + j];
                    sc[2][j] = _cvtsh_ss(w2[i + j].d) * x->d[i + j];
                    sc[3][j] = _cvtsh_ss(w3[i + j].d) * x->d[i + j];
                }
            }
            for (int j = 0; j < m; j++) {
                __m256i xq = XQ(i + j), ax = _mm256_sign_epi8(xq, xq);
                a0 = _mm256_fmadd_ps(CVT(dot32_q8(w0[i + j].q, ax, xq)), _mm256_broadcast_ss(&sc[0][j]), a0);
                a1 = _mm256_fmadd_ps(CVT(dot32_q8(w1[i + j].q, ax, xq)), _mm256_broadcast_ss(&sc[1][j]), a1);
                a2 = _mm256_fmadd_ps(CVT(dot32_q8(w2[i + j].q, ax, xq)), _mm256_broadcast_ss(&sc[2][j]), a2);
                a3 = _mm256_fmadd_ps(CVT(dot32_q8(w3[i + j].q, ax, xq)), _mm256_broadcast_ss(&sc[3][j]), a3);
            }
        }
        _mm_storeu_ps(y + (r - r0), hsum4(a0, a1, a2, a3));
    }
    for (; r < r1; r++) {
        const k_block_q8 *w = W + r * nb;
        __m256 a = _mm256_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            __m256i xq = XQ(i);
            a = _mm256_fmadd_ps(CVT(dot32_q8(w[i].q, _mm256_sign_epi8(xq, xq), xq)),
                                _mm256_set1_ps(_cvtsh_ss(w[i].d) * x->d[i]), a);
        }
        y[r - r0] = hsum(a);
    }
}

/* 8 blocks' d * xd of one row into sc, and acc + m * xds (the min terms, summed lane-wise). */
static inline __attribute__((always_inline)) __m256 q4_scales(const k_block_q4 *w, const k_x8 *x, int64_t i, float *sc,
                                                                __m256 acc) {
    __m256 d, m;
    q4_dm8(w + i, &d, &m);
    _mm256_store_ps(sc, _mm256_mul_ps(d, _mm256_loadu_ps(x->d + i)));
    return _mm256_fmadd_ps(m, _mm256_loadu_ps(x->ds + i), acc);
}

static void rows_q4(const k_block_q4 *W, int64_t nb, const k_x8 *x, int64_t r0, int64_t r1, float *y) {
    _Alignas(32) float sc[4][8];
    int64_t r = r0, nb8 = nb / 8 * 8;
    for (; r + 4 <= r1; r += 4) {
        const k_block_q4 *w0 = W + r * nb, *w1 = w0 + nb, *w2 = w1 + nb, *w3 = w2 + nb;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t i = 0; i < nb; i += 8) {
            int m = i < nb8 ? 8 : (int)(nb - i);
            if (m == 8) {
                a0 = q4_scales(w0, x, i, sc[0], a0);
                a1 = q4_scales(w1, x, i, sc[1], a1);
                a2 = q4_scales(w2, x, i, sc[2], a2);
                a3 = q4_scales(w3, x, i, sc[3], a3);
            } else {
                const k_block_q4 *w[4] = { w0, w1, w2, w3 };
                float mt[4] = { 0, 0, 0, 0 };
                for (int k = 0; k < 4; k++)
                    for (int j = 0; j < m; j++) {
                        sc[k][j] = _cvtsh_ss(w[k][i + j].d) * x->d[i + j];
                        mt[k] += _cvtsh_ss(w[k][i + j].m) * x->ds[i + j];
                    }
                a0 = _mm256_add_ps(a0, _mm256_setr_ps(mt[0], 0, 0, 0, 0, 0, 0, 0));
                a1 = _mm256_add_ps(a1, _mm256_setr_ps(mt[1], 0, 0, 0, 0, 0, 0, 0));
                a2 = _mm256_add_ps(a2, _mm256_setr_ps(mt[2], 0, 0, 0, 0, 0, 0, 0));
                a3 = _mm256_add_ps(a3, _mm256_setr_ps(mt[3], 0, 0, 0, 0, 0, 0, 0));
            }
            for (int j = 0; j < m; j++) {
                __m256i xq = XQ(i + j);
                a0 = _mm256_fmadd_ps(CVT(dot32_q4(unpack_q4(w0[i + j].q), xq)), _mm256_broadcast_ss(&sc[0][j]), a0);
                a1 = _mm256_fmadd_ps(CVT(dot32_q4(unpack_q4(w1[i + j].q), xq)), _mm256_broadcast_ss(&sc[1][j]), a1);
                a2 = _mm256_fmadd_ps(CVT(dot32_q4(unpack_q4(w2[i + j].q), xq)), _mm256_broadcast_ss(&sc[2][j]), a2);
                a3 = _mm256_fmadd_ps(CVT(dot32_q4(unpack_q4(w3[i + j].q), xq)), _mm256_broadcast_ss(&sc[3][j]), a3);
            }
        }
        _mm_storeu_ps(y + (r - r0), hsum4(a0, a1, a2, a3));
    }
    for (; r < r1; r++) {
        const k_block_q4 *w = W + r * nb;
        __m256 a = _mm256_setzero_ps();
        float m = 0;
        for (int64_t i = 0; i < nb; i++) {
            a = _mm256_fmadd_ps(CVT(dot32_q4(unpack_q4(w[i].q), XQ(i))), _mm256_set1_ps(_cvtsh_ss(w[i].d) * x->d[i]), a);
            m += _cvtsh_ss(w[i].m) * x->ds[i];
        }
        y[r - r0] = hsum(a) + m;
    }
}

#undef XQ
#undef CVT

void k_rows_avx2(const k_mat *W, const void *x, int64_t r0, int64_t r1, float *y) {
    int64_t n = W->cols;
    switch (W->type) {
    case K_F32: rows_f32(W->data, n, x, r0, r1, y); break;
    case K_BF16: rows_bf16(W->data, n, x, r0, r1, y); break;
    case K_F16: rows_f16(W->data, n, x, r0, r1, y); break;
    case K_Q8: rows_q8(W->data, n / K_QBLOCK, x, r0, r1, y); break;
    case K_Q4: rows_q4(W->data, n / K_QBLOCK, x, r0, r1, y); break;
    default: k_rows_ref(W, x, r0, r1, y); break;
    }
}
