/* AVX2 row kernels: the matrix-vector dot products behind k_matvec. */
#include "kernels/k_avx2.h"

#include <stdlib.h>

/* Software prefetch PF_AHEAD bytes ahead of each row stream, into L2: the hardware prefetchers stop
 * at 4 KB boundaries and at the start of every product, which left a quarter of the bandwidth
 * unused.  (Into L1 instead, the quantized kernels gained half as much: the L1 miss buffers run out
 * while the core is busy computing.) */
#ifndef PF_AHEAD
#define PF_AHEAD 8192
#endif
static inline void pf_span(const void *p, int bytes) {
    for (int o = 0; o < bytes; o += 64) _mm_prefetch((const char *)p + PF_AHEAD + o, _MM_HINT_T1);
}
#define PF4(a, b, c, d, bytes) do { pf_span(a, bytes); pf_span(b, bytes); pf_span(c, bytes); pf_span(d, bytes); } while (0)

/* The float kernels take 4 rows at a time: 4 concurrent streams keep more of memory's bandwidth
 * busy than one, and every x load serves 4 rows.  Leftover rows go one at a time. */

static void rows_f32(const float *W, int64_t n, const float *x, int64_t r0, int64_t r1, float *y) {
    int64_t n8 = n / 8 * 8, r = r0;
    for (; r + 4 <= r1; r += 4) {
        const float *w0 = W + r * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t i = 0; i < n8; i += 8) {
            if (!(i & 15)) PF4(w0 + i, w1 + i, w2 + i, w3 + i, 64);
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
            if (!(i & 31)) PF4(w0 + i, w1 + i, w2 + i, w3 + i, 64);
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
            if (!(i & 31)) PF4(w0 + i, w1 + i, w2 + i, w3 + i, 64);
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
 * accumulation chains hide the latency of the per-block convert-and-scale.  Full groups of 8 blocks
 * (k.h) take the fast path; the blocks of a shorter last group go one at a time. */
static void rows_q8(const uint8_t *W, int64_t nb, const k_x8 *x, int64_t r0, int64_t r1, float *y) {
    _Alignas(32) float sc[4][8];
    int64_t r = r0, nb8 = nb / 8 * 8;
    size_t rb = (size_t)nb * K_Q8_BYTES;
    for (; r + 4 <= r1; r += 4) {
        const uint8_t *w0 = W + r * rb, *w1 = w0 + rb, *w2 = w1 + rb, *w3 = w2 + rb;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t i = 0; i < nb8; i += 8) {
            /* full groups (k.h): 8 scales at g, the quants at g + 16 */
            const uint8_t *g0 = w0 + i * K_Q8_BYTES, *g1 = w1 + i * K_Q8_BYTES, *g2 = w2 + i * K_Q8_BYTES,
                          *g3 = w3 + i * K_Q8_BYTES;
            PF4(g0, g1, g2, g3, 272);
            __m256 xd = _mm256_loadu_ps(x->d + i);
            _mm256_store_ps(sc[0], _mm256_mul_ps(ld_h8(g0), xd));
            _mm256_store_ps(sc[1], _mm256_mul_ps(ld_h8(g1), xd));
            _mm256_store_ps(sc[2], _mm256_mul_ps(ld_h8(g2), xd));
            _mm256_store_ps(sc[3], _mm256_mul_ps(ld_h8(g3), xd));
            for (int j = 0; j < 8; j++) {
                __m256i xq = XQ(i + j), ax = _mm256_sign_epi8(xq, xq);
                a0 = _mm256_fmadd_ps(CVT(dot32_q8(g0 + 16 + 32 * j, ax, xq)), _mm256_broadcast_ss(&sc[0][j]), a0);
                a1 = _mm256_fmadd_ps(CVT(dot32_q8(g1 + 16 + 32 * j, ax, xq)), _mm256_broadcast_ss(&sc[1][j]), a1);
                a2 = _mm256_fmadd_ps(CVT(dot32_q8(g2 + 16 + 32 * j, ax, xq)), _mm256_broadcast_ss(&sc[2][j]), a2);
                a3 = _mm256_fmadd_ps(CVT(dot32_q8(g3 + 16 + 32 * j, ax, xq)), _mm256_broadcast_ss(&sc[3][j]), a3);
            }
        }
        for (int64_t i = nb8; i < nb; i++) {
            __m256i xq = XQ(i), ax = _mm256_sign_epi8(xq, xq);
            const uint8_t *w[4] = { w0, w1, w2, w3 };
            __m256 acc[4] = { a0, a1, a2, a3 };
            for (int k = 0; k < 4; k++) {
                k_qref b = k_qblock(K_Q8, w[k], nb, i);
                acc[k] = _mm256_fmadd_ps(CVT(dot32_q8(b.q, ax, xq)), _mm256_set1_ps(_cvtsh_ss(k_ld16(b.d)) * x->d[i]), acc[k]);
            }
            a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
        }
        _mm_storeu_ps(y + (r - r0), hsum4(a0, a1, a2, a3));
    }
    for (; r < r1; r++) {
        const uint8_t *w = W + r * rb;
        __m256 a = _mm256_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            __m256i xq = XQ(i);
            k_qref b = k_qblock(K_Q8, w, nb, i);
            a = _mm256_fmadd_ps(CVT(dot32_q8(b.q, _mm256_sign_epi8(xq, xq), xq)),
                                _mm256_set1_ps(_cvtsh_ss(k_ld16(b.d)) * x->d[i]), a);
        }
        y[r - r0] = hsum(a);
    }
}

