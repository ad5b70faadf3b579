/* Vector operations: dispatchers and scalar references. */
#include "kernels/k.h"

#include <math.h>

float k_dot_ref(const float *a, const float *b, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void k_axpy_ref(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

float k_gelu_tanh(float x) {
    const float c = 0.7978845608028654f;   /* sqrt(2/pi) */
    if (x < -20.0f) return 0.0f;           /* the limit; the formula would give -inf * 0 at -inf */
    return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
}

void k_gelu_mul_ref(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) g[i] = k_gelu_tanh(g[i]) * u[i];
}

void k_softmax_ref(float *x, int64_t n) {
    if (n <= 0) return;
    float mx = x[0];
    for (int64_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    if (mx == -INFINITY) {                 /* everything masked: uniform rather than NaN */
        for (int64_t i = 0; i < n; i++) x[i] = 1.0f / (float)n;
        return;
    }
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += (x[i] = expf(x[i] - mx));
    float inv = 1.0f / s;
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

void k_softcap_ref(float *x, int64_t n, float cap) {
    for (int64_t i = 0; i < n; i++) x[i] = tanhf(x[i] / cap) * cap;
}

int64_t k_argmax_ref(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

float k_dot(const float *a, const float *b, int64_t n) {
    return k_have_avx2() ? k_dot_avx2(a, b, n) : k_dot_ref(a, b, n);
}

void k_axpy(float *y, float a, const float *x, int64_t n) {
    if (k_have_avx2()) k_axpy_avx2(y, a, x, n);
    else k_axpy_ref(y, a, x, n);
}

void k_gelu_mul(float *g, const float *u, int64_t n) {
    if (k_have_avx2()) k_gelu_mul_avx2(g, u, n);
    else k_gelu_mul_ref(g, u, n);
}

void k_softmax(float *x, int64_t n) {
    if (k_have_avx2()) k_softmax_avx2(x, n);
    else k_softmax_ref(x, n);
}

void k_softcap(float *x, int64_t n, float cap) {
    if (k_have_avx2()) k_softcap_avx2(x, n, cap);
    else k_softcap_ref(x, n, cap);
}

int64_t k_argmax(const float *x, int64_t n) {
    return k_have_avx2() ? k_argmax_avx2(x, n) : k_argmax_ref(x, n);
}

void k_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    if (n <= 0) return;
    float ss = k_dot(x, x, n);
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

/* The angle is the float32 product the reference computes; its cosine and sine are taken in double
 * and rounded once, as before the table existed, so the logits did not move. */
void k_rope_table(float *cs, int64_t d, const float *inv_freq, int64_t pos) {
    int64_t h = d / 2;
    for (int64_t i = 0; i < h; i++) {
        float ang = (float)pos * inv_freq[i];
        cs[i] = (float)cos((double)ang);
        cs[h + i] = (float)sin((double)ang);
    }
}

void k_rope_apply(float *x, int64_t d, const float *cs) {
    int64_t h = d / 2;
    for (int64_t i = 0; i < h; i++) {
        float a = x[i], b = x[i + h], c = cs[i], s = cs[h + i];
        x[i] = a * c - b * s;
        x[i + h] = b * c + a * s;
    }
}
