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
    case K_Q8: return (size_t)(cols / K_QBLOCK) * sizeof(k_block_q8);
    case K_Q4: return (size_t)(cols / K_QBLOCK) * sizeof(k_block_q4);
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
    case K_Q8: {
        const k_block_q8 *b = (const k_block_q8 *)row;
        for (int64_t i = 0; i < n / K_QBLOCK; i++) {
            float d = k_f16_to_f32(b[i].d);
            for (int j = 0; j < K_QBLOCK; j++) out[i * K_QBLOCK + j] = d * (float)b[i].q[j];
        }
        break;
    }
    case K_Q4: {
        const k_block_q4 *b = (const k_block_q4 *)row;
        for (int64_t i = 0; i < n / K_QBLOCK; i++) {
            float d = k_f16_to_f32(b[i].d), m = k_f16_to_f32(b[i].m);
            float *o = out + i * K_QBLOCK;
            for (int j = 0; j < K_QBLOCK / 2; j++) {
                o[j] = d * (float)(b[i].q[j] & 15) + m;
                o[j + K_QBLOCK / 2] = d * (float)(b[i].q[j] >> 4) + m;
            }
        }
        break;
    }
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

static void quantize_q8(const float *x, k_block_q8 *b) {
    float amax = 0;
    for (int j = 0; j < K_QBLOCK; j++) amax = fmaxf(amax, fabsf(x[j]));
    b->d = k_f32_to_f16(amax / 127.0f);
    float d = k_f16_to_f32(b->d), id = d > 0 ? 1.0f / d : 0;
    for (int j = 0; j < K_QBLOCK; j++) {
        b->q[j] = (int8_t)round_clamp(x[j] * id, -127, 127);
    }
}

static void quantize_q4(const float *x, k_block_q4 *b) {
    float lo = x[0], hi = x[0];
    for (int j = 1; j < K_QBLOCK; j++) { lo = fminf(lo, x[j]); hi = fmaxf(hi, x[j]); }
    lo += 0.0f;                        /* -0 -> +0, so that the stored bits do not depend on order */
    hi += 0.0f;
    b->m = k_f32_to_f16(lo);
    b->d = k_f32_to_f16((hi - lo) / 15.0f);
    /* Quantize against the stored (rounded) d and m so the rounding is not paid twice. */
    float d = k_f16_to_f32(b->d), m = k_f16_to_f32(b->m), id = d > 0 ? 1.0f / d : 0;
    uint8_t q[K_QBLOCK];
    for (int j = 0; j < K_QBLOCK; j++) {
        q[j] = (uint8_t)round_clamp((x[j] - m) * id, 0, 15);
    }
    for (int j = 0; j < K_QBLOCK / 2; j++) b->q[j] = (uint8_t)(q[j] | q[j + K_QBLOCK / 2] << 4);
}

void k_quantize_row_ref(k_type t, const float *x, int64_t n, void *out) {
    for (int64_t i = 0; i < n / K_QBLOCK; i++) {
        if (t == K_Q8) quantize_q8(x + i * K_QBLOCK, (k_block_q8 *)out + i);
        else if (t == K_Q4) quantize_q4(x + i * K_QBLOCK, (k_block_q4 *)out + i);
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
