/* kernels: every SIMD path against its scalar reference, conversions, the pool, vector ops. */
#include "tests/t.h"
#include "kernels/k.h"

#include <math.h>
#include <stdint.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {        /* uniform in [-1, 1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) * 0x1p-52 - 1.0);
}
static float grand(void) { return frand() + frand() + frand(); }   /* roughly bell-shaped */

static float from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* sum (a-b)^2 / sum b^2 */
static double nmse(const float *a, const float *b, int64_t n) {
    double e = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        e += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        s += (double)b[i] * b[i];
    }
    return s > 0 ? e / s : e;
}

static void test_conversions(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {            /* every bf16 survives the round trip */
        float f = k_bf16_to_f32((uint16_t)h);
        if (f == f ? k_f32_to_bf16(f) != h : k_f32_to_bf16(f) >> 7 != (h | 0x40) >> 7) bad++;
    }
    T_CHECK(bad == 0, "bf16 round trip of all 65536 values", "%d mismatches", bad);
    T_CHECK(k_f32_to_bf16(from_bits(0x3f808000)) == 0x3f80 && k_f32_to_bf16(from_bits(0x3f818000)) == 0x3f82,
            "bf16 rounding ties go to even", "%04x %04x", k_f32_to_bf16(from_bits(0x3f808000)),
            k_f32_to_bf16(from_bits(0x3f818000)));
    T_CHECK(k_f32_to_bf16(from_bits(0x3f808001)) == 0x3f81, "bf16 rounds above a tie up", "%04x",
            k_f32_to_bf16(from_bits(0x3f808001)));
    uint16_t bn = k_f32_to_bf16(NAN), bi = k_f32_to_bf16(-INFINITY);
    T_CHECK(isnan(k_bf16_to_f32(bn)) && bi == 0xff80, "bf16 NaN stays NaN, -inf exact", "%04x %04x", bn, bi);
    T_CHECK(isnan(k_bf16_to_f32(k_f32_to_bf16(from_bits(0x7f800001)))), "bf16 signalling NaN does not become inf", "%s", "");

    bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = k_f16_to_f32((uint16_t)h);
        uint16_t back = k_f32_to_f16(f);
        if (f == f ? back != h : !((back & 0x7c00) == 0x7c00 && (back & 0x3ff))) bad++;
    }
    T_CHECK(bad == 0, "f16 round trip of all 65536 values", "%d mismatches", bad);
    T_CHECK(k_f16_to_f32(0x0001) == 0x1p-24f && k_f16_to_f32(0x83ff) == -0x3ffp-24f &&
            k_f16_to_f32(0x7bff) == 65504.0f && isinf(k_f16_to_f32(0xfc00)) && isnan(k_f16_to_f32(0x7e00)),
            "f16 decode of subnormals, max, inf, NaN", "%g", (double)k_f16_to_f32(0x0001));
    struct { float f; uint16_t h; } cases[] = {
        { 65504.0f, 0x7bff }, { 65519.0f, 0x7bff }, { 65520.0f, 0x7c00 }, { 1e9f, 0x7c00 },
        { -65520.0f, 0xfc00 }, { 0x1p-24f, 0x0001 }, { 0x1p-25f, 0x0000 }, { 0x1.000002p-25f, 0x0001 },
        { 0x3p-25f, 0x0002 }, { 0x5p-25f, 0x0002 }, { 1.0f + 0x1p-11f, 0x3c00 }, { 1.0f + 0x3p-11f, 0x3c02 },
        { 0x1.ffep-15f, 0x0400 }, { 0x1p-30f, 0x0000 }, { -0.0f, 0x8000 }, { 1e-45f, 0x0000 },
        { 0x1.ff8p-15f, 0x03ff }, { 0x1.ffcp-15f, 0x0400 }, { 2046.5f, 0x67fe }, { 2047.5f, 0x6800 },
        { 2048.5f, 0x6800 }, { 2049.0f, 0x6800 }, { 2051.0f, 0x6802 },
    };
    bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (k_f32_to_f16(cases[i].f) != cases[i].h) {
            bad++;
            printf("  f16(%a) = %04x, want %04x\n", (double)cases[i].f, k_f32_to_f16(cases[i].f), cases[i].h);
        }
    T_CHECK(bad == 0, "f16 rounding: ties to even, overflow, subnormals", "%d wrong", bad);
    /* Random values: the encoding is the nearest f16 (neighbours are no closer). */
    bad = 0;
    for (int i = 0; i < 200000; i++) {
        float f = ldexpf(frand(), (int)(frand() * 20) - 8);
        uint16_t h = k_f32_to_f16(f);
        double e = fabs((double)k_f16_to_f32(h) - f);
        double e1 = fabs((double)k_f16_to_f32((uint16_t)(h + 1)) - f);
        double e0 = (h & 0x7fff) ? fabs((double)k_f16_to_f32((uint16_t)(h - 1)) - f) : INFINITY;
        if (e > e1 || e > e0) bad++;
    }
    T_CHECK(bad == 0, "f16 encoding is the nearest value (200000 random)", "%d not nearest", bad);
    uint16_t hn = k_f32_to_f16(-NAN);
    T_CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff) && (hn & 0x8000) && k_f32_to_f16(INFINITY) == 0x7c00,
            "f16 NaN and inf", "%04x", hn);
}

