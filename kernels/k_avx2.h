/* Building blocks shared by the AVX2 kernel files (include only from kernels/..._avx2.c, which
 * are compiled with -mavx2 -mfma -mf16c). */
#ifndef K_AVX2_H
#define K_AVX2_H
#include "kernels/k.h"

#include <immintrin.h>
#include <string.h>

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

/* Whether any of the 32 values is NaN (the max/min instructions treat NaN unlike fmaxf/fminf). */
static inline int any_nan32(const __m256 v[4]) {
    __m256 a = _mm256_or_ps(_mm256_cmp_ps(v[0], v[0], _CMP_UNORD_Q), _mm256_cmp_ps(v[1], v[1], _CMP_UNORD_Q));
    __m256 b = _mm256_or_ps(_mm256_cmp_ps(v[2], v[2], _CMP_UNORD_Q), _mm256_cmp_ps(v[3], v[3], _CMP_UNORD_Q));
    return _mm256_movemask_ps(_mm256_or_ps(a, b));
}

/* Rounded to nearest even and clamped to [lo, hi], NaN giving lo (as the scalar round_clamp). */
static inline __m256i round_clamp8(__m256 v, float lo, float hi) {
    __m256 r = _mm256_max_ps(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), _mm256_set1_ps(lo));
    return _mm256_cvtps_epi32(_mm256_min_ps(r, _mm256_set1_ps(hi)));
}

/* 32 small int32 as bytes in element order (the packs interleave 128-bit lanes; the permute
 * restores the order). */
static inline __m256i pack32(const __m256i q[4]) {
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* [sum a, sum b, sum c, sum d] */
static inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/* Signed x signed through vpmaddubsw (unsigned x signed): |x| times w carrying x's sign, so that
 * |x| is computed once per activation block and shared by every row.  Sums of 4 products. */
static inline __m256i dot32_q8(const uint8_t *wq, __m256i ax, __m256i xq) {
    __m256i w = _mm256_loadu_si256((const __m256i *)wq);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w, xq)), _mm256_set1_epi16(1));
}

/* The 32 nibbles of a q4 block as bytes in element order: the 16 bytes go to both 128-bit lanes
 * and the upper lane is shifted down by 4. */
static inline __m256i unpack_q4(const uint8_t *wq) {
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)wq));
    return _mm256_and_si256(_mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(15));
}

static inline __m256i dot32_q4(__m256i w, __m256i xq) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, xq), _mm256_set1_epi16(1));
}

/* q4 blocks in pairs: the quants of two adjacent blocks fill one register, whose low nibbles are
 * elements 0..15 of both blocks and whose high nibbles are elements 16..31.  x is rearranged to
 * match (pairs_x8: per pair [A 0..15 | B 0..15], [A 16..31 | B 16..31]), so a pair costs one mask,
 * one shift and two multiply-adds, and one convert and one FMA: per 64 weights 5 operations on
 * the multiply ports, against 8 for two blocks taken one at a time. */
static inline void pairs_x8(const int8_t *xq, int64_t npb, int8_t *xp) {
    for (int64_t i = 0; i < npb; i += 2) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(xq + i * K_QBLOCK));
        __m256i b = _mm256_loadu_si256((const __m256i *)(xq + (i + 1) * K_QBLOCK));
        _mm256_storeu_si256((__m256i *)(xp + i * K_QBLOCK), _mm256_permute2x128_si256(a, b, 0x20));
        _mm256_storeu_si256((__m256i *)(xp + i * K_QBLOCK + 32), _mm256_permute2x128_si256(a, b, 0x31));
    }
}

static inline void pair_unpack(const uint8_t *q, __m256i *lo, __m256i *hi) {
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256i v = _mm256_loadu_si256((const __m256i *)q);
    *lo = _mm256_and_si256(v, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
}

/* The pair's 8 partial sums (lanes 0-3 block A, 4-7 block B); x at xp, arranged by pairs_x8.  Each
 * 16-bit sum is at most 2 * 2 * 15 * 127 = 7620: no saturation. */
static inline __m256i pair_dot(__m256i lo, __m256i hi, const int8_t *xp) {
    __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)xp)),
                                 _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(xp + 32))));
    return _mm256_madd_epi16(s, _mm256_set1_epi16(1));
}

/* 8 f16 values (a full group's scales or q4 mins) as f32. */
static inline __m256 ld_h8(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

#endif
