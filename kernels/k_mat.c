/* Matrix-vector and matrix-matrix products: dispatch to the row kernels, threaded over rows. */
#include "kernels/k.h"

#include <cblas.h>
#include <stdlib.h>

#define MV_GRAIN 16        /* rows per scheduling unit in k_matvec */
#define MV_MIN_WORK 65536  /* weights per scheduling unit: smaller products are not worth a hand-off */
#define MM_TILE 64         /* rows widened to f32 at a time in k_matmul */
#define MM_MIN_TOKENS 4    /* below this, float k_matmul runs one k_matvec per token */

typedef struct {
    const k_mat *W;
    const void *x;
    float *y;
    int simd;
} mv_job;

static void mv_task(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    const mv_job *j = arg;
    if (j->simd) k_rows_avx2(j->W, j->x, b, e, j->y + b);
    else k_rows_ref(j->W, j->x, b, e, j->y + b);
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

void k_matvec(k_pool *p, const k_mat *W, const float *x, float *y) {
    mv_job j = { W, x, y, k_pool_simd(p) };
    k_x8 xq;
    void *buf = NULL;
    if (is_quant(W->type)) {
        if (!(buf = k_x8_alloc(W->cols, &xq))) {
            matvec_dequant(W, x, y);
            return;
        }
        if (j.simd) k_quantize_x8_avx2(x, W->cols, &xq);
        else k_quantize_x8_ref(x, W->cols, &xq);
        j.x = &xq;
    }
    int64_t grain = MV_GRAIN;
    while (grain * W->cols < MV_MIN_WORK && grain < W->rows) grain *= 2;
    k_pool_run(p, mv_task, &j, W->rows, grain);
    free(buf);
}

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