static k_mat make_mat(k_type t, int64_t rows, int64_t cols, const float *w, void **buf) {
    size_t rb = k_row_bytes(t, cols);
    char *d = malloc(rb * (size_t)rows + 1);
    for (int64_t r = 0; r < rows; r++) {
        const float *src = w + r * cols;
        char *dst = d + rb * (size_t)r;
        for (int64_t c = 0; c < cols; c++) {
            if (t == K_F32) memcpy(dst + 4 * c, &src[c], 4);
            else if (t == K_BF16) ((uint16_t *)dst)[c] = k_f32_to_bf16(src[c]);
            else if (t == K_F16) ((uint16_t *)dst)[c] = k_f32_to_f16(src[c]);
        }
        if (t == K_Q8 || t == K_Q4) k_quantize_row(t, src, cols, dst);
    }
    *buf = d;
    return (k_mat){ t, rows, cols, d };
}

static void test_row_to_f32(void) {
    float w[3 * 64], out[64];
    for (int i = 0; i < 3 * 64; i++) w[i] = grand();
    int bad = 0;
    for (int t = 0; t < K_NTYPES; t++) {
        void *buf;
        k_mat m = make_mat((k_type)t, 3, 64, w, &buf);
        k_row_to_f32(&m, 2, out);
        for (int c = 0; c < 64; c++) {
            float v = w[128 + c], want = v;
            if (t == K_BF16) want = k_bf16_to_f32(k_f32_to_bf16(v));
            if (t == K_F16) want = k_f16_to_f32(k_f32_to_f16(v));
            float tol = t == K_Q8 ? 3.0f / 127 * 0.5f + 1e-3f : t == K_Q4 ? 6.0f / 15 * 0.5f + 1e-2f : 0;
            if (fabsf(out[c] - want) > tol) bad++;
        }
        free(buf);
    }
    T_CHECK(bad == 0, "k_row_to_f32 for every type", "%d values off", bad);

    /* The SIMD widening is bit-exact with the scalar one, tails included. */
    int64_t widths[] = { 1, 7, 8, 33, 64, 96, 129 };
    bad = 0;
    for (int t = 0; t < K_NTYPES && k_have_avx2(); t++)
        for (size_t k = 0; k < sizeof widths / sizeof *widths; k++) {
            int64_t c = widths[k];
            if ((t == K_Q8 || t == K_Q4) && c % 32) continue;
            float src[2 * 129], a[129], b[129];
            for (int i = 0; i < 2 * c; i++) src[i] = grand() * 100;
            src[3] = 1e-6f;                                   /* f16 subnormal */
            void *buf;
            k_mat m = make_mat((k_type)t, 2, c, src, &buf);
            k_row_to_f32_ref(&m, 1, a);
            k_row_to_f32_avx2(&m, 1, b);
            bad += memcmp(a, b, (size_t)c * sizeof *a) != 0;
            k_row_to_f32_ref(&m, 0, a);
            k_row_to_f32_avx2(&m, 0, b);
            bad += memcmp(a, b, (size_t)c * sizeof *a) != 0;
            free(buf);
        }
    T_CHECK(bad == 0, "k_row_to_f32: SIMD bit-exact with scalar", "%d rows differ", bad);

    /* Quantizing: the SIMD path is bit-exact with the scalar one, edge blocks included. */
    enum { NB = 12 };
    float qx[NB * 32];
    for (int i = 0; i < NB * 32; i++) {
        int b = i / 32;
        qx[i] = b == 0 ? 0.0f : b == 1 ? -0.0f : b == 2 ? 3.5f : b == 3 ? grand() * 1e-6f : b == 4 ? grand() * 1e5f
              : b == 5 ? (i % 2 ? -0.0f : 0.0f) : b == 6 ? (i % 7 ? grand() : INFINITY) : b == 7 ? 1e-40f * (float)(i % 5)
              : grand();
    }
    qx[32 * 8 + 3] = NAN;
    bad = 0;
    for (int t = K_Q8; t <= K_Q4 && k_have_avx2(); t++) {
        unsigned char ra[NB * K_Q8_BYTES], rb[NB * K_Q8_BYTES];
        memset(ra, 0, sizeof ra);
        memset(rb, 0, sizeof rb);
        k_quantize_row_ref((k_type)t, qx, NB * 32, ra);
        k_quantize_row_avx2((k_type)t, qx, NB * 32, rb);
        bad += memcmp(ra, rb, sizeof ra) != 0;
    }
    T_CHECK(bad == 0, "k_quantize_row: SIMD bit-exact with scalar (zeros, -0, inf, NaN, subnormals)", "%d types differ", bad);

    /* Quantized rows: error within half a step; an all-zero block decodes to zeros. */
    float z[64] = { 0 };
    uint8_t q8[2 * K_Q8_BYTES], q4[2 * K_Q4_BYTES];
    k_quantize_row(K_Q8, z, 64, q8);
    k_quantize_row(K_Q4, z, 64, q4);
    k_mat m8 = { K_Q8, 1, 64, q8 }, m4 = { K_Q4, 1, 64, q4 };
    float o8[64], o4[64];
    k_row_to_f32(&m8, 0, o8);
    k_row_to_f32(&m4, 0, o4);
    bad = 0;
    for (int i = 0; i < 64; i++) bad += o8[i] != 0 || o4[i] != 0;
    T_CHECK(bad == 0, "quantized zero block decodes to zeros", "%d nonzero", bad);
    for (int i = 0; i < 64; i++) z[i] = i < 32 ? (float)i : 5.0f - (float)(i % 7);
    k_quantize_row(K_Q4, z, 64, q4);
    k_row_to_f32(&m4, 0, o4);
    double maxe = 0;
    for (int i = 0; i < 64; i++) maxe = fmax(maxe, fabs(o4[i] - z[i]));
    T_CHECK(maxe <= 31.0 / 15 * 0.5 + 0.02, "q4 error within half a step (packing order)", "max error %g", maxe);
}

