/* Read-bandwidth probe: the ceiling that decode-time matrix-vector products are measured against. */
#include "kernels/k.h"

#include <string.h>
#include <time.h>

static uint64_t word(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, 8);         /* buf need not be 8-byte aligned */
    return w;
}

uint64_t k_read_sum_ref(const void *buf, size_t bytes) {
    const unsigned char *p = buf;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 32 <= bytes; i += 32) {
        s0 ^= word(p + i);
        s1 ^= word(p + i + 8);
        s2 ^= word(p + i + 16);
        s3 ^= word(p + i + 24);
    }
    for (; i + 8 <= bytes; i += 8) s0 ^= word(p + i);
    return s0 ^ s1 ^ s2 ^ s3;
}

typedef struct {
    const char *buf;
    size_t bytes;
    int simd;
    uint64_t sink[64];     /* one slot per thread so the reads cannot be optimised away */
} bw_job;

#define BW_UNIT 4096       /* bytes per scheduling unit */

static void bw_task(void *arg, int64_t b, int64_t e, int tid) {
    bw_job *j = arg;
    size_t off = (size_t)b * BW_UNIT, end = (size_t)e * BW_UNIT < j->bytes ? (size_t)e * BW_UNIT : j->bytes;
    uint64_t s = j->simd ? k_read_sum_avx2(j->buf + off, end - off) : k_read_sum_ref(j->buf + off, end - off);
    j->sink[tid & 63] ^= s;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double k_read_bandwidth(k_pool *p, const void *buf, size_t bytes, int reps) {
    bw_job j = { buf, bytes, k_pool_simd(p), { 0 } };
    int64_t units = (int64_t)((bytes + BW_UNIT - 1) / BW_UNIT);
    int nt = k_pool_threads(p);
    double best = 0;
    for (int r = 0; r < (reps > 0 ? reps : 1); r++) {
        double t0 = now();
        k_pool_run(p, bw_task, &j, units, units / nt > 0 ? units / nt : 1);
        double dt = now() - t0;
        if (dt > 0 && (double)bytes / dt > best) best = (double)bytes / dt;
    }
    return best * 1e-9;
}
