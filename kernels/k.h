/* kernels — the hot loops on plain arrays.  Knows nothing of models or files.
 *
 * Every SIMD kernel (kernels/..._avx2.c, built with -mavx2 -mfma -mf16c) has a portable scalar
 * reference (the *_ref functions) and is chosen at run time: the public entry points below use
 * the AVX2 path when the CPU has AVX2+FMA+F16C.  K_FORCE_REF=1 in the environment when a pool is
 * created puts that pool's own kernels (k_matvec, quantized k_matmul, k_read_bandwidth) on the
 * scalar path; float k_matmul is sgemm either way, and calls without a pool and the vector ops
 * look only at the CPU. */
#ifndef K_H
#define K_H
#include <stddef.h>
#include <stdint.h>

/* ---- weight formats ---------------------------------------------------------------------- */
typedef enum { K_F32 = 0, K_BF16, K_F16, K_Q8, K_Q4, K_NTYPES } k_type;

/* Quantized blocks of 32 weights along a row (cols must be a multiple of 32), 34 bytes (q8) or 20
 * bytes (q4) per block, no padding.
 * q8: w = d * q, q in [-127,127], d = max|w| / 127.
 * q4: w = d * q + m, q in [0,15], m = min w, d = (max w - min w) / 15.  Byte j of q holds element j
 *     in its low nibble and element j + 16 in its high nibble, so one 16-byte load gives elements
 *     0..15 (low nibbles) and 16..31 (high nibbles).
 * A row stores its blocks in groups of K_QGROUP (the last group may be shorter, g blocks): the g f16
 * scales d, for q4 the g f16 mins m, then the g blocks' quants.  One load then gives 8 blocks'
 * scales, and two consecutive blocks' quants are adjacent. */
#define K_QBLOCK 32
#define K_QGROUP 8
#define K_Q8_BYTES 34      /* bytes per block: f16 d + 32 quants */
#define K_Q4_BYTES 20      /* f16 d, f16 m + 16 bytes of nibbles */

static inline uint16_t k_ld16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }   /* f16 as stored */

/* Where block i of a quantized row of nb blocks lives (m is NULL for q8). */
typedef struct { const uint8_t *d, *m, *q; } k_qref;
static inline k_qref k_qblock(k_type t, const void *row, int64_t nb, int64_t i) {
    int64_t g = i / K_QGROUP, j = i % K_QGROUP, gs = nb - g * K_QGROUP < K_QGROUP ? nb - g * K_QGROUP : K_QGROUP;
    const uint8_t *base = (const uint8_t *)row + g * K_QGROUP * (t == K_Q8 ? K_Q8_BYTES : K_Q4_BYTES);
    if (t == K_Q8) return (k_qref){ base + 2 * j, NULL, base + 2 * gs + 32 * j };
    return (k_qref){ base + 2 * j, base + 2 * gs + 2 * j, base + 4 * gs + 16 * j };
}

/* A row-major matrix [rows, cols] of one type; for quantized types each row is cols/32 blocks. */
typedef struct {
    k_type type;
    int64_t rows, cols;
    const void *data;
} k_mat;

const char *k_type_name(k_type t);
size_t k_row_bytes(k_type t, int64_t cols);

/* ---- conversions ------------------------------------------------------------------------- */
float k_bf16_to_f32(uint16_t h);
uint16_t k_f32_to_bf16(float f);            /* round to nearest even */
float k_f16_to_f32(uint16_t h);
uint16_t k_f32_to_f16(float f);
/* Row r of W (any type) widened to f32 into out[cols]. */
void k_row_to_f32(const k_mat *W, int64_t r, float *out);
/* Quantize a row of n f32 values (n multiple of 32) into type K_Q8 or K_Q4. */
void k_quantize_row(k_type t, const float *x, int64_t n, void *out);
/* Block i of a quantized row of nb blocks widened to f32 into out[32]. */
void k_qblock_to_f32(k_type t, const void *row, int64_t nb, int64_t i, float *out);

/* ---- thread pool ------------------------------------------------------------------------- */
typedef struct k_pool k_pool;
/* fn(arg, begin, end, thread_index): process items [begin, end). */
typedef void (*k_task_fn)(void *arg, int64_t begin, int64_t end, int tid);
int k_pool_create(k_pool **out, int nthreads, char *err, size_t errlen);   /* nthreads<=0: cores */
void k_pool_free(k_pool *p);
int k_pool_threads(const k_pool *p);
/* Splits [0, n) into contiguous chunks (multiples of grain, but for the last) that the threads
 * claim in turn, so fn may run several times per thread, and waits for all of them.  The calling
 * thread takes part (tid 0).  Runs inline (one call, tid 0) when p is NULL, when n <= grain, and
 * when called from inside a running job or while another thread's job runs. */
void k_pool_run(k_pool *p, k_task_fn fn, void *arg, int64_t n, int64_t grain);

/* ---- matrix products (threaded over p) --------------------------------------------------- */
/* y[r] = sum_c W[r,c] * x[c],  x f32 [cols], y f32 [rows]. */
void k_matvec(k_pool *p, const k_mat *W, const float *x, float *y);
/* n independent products y[k] = W[k] . x[k] in one job: the threads meet once for all of them, not
 * once each (decode's small products: q/k/v, gate/up, a token's experts). */