static void count_task(void *arg, int64_t b, int64_t e, int tid) {
    int *hits = arg;
    (void)tid;
    for (int64_t i = b; i < e; i++) __atomic_fetch_add(&hits[i], 1, __ATOMIC_RELAXED);
}

typedef struct { int64_t grain, n; int bad; } grain_chk;
static void grain_task(void *arg, int64_t b, int64_t e, int tid) {
    grain_chk *g = arg;
    (void)tid;
    if (b % g->grain || (e % g->grain && e != g->n)) __atomic_fetch_add(&g->bad, 1, __ATOMIC_RELAXED);
}

typedef struct { k_pool *p; int *hits; } nest_arg;
static void nest_task(void *arg, int64_t b, int64_t e, int tid) {
    nest_arg *a = arg;
    (void)tid;
    for (int64_t i = b; i < e; i++) k_pool_run(a->p, count_task, a->hits + i * 10, 10, 1);
}

static void never_task(void *arg, int64_t b, int64_t e, int tid) {
    (void)b; (void)e; (void)tid;
    (*(int *)arg)++;
}

static void test_pool(void) {
    char err[256];
    k_pool *p;
    int rc = k_pool_create(&p, 4, err, sizeof err);
    T_CHECK(rc == 0 && k_pool_threads(p) == 4, "pool of 4 threads", "%s", err);
    if (rc) return;
    int calls = 0;
    k_pool_run(p, never_task, &calls, 0, 1);
    T_CHECK(calls == 0, "pool n = 0 calls nothing", "%d calls", calls);
    int sizes[] = { 1, 2, 3, 5, 100, 1001 };
    int bad = 0;
    for (int rep = 0; rep < 200; rep++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            int hits[1001] = { 0 };
            k_pool_run(p, count_task, hits, sizes[s], 1 + rep % 7);
            for (int i = 0; i < sizes[s]; i++) bad += hits[i] != 1;
        }
    T_CHECK(bad == 0, "pool covers every item exactly once (n < threads too)", "%d wrong", bad);
    bad = 0;
    for (int64_t gr = 1; gr < 40; gr += 3) {
        grain_chk g = { gr, 997, 0 };
        k_pool_run(p, grain_task, &g, g.n, gr);
        bad += g.bad;
    }
    T_CHECK(bad == 0, "pool ranges start on grain multiples", "%d bad ranges", bad);
    int hits[50 * 10] = { 0 };
    nest_arg na = { p, hits };
    k_pool_run(p, nest_task, &na, 50, 1);
    bad = 0;
    for (int i = 0; i < 500; i++) bad += hits[i] != 1;
    T_CHECK(bad == 0, "nested k_pool_run runs inline", "%d wrong", bad);
    int h2[7] = { 0 };
    k_pool_run(NULL, count_task, h2, 7, 2);
    bad = 0;
    for (int i = 0; i < 7; i++) bad += h2[i] != 1;
    T_CHECK(bad == 0, "NULL pool runs inline", "%d wrong", bad);
    k_pool_free(p);
    k_pool_free(NULL);
}

