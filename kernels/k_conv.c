/* Scalar conversions between f32 and the 16-bit and quantized weight formats. */
#include "kernels/k.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

const char *k_type_name(k_type t) {
    static const char *const names[K_NTYPES] = { "f32", "bf16", "f16", "q8", "q4" };
    return (unsigned)t < K_NTYPES ? names[t] : "?";
}

size_t k_row_bytes(k_type t, int64_t cols) {
    switch (t) {
    case K_F32: return (size_t)cols * 4;
    case K_BF16: case K_F16: return (size_t)cols * 2;
    case K_Q8: return (size_t)(cols / K_QBLOCK) * K_Q8_BYTES;
    case K_Q4: return (size_t)(cols / K_QBLOCK) * K_Q4_BYTES;
    default: return 0;
    }
}

float k_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t k_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);   /* keep NaN quiet */
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

float k_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0) {
        float v = (float)m * 0x1p-24f;            /* subnormal (or zero): exact in f32 */
        return sign ? -v : v;
    }
    if (e == 31) return bits_f32(sign | 0x7f800000u | (m << 13));
    return bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t k_f32_to_f16(float f) {
    uint32_t u = f32_bits(f), sign = (u >> 16) & 0x8000, a = u & 0x7fffffffu;
    if (a >= 0x7f800000u)                                     /* inf, or NaN kept quiet */
        return (uint16_t)(sign | 0x7c00 | (a > 0x7f800000u ? 0x200 | ((a >> 13) & 0x3ff) : 0));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);   /* >= 65520 rounds to inf */
    uint32_t h, rem, half;
    if (a < 0x38800000u) {                                    /* below 2^-14: f16 subnormal */
        uint32_t e = a >> 23;
        if (e < 102) return (uint16_t)sign;                   /* below 2^-25: rounds to zero */
        uint32_t m = (a & 0x7fffff) | 0x800000, shift = 126 - e;
        h = m >> shift;
        rem = m & ((1u << shift) - 1);
        half = 1u << (shift - 1);
    } else {
        h = (a >> 13) - (112u << 10);
        rem = a & 0x1fff;
        half = 0x1000;
    }
    if (rem > half || (rem == half && (h & 1))) h++;          /* a carry may move into the exponent */
    return (uint16_t)(sign | h);
}

void k_row_to_f32_ref(const k_mat *W, int64_t r, float *out) {
    const char *row = (const char *)W->data + (size_t)r * k_row_bytes(W->type, W->cols);
    int64_t n = W->cols;
    switch (W->type) {
    case K_F32: memcpy(out, row, (size_t)n * 4); break;
    case K_BF16: {
        const uint16_t *h = (const uint16_t *)row;
        for (int64_t i = 0; i < n; i++) out[i] = k_bf16_to_f32(h[i]);
        break;
    }
    case K_F16: {
        const uint16_t *h = (const uint16_t *)row;
        for (int64_t i = 0; i < n; i++) out[i] = k_f16_to_f32(h[i]);
        break;
    }
    case K_Q8: case K_Q4:
        for (int64_t i = 0; i < n / K_QBLOCK; i++) k_qblock_to_f32(W->type, row, n / K_QBLOCK, i, out + i * K_QBLOCK);
        break;
    default: memset(out, 0, (size_t)n * sizeof *out); break;
    }
}

/* Round to nearest (even) and clamp; NaN goes to lo rather than into an undefined conversion. */
static int round_clamp(float v, int lo, int hi) {
    v = nearbyintf(v);
    if (v >= (float)hi) return hi;
    return v >= (float)lo ? (int)v : lo;
}

void k_row_to_f32(const k_mat *W, int64_t r, float *out) {
    if (k_have_avx2()) k_row_to_f32_avx2(W, r, out);
    else k_row_to_f32_ref(W, r, out);
}