static inline __m256i pair_q4(const uint8_t *q, const int8_t *xp) {
    __m256i lo, hi;
    pair_unpack(q, &lo, &hi);
    return pair_dot(lo, hi, xp);
}

/* One q4 block of any group: y += its dot with x block i, m += its min term. */
static inline __m256 block_q4(const uint8_t *row, int64_t nb, int64_t i, const k_x8 *x, __m256 acc, float *m) {
    k_qref b = k_qblock(K_Q4, row, nb, i);
    *m += _cvtsh_ss(k_ld16(b.m)) * x->ds[i];
    return _mm256_fmadd_ps(CVT(dot32_q4(unpack_q4(b.q), XQ(i))), _mm256_set1_ps(_cvtsh_ss(k_ld16(b.d)) * x->d[i]), acc);
}

/* A row's shorter last group, gs < K_QGROUP blocks, of 4 rows into a[4]: gs scales at g, gs mins at
 * g + 2 gs, the quants at g + 4 gs (k.h).  It loads 8 scales and mins as a full group does and masks
 * the lanes past its pairs (the bytes there are the row's own; x's scales past the row are not read),
 * so that MoE rows of 704 columns (22 blocks) do not convert their last 6 scales one by one: with
 * that they ran at 14 GB/s, against 20 for 768 columns.  An odd last block is the caller's. */
static void short_group4_q4(const uint8_t *const g[4], int gs, const float *xd, const float *xds, const int8_t *xp,
                            __m256 a[4]) {
    __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(gs & ~1), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 mask = _mm256_castsi256_ps(lanes), vd = _mm256_maskload_ps(xd, lanes), vds = _mm256_maskload_ps(xds, lanes);
    __m256 s[4];
    for (int k = 0; k < 4; k++) {
        s[k] = _mm256_and_ps(_mm256_mul_ps(ld_h8(g[k]), vd), mask);
        a[k] = _mm256_fmadd_ps(_mm256_and_ps(ld_h8(g[k] + 2 * gs), mask), vds, a[k]);
    }
    for (int j = 0; j + 1 < gs; j += 2) {
        __m256i idx = _mm256_setr_epi32(j, j, j, j, j + 1, j + 1, j + 1, j + 1);
        for (int k = 0; k < 4; k++)
            a[k] = _mm256_fmadd_ps(CVT(pair_q4(g[k] + 4 * gs + 16 * j, xp + j * K_QBLOCK)), _mm256_permutevar8x32_ps(s[k], idx), a[k]);
    }
}