/* Pools: one on the SIMD path (when the CPU has it), one forced onto the scalar path. */
static k_pool *pool_simd, *pool_ref;

static void test_matvec(void) {
    static const int64_t fshapes[][2] = { { 1, 1 }, { 1, 33 }, { 7, 31 }, { 33, 100 }, { 65, 257 }, { 130, 1000 }, { 3, 4096 },
                                          { 5, 16400 } };
    static const int64_t qshapes[][2] = { { 1, 32 }, { 7, 96 }, { 33, 320 }, { 130, 1024 }, { 5, 4096 }, { 32, 33024 }, { 36, 704 } };
    for (int t = 0; t < K_NTYPES; t++) {
        int q = t == K_Q8 || t == K_Q4;
        size_t ns = q ? sizeof qshapes / sizeof *qshapes : sizeof fshapes / sizeof *fshapes;
        double worst_simd = 0, worst_ref = 0, qerr = 0, qsum = 0;
        for (size_t s = 0; s < ns; s++) {
            int64_t R = q ? qshapes[s][0] : fshapes[s][0], C = q ? qshapes[s][1] : fshapes[s][1];
            float *w = malloc(sizeof(float) * (size_t)(R * C)), *x = malloc(sizeof(float) * (size_t)C);
            float *y0 = malloc(sizeof(float) * (size_t)R), *y1 = malloc(sizeof(float) * (size_t)R);
            float *y2 = malloc(sizeof(float) * (size_t)R), *yf = malloc(sizeof(float) * (size_t)R);
            for (int64_t i = 0; i < R * C; i++) w[i] = grand();
            for (int64_t i = 0; i < C; i++) x[i] = grand();
            void *buf;
            k_mat m = make_mat((k_type)t, R, C, w, &buf);
            k_matvec_ref(&m, x, y0);
            k_matvec(pool_simd, &m, x, y1);
            k_matvec(pool_ref, &m, x, y2);
            worst_simd = fmax(worst_simd, nmse(y1, y0, R));
            worst_ref = fmax(worst_ref, nmse(y2, y0, R));
            if (q) {
                k_mat mf = { K_F32, R, C, w };
                k_matvec_ref(&mf, x, yf);
                for (int64_t r = 0; r < R; r++) {   /* pooled over all shapes: one row alone is noise */
                    qerr += (double)(y1[r] - yf[r]) * (y1[r] - yf[r]);
                    qsum += (double)yf[r] * yf[r];
                }
            }
            free(buf); free(w); free(x); free(y0); free(y1); free(y2); free(yf);
        }
        char name[96];
        snprintf(name, sizeof name, "matvec %s: SIMD path matches the scalar reference", k_type_name((k_type)t));
        T_CHECK(worst_simd <= (q ? 1e-10 : 1e-7), name, "nmse %g", worst_simd);
        snprintf(name, sizeof name, "matvec %s: K_FORCE_REF pool matches the scalar reference", k_type_name((k_type)t));
        T_CHECK(worst_ref <= 1e-12, name, "nmse %g", worst_ref);
        if (q) {
            snprintf(name, sizeof name, "matvec %s: relative error vs f32 weights is sane", k_type_name((k_type)t));
            double worst_quant = qsum > 0 ? sqrt(qerr / qsum) : 0;
            printf("  %s matvec relative error vs f32: %.4f\n", k_type_name((k_type)t), worst_quant);
            T_CHECK(worst_quant < (t == K_Q8 ? 0.03 : 0.2) && worst_quant > 0, name, "rel err %g", worst_quant);
        }
    }
}

