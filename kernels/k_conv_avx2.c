/* AVX2 conversions: widening rows to f32 (prefill tiles, embedding lookups) and quantizing them
 * (building the weight cache), bit-exact with the scalar versions. */
#include "kernels/k_avx2.h"

void k_row_to_f32_avx2(const k_mat *W, int64_t r, float *out) {
    const char *row = (const char *)W->data + (size_t)r * k_row_bytes(W->type, W->cols);
    int64_t n = W->cols, i = 0;
    switch (W->type) {
    case K_BF16: {
        const uint16_t *h = (const uint16_t *)row;
        for (; i + 8 <= n; i += 8) {
            __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(h + i)));
            _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
        }
        for (; i < n; i++) out[i] = k_bf16_to_f32(h[i]);
        return;
    }
    case K_F16: {
        const uint16_t *h = (const uint16_t *)row;
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
        for (; i < n; i++) out[i] = k_f16_to_f32(h[i]);
        return;
    }
    case K_Q8: case K_Q4: {
        const __m128i lo = _mm_set1_epi8(15);
        int64_t nb = n / K_QBLOCK;
        for (int64_t k = 0; k < nb; k++, out += K_QBLOCK) {
            k_qref b = k_qblock(W->type, row, nb, k);
            __m256 d = _mm256_set1_ps(_cvtsh_ss(k_ld16(b.d)));
            if (W->type == K_Q8) {
                for (int j = 0; j < K_QBLOCK; j += 8) {
                    __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b.q + j)));
                    _mm256_storeu_ps(out + j, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
                }
                continue;
            }
            __m256 m = _mm256_set1_ps(_cvtsh_ss(k_ld16(b.m)));
            __m128i q = _mm_loadu_si128((const __m128i *)b.q);
            __m128i half[2] = { _mm_and_si128(q, lo), _mm_and_si128(_mm_srli_epi16(q, 4), lo) };
            for (int j = 0; j < K_QBLOCK; j += 8) {
                __m128i part = j & 8 ? _mm_srli_si128(half[j >> 4], 8) : half[j >> 4];
                __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(part));
                _mm256_storeu_ps(out + j, _mm256_add_ps(_mm256_mul_ps(v, d), m));   /* as rounded by the reference */
            }
        }
        return;
    }
    default: k_row_to_f32_ref(W, r, out); return;
    }
}

static __m256i round_pack(const __m256 v[4], float lo, float hi) {
    __m256i q[4];
    for (int k = 0; k < 4; k++) q[k] = round_clamp8(v[k], lo, hi);
    return pack32(q);
}

void k_quantize_row_avx2(k_type t, const float *x, int64_t n, void *out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    if (t != K_Q8 && t != K_Q4) return;
    for (int64_t i = 0; i < n / K_QBLOCK; i++) {
        const float *s = x + i * K_QBLOCK;
        k_qref kb = k_qblock(t, out, n / K_QBLOCK, i);
        uint8_t *dp = (uint8_t *)kb.d, *mp = (uint8_t *)kb.m, *qp = (uint8_t *)kb.q;
        __m256 v[4] = { _mm256_loadu_ps(s), _mm256_loadu_ps(s + 8), _mm256_loadu_ps(s + 16), _mm256_loadu_ps(s + 24) };
        if (any_nan32(v)) {
            k_quantize_block_ref(t, s, dp, mp, qp);
            continue;
        }
        if (t == K_Q8) {
            __m256 a = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                                     _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
            uint16_t dh = k_f32_to_f16(hmax(a) / 127.0f);
            memcpy(dp, &dh, 2);
            float d = k_f16_to_f32(dh);
            __m256 id = _mm256_set1_ps(d > 0 ? 1.0f / d : 0);
            for (int k = 0; k < 4; k++) v[k] = _mm256_mul_ps(v[k], id);
            _mm256_storeu_si256((__m256i *)qp, round_pack(v, -127, 127));
        } else {
            __m256 lo = _mm256_min_ps(_mm256_min_ps(v[0], v[1]), _mm256_min_ps(v[2], v[3]));
            __m256 hi = _mm256_max_ps(_mm256_max_ps(v[0], v[1]), _mm256_max_ps(v[2], v[3]));
            float mn = -hmax(_mm256_xor_ps(lo, sign)) + 0.0f, mx = hmax(hi) + 0.0f;   /* -0 -> +0 */
            uint16_t mh = k_f32_to_f16(mn), dh = k_f32_to_f16((mx - mn) / 15.0f);
            memcpy(mp, &mh, 2);
            memcpy(dp, &dh, 2);
            float d = k_f16_to_f32(dh);
            __m256 id = _mm256_set1_ps(d > 0 ? 1.0f / d : 0), m = _mm256_set1_ps(k_f16_to_f32(mh));
            for (int k = 0; k < 4; k++) v[k] = _mm256_mul_ps(_mm256_sub_ps(v[k], m), id);
            __m256i q = round_pack(v, 0, 15);
            __m128i l = _mm256_castsi256_si128(q), h = _mm256_extracti128_si256(q, 1);
            _mm_storeu_si128((__m128i *)qp, _mm_or_si128(l, _mm_slli_epi16(h, 4)));
        }
    }
}