void k_matvec_n(k_pool *p, int n, const k_mat *const *W, const float *const *x, float *const *y);
/* Y[t,r] = sum_c W[r,c] * X[t,c],  X f32 [n, cols], Y f32 [n, rows].  Float types go through
 * OpenBLAS sgemm on row slices run by the pool threads (sets openblas_set_num_threads(1));
 * q8 / q4 quantize X like k_matvec does, so prefill and decode agree. */
void k_matmul(k_pool *p, const k_mat *W, const float *X, int64_t n, float *Y);
/* Scalar references for the tests (single-threaded, any type). */
void k_matvec_ref(const k_mat *W, const float *x, float *y);
void k_matmul_ref(const k_mat *W, const float *X, int64_t n, float *Y);

/* ---- vector ops -------------------------------------------------------------------------- */
float k_dot(const float *a, const float *b, int64_t n);
void k_axpy(float *y, float a, const float *x, int64_t n);            /* y += a*x */
/* out = x / sqrt(mean(x^2) + eps) * (w ? w : 1); out may alias x. */
void k_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
float k_gelu_tanh(float x);
void k_gelu_mul(float *g, const float *u, int64_t n);                /* g = gelu(g) * u */
void k_softmax(float *x, int64_t n);
void k_softcap(float *x, int64_t n, float cap);                      /* x = tanh(x / cap) * cap */
/* Index of the first maximum, NaNs never chosen (but for x[0], which wins when it is NaN). */
int64_t k_argmax(const float *x, int64_t n);
/* NeoX rotate-half RoPE on heads of d dims: pairs (i, i+d/2) turned by pos*inv_freq[i], i < d/2.
 * The table (cs[i] = cos, cs[d/2 + i] = sin) is made once per position and serves every head. */
void k_rope_table(float *cs, int64_t d, const float *inv_freq, int64_t pos);
void k_rope_apply(float *x, int64_t d, const float *cs);

/* ---- memory bandwidth -------------------------------------------------------------------- */
/* Reads `bytes` of buf reps times, split over p (per thread 8 AVX2 accumulators over 4 streams);
 * returns the GB/s of the fastest pass. */
double k_read_bandwidth(k_pool *p, const void *buf, size_t bytes, int reps);

/* ---- explicit paths: the entry points above pick one; exposed for tests and measurements ---- */
int k_have_avx2(void);                        /* CPU has AVX2 + FMA + F16C */
int k_pool_simd(const k_pool *p);             /* p's kernels take the AVX2 path (NULL: k_have_avx2) */

/* The activation x of a q8/q4 product, quantized once per call in blocks of 32: for block i,
 * q[32i + j] = round(x[32i + j] / d[i]), d[i] = max|x| / 127 over the block, ds[i] = d[i] * sum of
 * the block's q (for the q4 min term).  Separate arrays, so that kernels load 8 blocks' scales at
 * once.  k_x8_alloc gives one allocation for n values (n multiple of 32); free it with free(). */
typedef struct { int8_t *q; float *d, *ds; } k_x8;
void *k_x8_alloc(int64_t n, k_x8 *x);
void k_quantize_x8_ref(const float *x, int64_t n, const k_x8 *out);
void k_quantize_x8_avx2(const float *x, int64_t n, const k_x8 *out);
/* y[r - r0] = row r of W . x for r in [r0, r1).  x is f32 [cols] for float types and a k_x8 of
 * cols values for K_Q8 / K_Q4. */
void k_rows_ref(const k_mat *W, const void *x, int64_t r0, int64_t r1, float *y);
void k_rows_avx2(const k_mat *W, const void *x, int64_t r0, int64_t r1, float *y);
/* The same for n activations at once (K_Q8 / K_Q4 only; x holds them quantized back to back,
 * n * cols values): Y[t * ldy + r - r0] = row r of W . x_t. */
void k_rows_x8n_ref(const k_mat *W, const k_x8 *x, int64_t n, int64_t r0, int64_t r1, float *Y, int64_t ldy);
void k_rows_x8n_avx2(const k_mat *W, const k_x8 *x, int64_t n, int64_t r0, int64_t r1, float *Y, int64_t ldy);

void k_quantize_row_ref(k_type t, const float *x, int64_t n, void *out);
void k_quantize_block_ref(k_type t, const float *x, uint8_t *d, uint8_t *m, uint8_t *q);   /* one block of 32 */
void k_quantize_row_avx2(k_type t, const float *x, int64_t n, void *out);
void k_row_to_f32_ref(const k_mat *W, int64_t r, float *out);
void k_row_to_f32_avx2(const k_mat *W, int64_t r, float *out);
uint64_t k_read_sum_ref(const void *buf, size_t bytes);     /* XOR of the 8-byte words (tail ignored) */
uint64_t k_read_sum_avx2(const void *buf, size_t bytes);

float k_dot_ref(const float *a, const float *b, int64_t n);
float k_dot_avx2(const float *a, const float *b, int64_t n);
void k_axpy_ref(float *y, float a, const float *x, int64_t n);
void k_axpy_avx2(float *y, float a, const float *x, int64_t n);
void k_gelu_mul_ref(float *g, const float *u, int64_t n);
void k_gelu_mul_avx2(float *g, const float *u, int64_t n);
void k_softmax_ref(float *x, int64_t n);
void k_softmax_avx2(float *x, int64_t n);
void k_softcap_ref(float *x, int64_t n, float cap);
void k_softcap_avx2(float *x, int64_t n, float cap);
int64_t k_argmax_ref(const float *x, int64_t n);
int64_t k_argmax_avx2(const float *x, int64_t n);

#endif