/* k_matvec_n: 20 products of every type and assorted shapes (more than one job's worth) in one call
 * agree with the scalar reference product by product, on the SIMD and the K_FORCE_REF pools. */
static void test_matvec_n(void) {
    enum { N = 20 };
    static const int64_t shapes[][2] = { { 1, 32 }, { 7, 96 }, { 33, 320 }, { 130, 1024 }, { 36, 704 } };
    k_mat W[N];
    const k_mat *Wp[N];
    const float *xp[N];
    float *x[N], *y[N], *yref[N];
    void *buf[N];
    for (int k = 0; k < N; k++) {
        int64_t R = shapes[k % 5][0], C = shapes[(k + 2) % 5][1];
        float *w = malloc(sizeof(float) * (size_t)(R * C));
        x[k] = malloc(sizeof(float) * (size_t)C);
        y[k] = malloc(sizeof(float) * (size_t)R);
        yref[k] = malloc(sizeof(float) * (size_t)R);
        for (int64_t i = 0; i < R * C; i++) w[i] = grand();
        for (int64_t i = 0; i < C; i++) x[k][i] = grand();
        W[k] = make_mat((k_type)(k % K_NTYPES), R, C, w, &buf[k]);
        free(w);
        Wp[k] = &W[k], xp[k] = x[k];
        k_matvec_ref(&W[k], x[k], yref[k]);
    }
    k_pool *pools[2] = { pool_simd, pool_ref };
    double worst[2] = { 0, 0 };
    for (int p = 0; p < 2; p++) {
        k_matvec_n(pools[p], N, Wp, xp, y);
        for (int k = 0; k < N; k++) worst[p] = fmax(worst[p], nmse(y[k], yref[k], W[k].rows));
    }
    T_CHECK(worst[0] <= 1e-7, "matvec_n: 20 mixed products in one job match the reference (SIMD)", "nmse %g", worst[0]);
    T_CHECK(worst[1] <= 1e-12, "matvec_n: the same on the K_FORCE_REF pool", "nmse %g", worst[1]);
    for (int k = 0; k < N; k++) free(buf[k]), free(x[k]), free(y[k]), free(yref[k]);
}

static void test_matmul(void) {
    static const int64_t shapes[][3] = { { 1, 32, 1 }, { 7, 64, 2 }, { 33, 96, 5 }, { 130, 320, 17 }, { 200, 1024, 9 },
                                         { 6, 288, 4 }, { 3, 32, 7 }, { 5, 704, 3 } };
    for (int t = 0; t < K_NTYPES; t++) {
        int q = t == K_Q8 || t == K_Q4;
        double worst = 0, worst_ref = 0;
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            int64_t R = shapes[s][0], C = shapes[s][1] + (q ? 0 : 3), N = shapes[s][2];
            float *w = malloc(sizeof(float) * (size_t)(R * C)), *x = malloc(sizeof(float) * (size_t)(C * N));
            float *y0 = malloc(sizeof(float) * (size_t)(R * N)), *y1 = malloc(sizeof(float) * (size_t)(R * N));
            float *y2 = malloc(sizeof(float) * (size_t)(R * N));
            for (int64_t i = 0; i < R * C; i++) w[i] = grand();
            for (int64_t i = 0; i < C * N; i++) x[i] = grand();
            void *buf;
            k_mat m = make_mat((k_type)t, R, C, w, &buf);
            k_matmul_ref(&m, x, N, y0);
            k_matmul(pool_simd, &m, x, N, y1);
            k_matmul(pool_ref, &m, x, N, y2);
            worst = fmax(worst, nmse(y1, y0, R * N));
            worst_ref = fmax(worst_ref, nmse(y2, y0, R * N));
            free(buf); free(w); free(x); free(y0); free(y1); free(y2);
        }
        char name[96];
        snprintf(name, sizeof name, "matmul %s matches the reference (SIMD pool)", k_type_name((k_type)t));
        T_CHECK(worst <= (q ? 1e-10 : 1e-7), name, "nmse %g", worst);
        snprintf(name, sizeof name, "matmul %s matches the reference (K_FORCE_REF pool)", k_type_name((k_type)t));
        T_CHECK(worst_ref <= (q ? 1e-12 : 1e-7), name, "nmse %g", worst_ref);
    }
}

