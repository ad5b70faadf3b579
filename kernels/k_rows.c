/* Scalar row kernels: the reference every SIMD row kernel is tested against. */
#include "kernels/k.h"

static float dot_x8(k_type t, const void *row, const k_x8 *x, int64_t nb) {
    float sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        const int8_t *xq = x->q + i * K_QBLOCK;
        k_qref b = k_qblock(t, row, nb, i);
        int32_t s = 0;
        if (t == K_Q8) {
            for (int j = 0; j < K_QBLOCK; j++) s += (int32_t)(int8_t)b.q[j] * xq[j];
            sum += k_f16_to_f32(k_ld16(b.d)) * x->d[i] * (float)s;
            continue;
        }
        for (int j = 0; j < K_QBLOCK / 2; j++) s += (int32_t)(b.q[j] & 15) * xq[j] + (int32_t)(b.q[j] >> 4) * xq[j + 16];
        sum += k_f16_to_f32(k_ld16(b.d)) * x->d[i] * (float)s + k_f16_to_f32(k_ld16(b.m)) * x->ds[i];
    }
    return sum;
}

void k_rows_ref(const k_mat *W, const void *x, int64_t r0, int64_t r1, float *y) {
    size_t rb = k_row_bytes(W->type, W->cols);
    int64_t n = W->cols;
    for (int64_t r = r0; r < r1; r++) {
        const void *row = (const char *)W->data + (size_t)r * rb;
        const float *xf = x;
        float s = 0;
        switch (W->type) {
        case K_F32: {
            const float *w = row;
            for (int64_t i = 0; i < n; i++) s += w[i] * xf[i];
            break;
        }
        case K_BF16: {
            const uint16_t *w = row;
            for (int64_t i = 0; i < n; i++) s += k_bf16_to_f32(w[i]) * xf[i];
            break;
        }
        case K_F16: {
            const uint16_t *w = row;
            for (int64_t i = 0; i < n; i++) s += k_f16_to_f32(w[i]) * xf[i];
            break;
        }
        case K_Q8: case K_Q4: s = dot_x8(W->type, row, x, n / K_QBLOCK); break;
        default: break;
        }
        y[r - r0] = s;
    }
}

void k_rows_x8n_ref(const k_mat *W, const k_x8 *x, int64_t n, int64_t r0, int64_t r1, float *Y, int64_t ldy) {
    int64_t nb = W->cols / K_QBLOCK;
    for (int64_t t = 0; t < n; t++) {
        k_x8 xt = { x->q + t * nb * K_QBLOCK, x->d + t * nb, x->ds + t * nb };
        k_rows_ref(W, &xt, r0, r1, Y + t * ldy);
    }
}