void k_qblock_to_f32(k_type t, const void *row, int64_t nb, int64_t i, float *out) {
    k_qref b = k_qblock(t, row, nb, i);
    float d = k_f16_to_f32(k_ld16(b.d));
    if (t == K_Q8) {
        for (int j = 0; j < K_QBLOCK; j++) out[j] = d * (float)(int8_t)b.q[j];
        return;
    }
    float m = k_f16_to_f32(k_ld16(b.m));
    for (int j = 0; j < K_QBLOCK / 2; j++) {
        out[j] = d * (float)(b.q[j] & 15) + m;
        out[j + K_QBLOCK / 2] = d * (float)(b.q[j] >> 4) + m;
    }
}

static void st16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

void k_quantize_block_ref(k_type t, const float *x, uint8_t *dp, uint8_t *mp, uint8_t *qp) {
    if (t == K_Q8) {
        float amax = 0;
        for (int j = 0; j < K_QBLOCK; j++) amax = fmaxf(amax, fabsf(x[j]));
        uint16_t dh = k_f32_to_f16(amax / 127.0f);
        st16(dp, dh);
        float d = k_f16_to_f32(dh), id = d > 0 ? 1.0f / d : 0;
        for (int j = 0; j < K_QBLOCK; j++) qp[j] = (uint8_t)(int8_t)round_clamp(x[j] * id, -127, 127);
        return;
    }
    float lo = x[0], hi = x[0];
    for (int j = 1; j < K_QBLOCK; j++) { lo = fminf(lo, x[j]); hi = fmaxf(hi, x[j]); }
    lo += 0.0f;                        /* -0 -> +0, so that the stored bits do not depend on order */
    hi += 0.0f;
    uint16_t mh = k_f32_to_f16(lo), dh = k_f32_to_f16((hi - lo) / 15.0f);
    st16(mp, mh);
    st16(dp, dh);
    /* Quantize against the stored (rounded) d and m so the rounding is not paid twice. */
    float d = k_f16_to_f32(dh), m = k_f16_to_f32(mh), id = d > 0 ? 1.0f / d : 0;
    uint8_t q[K_QBLOCK];
    for (int j = 0; j < K_QBLOCK; j++) q[j] = (uint8_t)round_clamp((x[j] - m) * id, 0, 15);
    for (int j = 0; j < K_QBLOCK / 2; j++) qp[j] = (uint8_t)(q[j] | q[j + K_QBLOCK / 2] << 4);
}

void k_quantize_row_ref(k_type t, const float *x, int64_t n, void *out) {
    if (t != K_Q8 && t != K_Q4) return;
    for (int64_t i = 0; i < n / K_QBLOCK; i++) {
        k_qref b = k_qblock(t, out, n / K_QBLOCK, i);
        k_quantize_block_ref(t, x + i * K_QBLOCK, (uint8_t *)b.d, (uint8_t *)b.m, (uint8_t *)b.q);
    }
}

void k_quantize_row(k_type t, const float *x, int64_t n, void *out) {
    if (k_have_avx2()) k_quantize_row_avx2(t, x, n, out);
    else k_quantize_row_ref(t, x, n, out);
}

void *k_x8_alloc(int64_t n, k_x8 *x) {
    int64_t nb = n / K_QBLOCK;
    float *f = malloc((size_t)(2 * nb + 1) * sizeof *f + (size_t)n);
    if (!f) return NULL;
    x->d = f;
    x->ds = f + nb;
    x->q = (int8_t *)(f + 2 * nb);
    return f;
}

void k_quantize_x8_ref(const float *x, int64_t n, const k_x8 *out) {
    for (int64_t i = 0; i < n / K_QBLOCK; i++) {
        const float *v = x + i * K_QBLOCK;
        int8_t *q = out->q + i * K_QBLOCK;
        float amax = 0;
        for (int j = 0; j < K_QBLOCK; j++) amax = fmaxf(amax, fabsf(v[j]));
        float d = amax / 127.0f, id = d > 0 ? 127.0f / amax : 0;
        int32_t s = 0;
        for (int j = 0; j < K_QBLOCK; j++) {
            q[j] = (int8_t)round_clamp(v[j] * id, -127, 127);
            s += q[j];
        }
        out->d[i] = d;
        out->ds[i] = d * (float)s;
    }
}