static void test_quantize_x8(void) {
    int64_t n = 32 * 9;
    float x[32 * 9];
    for (int i = 0; i < n; i++) x[i] = grand() * (i < 32 ? 0 : i < 64 ? 1e-30f : 10);
    x[100] = 0.5f * 127;                   /* exact .5 ties in the scaled values */
    k_x8 a, b;
    void *ba = k_x8_alloc(n, &a), *bb = k_x8_alloc(n, &b);
    k_quantize_x8_ref(x, n, &a);
    int same = 1;
    if (k_have_avx2()) {
        k_quantize_x8_avx2(x, n, &b);
        same = memcmp(a.q, b.q, (size_t)n) == 0 && memcmp(a.d, b.d, 9 * sizeof(float)) == 0 &&
               memcmp(a.ds, b.ds, 9 * sizeof(float)) == 0;
    }
    T_CHECK(same, "activation quantization: AVX2 identical to scalar", "%s", "blocks differ");
    double worst = 0;
    for (int i = 0; i < n; i++) worst = fmax(worst, fabs(a.d[i / 32] * a.q[i] - x[i]) / (a.d[i / 32] + 1e-38));
    int sums = 1;
    for (int k = 0; k < 9; k++) {
        int s = 0;
        for (int j = 0; j < 32; j++) s += a.q[k * 32 + j];
        sums &= a.ds[k] == a.d[k] * (float)s;
    }
    T_CHECK(worst <= 0.5001 && sums, "activation quantization within half a step, ds = d * sum(q)", "%g", worst);
    free(ba);
    free(bb);
}

static void test_vec(void) {
    int simd = k_have_avx2();
    int64_t sizes[] = { 0, 1, 7, 8, 9, 33, 1000, 4099 };
    double wd = 0, wa = 0, wg = 0, ws = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int64_t n = sizes[s];
        float *a = malloc(sizeof(float) * (size_t)(n + 1)), *b = malloc(sizeof(float) * (size_t)(n + 1));
        float *c = malloc(sizeof(float) * (size_t)(n + 1)), *d = malloc(sizeof(float) * (size_t)(n + 1));
        for (int64_t i = 0; i < n; i++) { a[i] = grand() * 3; b[i] = grand(); }
        float r0 = k_dot_ref(a, b, n), r1 = simd ? k_dot_avx2(a, b, n) : r0, r2 = k_dot(a, b, n);
        wd = fmax(wd, fmax(nmse(&r1, &r0, 1), nmse(&r2, &r0, 1)));
        memcpy(c, b, sizeof(float) * (size_t)n);
        memcpy(d, b, sizeof(float) * (size_t)n);
        k_axpy_ref(c, 0.7f, a, n);
        if (simd) k_axpy_avx2(d, 0.7f, a, n);
        else k_axpy(d, 0.7f, a, n);
        wa = fmax(wa, nmse(d, c, n));
        memcpy(c, a, sizeof(float) * (size_t)n);
        memcpy(d, a, sizeof(float) * (size_t)n);
        k_gelu_mul_ref(c, b, n);
        if (simd) k_gelu_mul_avx2(d, b, n);
        else k_gelu_mul(d, b, n);
        wg = fmax(wg, nmse(d, c, n));
        for (int64_t i = 0; i < n; i++) a[i] *= 10;
        memcpy(c, a, sizeof(float) * (size_t)n);
        memcpy(d, a, sizeof(float) * (size_t)n);
        k_softmax_ref(c, n);
        if (simd) k_softmax_avx2(d, n);
        else k_softmax(d, n);
        ws = fmax(ws, nmse(d, c, n));
        free(a); free(b); free(c); free(d);
    }
    T_CHECK(wd <= 1e-7, "dot: SIMD matches scalar", "nmse %g", wd);
    T_CHECK(wa <= 1e-7, "axpy: SIMD matches scalar", "nmse %g", wa);
    T_CHECK(wg <= 1e-7, "gelu_mul: SIMD matches scalar", "nmse %g", wg);
    T_CHECK(ws <= 1e-7, "softmax: SIMD matches scalar", "nmse %g", ws);

    double ge = 0;
    for (int i = -2000; i <= 2000; i++) {
        double x = i * 0.01, want = 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
        ge = fmax(ge, fabs(k_gelu_tanh((float)x) - want));
    }
    T_CHECK(ge < 1e-5, "gelu_tanh matches the formula", "max err %g", ge);
    float gx[16], gu[16];
    for (int i = 0; i < 16; i++) { gx[i] = (float)(i - 8) * 3.0f; gu[i] = 1; }
    gx[3] = -INFINITY;
    gx[4] = INFINITY;
    k_gelu_mul(gx, gu, 16);
    T_CHECK(gx[3] == 0 && gx[4] == INFINITY && fabsf(gx[15] - 21.0f) < 1e-4f && fabsf(gx[0]) < 1e-6f,
            "gelu_mul at the extremes", "%g %g %g %g", gx[3], gx[4], gx[15], gx[0]);

    for (int pass = 0; pass < 2; pass++) {
        float sm[20];
        for (int i = 0; i < 20; i++) sm[i] = i % 3 ? (float)i : -INFINITY;
        if (pass) k_softmax(sm, 20);
        else k_softmax_ref(sm, 20);
        double sum = 0;
        int zeros = 1;
        for (int i = 0; i < 20; i++) { sum += sm[i]; if (i % 3 == 0) zeros &= sm[i] == 0; }
        T_CHECK(fabs(sum - 1) < 1e-6 && zeros, pass ? "softmax with -inf (dispatch)" : "softmax with -inf (scalar)",
                "sum %g", sum);
    }
    float allm[9];
    for (int i = 0; i < 9; i++) allm[i] = -INFINITY;
    k_softmax(allm, 9);
    T_CHECK(allm[0] == allm[8] && fabsf(allm[0] - 1.0f / 9) < 1e-7f, "softmax of all -inf is uniform, not NaN", "%g", allm[0]);
    float big[10] = { 1e30f, 1e30f, 0, -1e30f, 5, 5, 5, 5, 5, 5 };
    k_softmax(big, 10);
    T_CHECK(fabsf(big[0] - 0.5f) < 1e-6f && big[2] == 0, "softmax subtracts the max", "%g", big[0]);

    float xv[37], xo[37], wv[37];
    double ss = 0;
    for (int i = 0; i < 37; i++) { xv[i] = grand(); wv[i] = grand(); ss += (double)xv[i] * xv[i]; }
    k_rmsnorm(xo, xv, wv, 37, 1e-6f);
    double re = 0;
    for (int i = 0; i < 37; i++) re = fmax(re, fabs(xo[i] - xv[i] / sqrt(ss / 37 + 1e-6) * wv[i]));
    memcpy(xo, xv, sizeof xv);
    k_rmsnorm(xo, xo, NULL, 37, 1e-6f);
    double re2 = 0;
    for (int i = 0; i < 37; i++) re2 = fmax(re2, fabs(xo[i] - xv[i] / sqrt(ss / 37 + 1e-6)));
    T_CHECK(re < 1e-5 && re2 < 1e-5, "rmsnorm with weights and in place", "err %g %g", re, re2);
}