#define Q4_STACK 32768
static void rows_q4(const uint8_t *W, int64_t nb, const k_x8 *x, int64_t r0, int64_t r1, float *y) {
    int64_t r = r0, nb8 = nb / 8 * 8;
    size_t rb = (size_t)nb * K_Q4_BYTES;
    _Alignas(32) int8_t stack[Q4_STACK];
    int64_t npb = nb / 2 * 2;          /* blocks that go in pairs */
    int8_t *xp = npb * K_QBLOCK <= Q4_STACK ? stack : malloc((size_t)(npb * K_QBLOCK));
    if (!xp) {
        k_mat m = { K_Q4, r1, nb * K_QBLOCK, W };
        k_rows_ref(&m, x, r0, r1, y);
        return;
    }
    pairs_x8(x->q, npb, xp);
    for (; r + 4 <= r1; r += 4) {
        const uint8_t *w0 = W + r * rb, *w1 = w0 + rb, *w2 = w1 + rb, *w3 = w2 + rb;
        float mt[4] = { 0, 0, 0, 0 };
        __m256 a[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
        for (int64_t i = 0; i < nb8; i += 8) {
            /* full groups (k.h): 8 scales at g, 8 mins at g + 16, the quants at g + 32 */
            const uint8_t *g0 = w0 + i * K_Q4_BYTES, *g1 = w1 + i * K_Q4_BYTES, *g2 = w2 + i * K_Q4_BYTES,
                          *g3 = w3 + i * K_Q4_BYTES;
            PF4(g0, g1, g2, g3, 160);
            __m256 xd = _mm256_loadu_ps(x->d + i), xds = _mm256_loadu_ps(x->ds + i);
            __m256 s0 = _mm256_mul_ps(ld_h8(g0), xd), s1 = _mm256_mul_ps(ld_h8(g1), xd);
            __m256 s2 = _mm256_mul_ps(ld_h8(g2), xd), s3 = _mm256_mul_ps(ld_h8(g3), xd);
            a[0] = _mm256_fmadd_ps(ld_h8(g0 + 16), xds, a[0]);
            a[1] = _mm256_fmadd_ps(ld_h8(g1 + 16), xds, a[1]);
            a[2] = _mm256_fmadd_ps(ld_h8(g2 + 16), xds, a[2]);
            a[3] = _mm256_fmadd_ps(ld_h8(g3 + 16), xds, a[3]);
            for (int j = 0; j < 8; j += 2) {
                const int8_t *xj = xp + (i + j) * K_QBLOCK;
                __m256i idx = _mm256_setr_epi32(j, j, j, j, j + 1, j + 1, j + 1, j + 1);
#define PAIR4(g, s, a) a = _mm256_fmadd_ps(CVT(pair_q4(g + 32 + 16 * j, xj)), _mm256_permutevar8x32_ps(s, idx), a)
                PAIR4(g0, s0, a[0]);
                PAIR4(g1, s1, a[1]);
                PAIR4(g2, s2, a[2]);
                PAIR4(g3, s3, a[3]);
#undef PAIR4
            }
        }
        if (nb8 < nb) {                    /* a shorter last group (MoE rows of 704 = 22 blocks) */
            const uint8_t *g[4] = { w0 + nb8 * K_Q4_BYTES, w1 + nb8 * K_Q4_BYTES, w2 + nb8 * K_Q4_BYTES, w3 + nb8 * K_Q4_BYTES };
            short_group4_q4(g, (int)(nb - nb8), x->d + nb8, x->ds + nb8, xp + nb8 * K_QBLOCK, a);
        }
        if (nb & 1) {
            a[0] = block_q4(w0, nb, nb - 1, x, a[0], &mt[0]);
            a[1] = block_q4(w1, nb, nb - 1, x, a[1], &mt[1]);
            a[2] = block_q4(w2, nb, nb - 1, x, a[2], &mt[2]);
            a[3] = block_q4(w3, nb, nb - 1, x, a[3], &mt[3]);
        }
        _mm_storeu_ps(y + (r - r0), _mm_add_ps(hsum4(a[0], a[1], a[2], a[3]), _mm_loadu_ps(mt)));
    }
    for (; r < r1; r++) {
        __m256 a = _mm256_setzero_ps();
        float m = 0;
        for (int64_t i = 0; i < nb; i++) a = block_q4(W + r * rb, nb, i, x, a, &m);
        y[r - r0] = hsum(a) + m;
    }
    if (xp != stack) free(xp);
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
