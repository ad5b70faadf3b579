/* The streaming safetensors writer of syn: random tensors generated in chunks into fixed-size blocks that
 * a second thread writes out while the next block is filled, so a 10 GB checkpoint needs 70 MiB of memory.
 * The blocks bypass the page cache (O_DIRECT) where the file system allows it: buffered writes of ten
 * gigabytes spend most of their time in the kernel's page reclaim, direct ones run at the disk's speed. */
#include "model/synth_int.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define CHUNK ((size_t)1 << 20)      /* elements of one random stream: its seed is (seed, tensor, chunk) */
#define BLOCK ((size_t)32 << 20)     /* bytes handed to the writer at a time */
#define ALIGN ((size_t)4096)         /* O_DIRECT: buffer addresses and write sizes are multiples of this */
#define NQ 65536                     /* 16 random bits index a table of quantiles of the distribution */

static uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Quantiles Phi^-1((i + 0.5) / NQ) of the standard normal, by bisection on erfc: a weight drawn by a
 * uniform 16-bit index is then N(0, 1) up to +-4.2 sigma. */
static void normal_quantiles(float *q) {
    for (int i = 0; i < NQ / 2; i++) {
        double p = (i + 0.5) / NQ, lo = -6, hi = 0;
        for (int it = 0; it < 48; it++) {
            double mid = 0.5 * (lo + hi);
            if (0.5 * erfc(-mid / sqrt(2.0)) < p) lo = mid;
            else hi = mid;
        }
        q[i] = (float)(0.5 * (lo + hi));
        q[NQ - 1 - i] = -q[i];
    }
}

/* The NQ values a tensor's weights are drawn from, in its dtype. */
static void value_table(const syn_tensor *t, const float *normal, st_dtype dt, void *tab) {
    for (int i = 0; i < NQ; i++) {
        float v = t->dist == SYN_GAUSS ? t->a * normal[i] : t->a + (t->b - t->a) * (float)((i + 0.5) / NQ);
        if (dt == ST_F32) ((float *)tab)[i] = v;
        else ((uint16_t *)tab)[i] = k_f32_to_bf16(v);
    }
}

/* n values of one chunk: xorshift64* gives 4 table indices per step. */
static void fill_chunk(void *out, size_t n, st_dtype dt, const void *tab, uint64_t state) {
    uint64_t x = state | 1;
    for (size_t i = 0; i < n; i += 4) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t r = x * 0x2545f4914f6cdd1dull;
        size_t m = n - i < 4 ? n - i : 4;
        if (dt == ST_F32)
            for (size_t j = 0; j < m; j++) ((float *)out)[i + j] = ((const float *)tab)[(r >> (16 * j)) & 0xffff];
        else
            for (size_t j = 0; j < m; j++) ((uint16_t *)out)[i + j] = ((const uint16_t *)tab)[(r >> (16 * j)) & 0xffff];
    }
}

static size_t numel(const syn_tensor *t) {
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    return n;
}

/* Data order: matrices, then vectors, then the one-element scalars, so every tensor but the trailing
 * scalars starts at a multiple of 64 bytes (no holes are allowed between tensors to pad them). */
static int data_class(const syn_tensor *t) { return t->ndim >= 2 ? 0 : numel(t) > 1 ? 1 : 2; }

static char *header_json(const syn_tensor *ts, const size_t *order, size_t n, st_dtype dt, size_t *hlen,
                         uint64_t *total) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    uint64_t at = 0;
    fprintf(f, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t k = 0; k < n; k++) {
        const syn_tensor *t = &ts[order[k]];
        uint64_t bytes = (uint64_t)numel(t) * st_dtype_size(dt);
        fprintf(f, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, st_dtype_name(dt));
        for (int d = 0; d < t->ndim; d++) fprintf(f, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        fprintf(f, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at, (unsigned long long)(at + bytes));
        at += bytes;
    }
    fputc('}', f);
    while (ftell(f) % 8) fputc(' ', f);
    if (fclose(f)) {
        free(text);
        return NULL;
    }
    *hlen = len;
    *total = at;
    return text;
}

/* ---- the writer thread ---------------------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *buf[2];
    size_t len[2];
    int full[2];
    int done;
    int fd;
    int werr;                  /* errno of a failed write, 0 while all is well */
} pipe_state;

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? errno : EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *writer_main(void *arg) {
    pipe_state *ps = arg;
    for (int slot = 0;; slot ^= 1) {
        pthread_mutex_lock(&ps->mu);
        while (!ps->full[slot] && !ps->done) pthread_cond_wait(&ps->cv, &ps->mu);
        int have = ps->full[slot];
        pthread_mutex_unlock(&ps->mu);
        if (!have) return NULL;
        int e = ps->werr ? 0 : write_all(ps->fd, ps->buf[slot], ps->len[slot]);
        pthread_mutex_lock(&ps->mu);
        if (e) ps->werr = e;
        ps->full[slot] = 0;
        pthread_cond_broadcast(&ps->cv);
        pthread_mutex_unlock(&ps->mu);
    }
}

/* The producer's side: bytes appended to the current block, which goes to the writer when full. */
typedef struct {
    pipe_state *ps;
    int slot;
    size_t used;
} stream;

