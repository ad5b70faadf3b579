/* AVX2 streaming read for the bandwidth probe: 8 accumulators over 4 streams read in lockstep,
 * because one sequential stream per core leaves part of the memory bandwidth unused (measured
 * 14 vs 17 GB/s for one thread on the dev host) and the matrix kernels also read 4 rows at once. */
#include "kernels/k.h"

#include <immintrin.h>

#define LD(p) _mm256_loadu_si256((const __m256i *)(p))

uint64_t k_read_sum_avx2(const void *buf, size_t bytes) {
    const char *p = buf;
    size_t q = bytes / 4 / 64 * 64;          /* stream length, whole 64-byte steps */
    const char *p0 = p, *p1 = p + q, *p2 = p + 2 * q, *p3 = p + 3 * q;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (size_t i = 0; i < q; i += 64) {
        a0 = _mm256_xor_si256(a0, LD(p0 + i));
        a1 = _mm256_xor_si256(a1, LD(p0 + i + 32));
        a2 = _mm256_xor_si256(a2, LD(p1 + i));
        a3 = _mm256_xor_si256(a3, LD(p1 + i + 32));
        a4 = _mm256_xor_si256(a4, LD(p2 + i));
        a5 = _mm256_xor_si256(a5, LD(p2 + i + 32));
        a6 = _mm256_xor_si256(a6, LD(p3 + i));
        a7 = _mm256_xor_si256(a7, LD(p3 + i + 32));
    }
    __m256i a = _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3)),
                                 _mm256_xor_si256(_mm256_xor_si256(a4, a5), _mm256_xor_si256(a6, a7)));
    uint64_t s = (uint64_t)_mm256_extract_epi64(a, 0) ^ (uint64_t)_mm256_extract_epi64(a, 1) ^
                 (uint64_t)_mm256_extract_epi64(a, 2) ^ (uint64_t)_mm256_extract_epi64(a, 3);
    return s ^ k_read_sum_ref(p + 4 * q, bytes - 4 * q);
}
