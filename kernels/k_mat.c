/* Matrix-vector and matrix-matrix products: dispatch to the row kernels, threaded over rows. */
#include "kernels/k.h"

#include <cblas.h>
#include <stdlib.h>

#define MV_GRAIN 16        /* rows per scheduling unit in k_matvec */
#define MV_MIN_WORK 65536  /* weights per scheduling unit: smaller products are not worth a hand-off */
#define MM_TILE 64         /* rows widened to f32 at a time in k_matmul */
#define MM_MIN_TOKENS 4    /* below this, float k_matmul runs one k_matvec per token */

#define MV_MULTI 16    /* products per k_matvec_n job */

typedef struct {
    int n, simd;
    const k_mat *W[MV_MULTI];
    const void *x[MV_MULTI];           /* f32, or the k_x8 of a quantized product */
    float *y[MV_MULTI];
    int64_t start[MV_MULTI + 1];       /* product k owns rows [start[k], start[k + 1]) of the job */
} mv_job;

static void mv_task(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const mv_job *j = arg;
    for (int k = 0; k < j->n; k++) {
        int64_t lo = b > j->start[k] ? b : j->start[k], hi = e < j->start[k + 1] ? e : j->start[k + 1];
        if (lo >= hi) continue;
        lo -= j->start[k], hi -= j->start[k];
        if (j->simd) k_rows_avx2(j->W[k], j->x[k], lo, hi, j->y[k] + lo);
        else k_rows_ref(j->W[k], j->x[k], lo, hi, j->y[k] + lo);
    }
}

static int is_quant(k_type t) { return t == K_Q8 || t == K_Q4; }

/* Row-by-row product through a block-sized f32 buffer: needs no allocation, so it is the fallback
 * when scratch memory cannot be had. */
static void matvec_dequant(const k_mat *W, const float *x, float *y) {
    size_t rb = k_row_bytes(W->type, W->cols);
    float w[K_QBLOCK];
    for (int64_t r = 0; r < W->rows; r++) {
        float s = 0;
        for (int64_t i = 0; i < W->cols; i += K_QBLOCK) {
            int64_t c = W->cols - i < K_QBLOCK ? W->cols - i : K_QBLOCK;
            const char *row = (const char *)W->data + (size_t)r * rb;
            if (is_quant(W->type)) {
                k_qblock_to_f32(W->type, row, W->cols / K_QBLOCK, i / K_QBLOCK, w);
            } else {
                k_mat part = { W->type, 1, c, row + k_row_bytes(W->type, i) };
                k_row_to_f32(&part, 0, w);
            }
            for (int64_t k = 0; k < c; k++) s += w[k] * x[i + k];
        }
        y[r] = s;
    }
}

void k_matvec_n(k_pool *p, int n, const k_mat *const *W, const float *const *x, float *const *y) {
    for (int b = 0; b < n; b += MV_MULTI) {
        mv_job j = { .n = n - b < MV_MULTI ? n - b : MV_MULTI, .simd = k_pool_simd(p) };
        k_x8 xq[MV_MULTI];
        void *buf[MV_MULTI] = { 0 };
        int64_t cols = 1;
        for (int k = 0; k < j.n; k++) {
            const k_mat *w = W[b + k];
            j.W[k] = w, j.x[k] = x[b + k], j.y[k] = y[b + k];
            j.start[k + 1] = j.start[k] + w->rows;
            if (w->cols > cols) cols = w->cols;
            if (!is_quant(w->type)) continue;
            if (!(buf[k] = k_x8_alloc(w->cols, &xq[k]))) {   /* no scratch: this one on its own */
                matvec_dequant(w, x[b + k], y[b + k]);
                j.start[k + 1] = j.start[k];
                continue;
            }
            if (j.simd) k_quantize_x8_avx2(x[b + k], w->cols, &xq[k]);
            else k_quantize_x8_ref(x[b + k], w->cols, &xq[k]);
            j.x[k] = &xq[k];
        }
        int64_t grain = MV_GRAIN, rows = j.start[j.n];
        while (grain * cols < MV_MIN_WORK && grain < rows) grain *= 2;
        k_pool_run(p, mv_task, &j, rows, grain);
        for (int k = 0; k < j.n; k++) free(buf[k]);
    }
}

void k_matvec(k_pool *p, const k_mat *W, const float *x, float *y) { k_matvec_n(p, 1, &W, &x, &y); }