/* Hands the current block (len bytes) to the writer and waits until the other one is free again. */
static int submit(stream *st, size_t len) {
    pipe_state *ps = st->ps;
    pthread_mutex_lock(&ps->mu);
    ps->len[st->slot] = len;
    ps->full[st->slot] = 1;
    pthread_cond_broadcast(&ps->cv);
    st->slot ^= 1;
    st->used = 0;
    while (ps->full[st->slot]) pthread_cond_wait(&ps->cv, &ps->mu);
    int e = ps->werr;
    pthread_mutex_unlock(&ps->mu);
    return e;
}

static int append(stream *st, const void *p, size_t n) {
    const unsigned char *src = p;
    while (n) {
        size_t k = BLOCK - st->used < n ? BLOCK - st->used : n;
        memcpy(st->ps->buf[st->slot] + st->used, src, k);
        st->used += k;
        src += k;
        n -= k;
        if (st->used == BLOCK) {
            int e = submit(st, BLOCK);
            if (e) return e;
        }
    }
    return 0;
}

/* The last block is padded to ALIGN (the file is cut back to its size afterwards); the empty hand-off
 * after it returns only once the last block is written. */
static int finish(stream *st) {
    size_t len = (st->used + ALIGN - 1) / ALIGN * ALIGN;
    memset(st->ps->buf[st->slot] + st->used, 0, len - st->used);
    int e = submit(st, len);
    return e ? e : submit(st, 0);
}

static int generate(pipe_state *ps, const syn_tensor *ts, const size_t *order, size_t n, st_dtype dt, uint64_t seed,
                    const char *hdr, size_t hlen) {
    size_t es = st_dtype_size(dt);
    float *normal = malloc(NQ * sizeof *normal);
    void *tab = malloc(NQ * es), *chunk = malloc(CHUNK * es);
    int e = !normal || !tab || !chunk ? ENOMEM : 0;
    stream st = {ps, 0, 0};
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    if (!e) {
        normal_quantiles(normal);
        e = append(&st, len8, 8);
    }
    if (!e) e = append(&st, hdr, hlen);
    for (size_t k = 0; k < n && !e; k++) {
        const syn_tensor *t = &ts[order[k]];
        value_table(t, normal, dt, tab);
        size_t total = numel(t);
        uint64_t tseed = splitmix(seed ^ splitmix(order[k] + 1));
        for (size_t c = 0, at = 0; at < total && !e; c++, at += CHUNK) {
            size_t m = total - at < CHUNK ? total - at : CHUNK;
            fill_chunk(chunk, m, dt, tab, splitmix(tseed + c));
            e = append(&st, chunk, m * es);
        }
    }
    if (!e) e = finish(&st);
    free(normal);
    free(tab);
    free(chunk);
    return e;
}

static int free_space(const char *path, uint64_t need, char *err, size_t errlen) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    struct statvfs sv;
    if (statvfs(dir, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < need + ((uint64_t)256 << 20)) {
        snprintf(err, errlen, "%s: needs %.1f GB of disk, only %.1f GB free", path, need / 1e9,
                 (double)sv.f_bavail * sv.f_frsize / 1e9);
        return -1;
    }
    return 0;
}

int syn_write_weights(const char *path, const syn_tensor *ts, size_t n, st_dtype dt, uint64_t seed, char *err,
                      size_t errlen) {
    size_t *order = malloc((n ? n : 1) * sizeof *order), hlen = 0, k = 0;
    uint64_t total = 0;
    if (!order) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (int cls = 0; cls < 3; cls++)
        for (size_t i = 0; i < n; i++)
            if (data_class(&ts[i]) == cls) order[k++] = i;
    char *hdr = header_json(ts, order, n, dt, &hlen, &total);
    if (!hdr) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(order);
        return -1;
    }
    uint64_t size = 8 + hlen + total;
    if (free_space(path, size, err, errlen)) {
        free(hdr);
        free(order);
        return -1;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
    pipe_state ps = {.fd = open(tmp, flags | O_DIRECT, 0644)};
    if (ps.fd < 0 && errno == EINVAL) ps.fd = open(tmp, flags, 0644);   /* no O_DIRECT here (tmpfs) */
    if (ps.fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        free(hdr);
        free(order);
        return -1;
    }
    pthread_mutex_init(&ps.mu, NULL);
    pthread_cond_init(&ps.cv, NULL);
    ps.buf[0] = aligned_alloc(ALIGN, BLOCK);
    ps.buf[1] = aligned_alloc(ALIGN, BLOCK);
    pthread_t th;
    int e = !ps.buf[0] || !ps.buf[1] ? ENOMEM : pthread_create(&th, NULL, writer_main, &ps);
    if (!e) {
        e = generate(&ps, ts, order, n, dt, seed, hdr, hlen);
        pthread_mutex_lock(&ps.mu);
        ps.done = 1;
        pthread_cond_broadcast(&ps.cv);
        pthread_mutex_unlock(&ps.mu);
        pthread_join(th, NULL);
        if (!e) e = ps.werr;
    }
    if (!e && ftruncate(ps.fd, (off_t)size)) e = errno;   /* drop the last block's padding */
    if (close(ps.fd) && !e) e = errno;
    if (!e && rename(tmp, path)) e = errno;
    if (e) {
        snprintf(err, errlen, "%s: writing the weights failed: %s", tmp, strerror(e));
        unlink(tmp);
    }
    pthread_mutex_destroy(&ps.mu);
    pthread_cond_destroy(&ps.cv);
    free(ps.buf[0]);
    free(ps.buf[1]);
    free(hdr);
    free(order);
    return e ? -1 : 0;
}