static void test_rope(void) {
    float inv[128], x[256], x0[256];
    int64_t d = 256;
    for (int i = 0; i < 128; i++) inv[i] = powf(10000.0f, -(float)(2 * i) / (float)d);
    double worst = 0, norm_err = 0;
    int64_t poss[] = { 0, 1, 17, 4095, 131071 };
    for (size_t k = 0; k < 5; k++) {
        double n0 = 0, n1 = 0;
        for (int i = 0; i < d; i++) { x[i] = x0[i] = grand(); n0 += (double)x[i] * x[i]; }
        float cs[256];
        k_rope_table(cs, d, inv, poss[k]);
        k_rope_apply(x, d, cs);
        for (int i = 0; i < 128; i++) {
            double ang = (double)((float)poss[k] * inv[i]);
            double a = x0[i] * cos(ang) - x0[i + 128] * sin(ang), b = x0[i + 128] * cos(ang) + x0[i] * sin(ang);
            worst = fmax(worst, fmax(fabs(x[i] - a), fabs(x[i + 128] - b)));
        }
        for (int i = 0; i < d; i++) n1 += (double)x[i] * x[i];
        norm_err = fmax(norm_err, fabs(n1 - n0) / n0);
    }
    T_CHECK(worst < 1e-5 && norm_err < 1e-5, "rope (table + apply) matches the direct formula and keeps the norm", "err %g %g",
            worst, norm_err);
    for (int i = 0; i < d; i++) x[i] = x0[i];
    float cs0[256];
    k_rope_table(cs0, d, inv, 0);
    k_rope_apply(x, d, cs0);
    T_CHECK(memcmp(x, x0, sizeof x) == 0, "rope at position 0 is the identity", "%s", "changed");
}