void k_matvec_ref(const k_mat *W, const float *x, float *y) {
    if (!is_quant(W->type)) {
        k_rows_ref(W, x, 0, W->rows, y);
        return;
    }
    k_x8 xq;
    void *buf = k_x8_alloc(W->cols, &xq);
    if (!buf) {
        matvec_dequant(W, x, y);
        return;
    }
    k_quantize_x8_ref(x, W->cols, &xq);
    k_rows_ref(W, &xq, 0, W->rows, y);
    free(buf);
}

void k_matmul_ref(const k_mat *W, const float *X, int64_t n, float *Y) {
    for (int64_t t = 0; t < n; t++) k_matvec_ref(W, X + t * W->cols, Y + t * W->rows);
}

typedef struct {
    const k_mat *W;
    const float *X;
    const k_x8 *xq;        /* quantized types: X quantized */
    int64_t n;
    float *Y;
    int simd;
} mm_job;

/* Y[:, b:e] = X . W[b:e]^T.  f32 rows go straight to sgemm, bf16 / f16 rows are widened a tile at
 * a time (widening costs ~2 % of the product at n = 128), quantized rows use the integer kernels. */
static void mm_task(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const mm_job *j = arg;
    const k_mat *W = j->W;
    int64_t K = W->cols;
    if (j->xq) {
        if (j->simd) k_rows_x8n_avx2(W, j->xq, j->n, b, e, j->Y + b, W->rows);
        else k_rows_x8n_ref(W, j->xq, j->n, b, e, j->Y + b, W->rows);
        return;
    }
    if (W->type == K_F32) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)j->n, (int)(e - b), (int)K, 1.0f,
                    j->X, (int)K, (const float *)W->data + b * K, (int)K, 0.0f, j->Y + b, (int)W->rows);
        return;
    }
    /* Each sgemm call packs X again: widen as many rows per call as fit ~4 MB of f32. */
    int64_t tile = ((int64_t)1 << 20) / K;
    if (tile < MM_TILE) tile = MM_TILE;
    if (tile > e - b) tile = e - b;
    float *wf = malloc((size_t)(tile * K) * sizeof *wf);
    for (int64_t r0 = b; r0 < e; r0 += tile) {
        int64_t r1 = r0 + tile < e ? r0 + tile : e;
        if (!wf) {
            for (int64_t t = 0; t < j->n; t++) {
                k_mat part = { W->type, r1 - r0, K, (const char *)W->data + (size_t)r0 * k_row_bytes(W->type, K) };
                matvec_dequant(&part, j->X + t * K, j->Y + t * W->rows + r0);
            }
            continue;
        }
        for (int64_t r = r0; r < r1; r++) k_row_to_f32(W, r, wf + (r - r0) * K);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)j->n, (int)(r1 - r0), (int)K, 1.0f,
                    j->X, (int)K, wf, (int)K, 0.0f, j->Y + r0, (int)W->rows);
    }
    free(wf);
}

/* Quantizes tokens [b, e) of X into j->xq (rows of X are whole blocks). */
static void mmq_task(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const mm_job *j = arg;
    int64_t K = j->W->cols, nb = K / K_QBLOCK;
    k_x8 part = { j->xq->q + b * K, j->xq->d + b * nb, j->xq->ds + b * nb };
    if (j->simd) k_quantize_x8_avx2(j->X + b * K, (e - b) * K, &part);
    else k_quantize_x8_ref(j->X + b * K, (e - b) * K, &part);
}

void k_matmul(k_pool *p, const k_mat *W, const float *X, int64_t n, float *Y) {
    mm_job j = { W, X, NULL, n, Y, k_pool_simd(p) };
    k_x8 xq;
    void *buf = NULL;
    if (n >= 2 && is_quant(W->type) && (buf = k_x8_alloc(n * W->cols, &xq))) {
        j.xq = &xq;
        k_pool_run(p, mmq_task, &j, n, 1);
    }
    if (is_quant(W->type) ? !buf : n < MM_MIN_TOKENS) {
        for (int64_t t = 0; t < n; t++) k_matvec(p, W, X + t * W->cols, Y + t * W->rows);
        return;
    }
    if (!j.xq) openblas_set_num_threads(1);   /* the pool does the threading */
    int64_t grain = MM_TILE;
    while (grain * W->cols * n < 4 * MV_MIN_WORK && grain < W->rows) grain *= 2;
    k_pool_run(p, mm_task, &j, W->rows, grain);
    free(buf);
}