/* Softcap and argmax, which run over the whole vocabulary once per token. */
static void test_logit_ops(void) {
    enum { N = 1003 };
    static float a[N], b[N], c[N];
    int simd = k_have_avx2();
    double worst = 0;
    for (int i = 0; i < N; i++) a[i] = b[i] = c[i] = grand() * (i % 7 == 0 ? 200.0f : 20.0f);
    a[5] = b[5] = c[5] = 1e-6f;
    a[9] = b[9] = c[9] = -1e30f;
    k_softcap_ref(a, N, 30.0f);
    if (simd) k_softcap_avx2(b, N, 30.0f);
    k_softcap(c, N, 30.0f);
    for (int i = 0; i < N; i++) worst = fmax(worst, fmax(fabs(a[i] - b[i]) * simd, fabs(a[i] - c[i])));
    T_CHECK(worst < 2e-5 && fabsf(a[9] + 30.0f) < 1e-5f, "softcap: SIMD matches tanhf within 2e-5 of the cap's scale",
            "max err %g", worst);
    float nan8[9] = { 1, 2, NAN, 4, 5, 6, 7, 8, 9 };
    k_softcap(nan8, 9, 30.0f);
    T_CHECK(isnan(nan8[2]) && fabsf(nan8[1] - tanhf(2.0f / 30) * 30) < 1e-5f, "softcap keeps a NaN a NaN", "%g", nan8[2]);

    int bad = 0;
    for (int n = 1; n < 80; n++)
        for (int trial = 0; trial < 20; trial++) {
            float v[80];
            for (int i = 0; i < n; i++) v[i] = (float)(int)(grand() * 3);      /* many ties */
            if (trial % 4 == 1) v[(trial * 7) % n] = NAN;
            if (trial % 4 == 2) v[0] = NAN;
            if (trial % 4 == 3) for (int i = 0; i < n; i++) v[i] = -INFINITY;
            int64_t want = k_argmax_ref(v, n);
            bad += k_argmax(v, n) != want || (simd && k_argmax_avx2(v, n) != want);
        }
    float mono[40];
    for (int i = 0; i < 40; i++) mono[i] = (float)(i % 23);
    T_CHECK(bad == 0 && k_argmax_ref(mono, 40) == 22, "argmax: SIMD picks the first maximum as the scalar loop does",
            "%d differ", bad);
}

static void test_bandwidth(void) {
    size_t n = (1 << 20) + 72;
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 131 + 7);
    int same = 1;
    if (k_have_avx2())
        for (size_t len = 0; len < 600; len += 37) same &= k_read_sum_avx2(b + 1, len) == k_read_sum_ref(b + 1, len);
    T_CHECK(same, "bandwidth read: AVX2 sum equals scalar", "%s", "differs");
    /* Only sanity: on a shared host a pass can take any time. */
    double gbs = k_read_bandwidth(pool_simd, b, n, 3), gbs1 = k_read_bandwidth(NULL, b, n, 2);
    T_CHECK(gbs > 0 && gbs < 1e6 && gbs1 > 0 && gbs1 < 1e6, "read bandwidth probe returns a rate", "%g %g GB/s", gbs, gbs1);
    free(b);
}

int main(void) {
    char err[256];
    (void)t_data;   /* no fixtures needed */
    setenv("K_FORCE_REF", "1", 1);
    int rc = k_pool_create(&pool_ref, 2, err, sizeof err);
    T_CHECK(rc == 0 && !k_pool_simd(pool_ref), "K_FORCE_REF=1 pool takes the scalar path", "%s", err);
    unsetenv("K_FORCE_REF");
    rc |= k_pool_create(&pool_simd, 2, err, sizeof err);
    T_CHECK(rc == 0 && k_pool_simd(pool_simd) == k_have_avx2(), "default pool takes the SIMD path when the CPU has it",
            "%s", err);
    if (rc) return 1;
    printf("  SIMD path %s\n", k_have_avx2() ? "available" : "not available: SIMD checks compare scalar to scalar");
    test_conversions();
    test_row_to_f32();
    test_pool();
    test_quantize_x8();
    test_matvec();
    test_matvec_n();
    test_matmul();
    test_vec();
    test_rope();
    test_logit_ops();
    test_bandwidth();
    k_pool_free(pool_ref);
    k_pool_free(pool_simd);
    return t_exit();
}
