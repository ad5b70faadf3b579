/* A persistent pthreads pool.  Workers spin briefly on a generation counter before sleeping on a
 * condition variable, because decode issues hundreds of short products per token and a futex
 * wake-up per product would cost more than the work split saves. */
#include "kernels/k.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SPIN_NS 200000      /* a worker spins this long (0.2 ms) for the next job, then sleeps */
#define SPIN_ROUNDS 20000   /* the caller's pause rounds before it yields while waiting */

struct k_pool {
    int nthreads, simd, nworkers;   /* nworkers = threads started (nthreads - 1 when all started) */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;                /* bumped once per job */
    atomic_int done;                /* workers finished with the current job */
    atomic_int sleepers;
    atomic_int busy;                /* a job is running: nested or concurrent callers run inline */
    atomic_int stop;
    k_task_fn fn;
    void *arg;
    int64_t n, grain;
    int64_t chunk, nchunks;         /* the job cut into chunks that threads claim in turn */
    atomic_llong next;
};

typedef struct { k_pool *p; int tid; } worker_arg;

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

int k_have_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}

int k_pool_simd(const k_pool *p) { return p ? p->simd : k_have_avx2(); }
int k_pool_threads(const k_pool *p) { return p ? p->nthreads : 1; }

/* Chunks are claimed dynamically: on a shared host one thread is often descheduled for a while,
 * and a static split would make every product wait for it. */
static void run_share(k_pool *p, int tid) {
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (c >= p->nchunks) return;
        int64_t b = c * p->chunk, e = b + p->chunk < p->n ? b + p->chunk : p->n;
        p->fn(p->arg, b, e, tid);
    }
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *worker(void *a) {
    k_pool *p = ((worker_arg *)a)->p;
    int tid = ((worker_arg *)a)->tid;
    free(a);
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
        uint64_t t0 = now_ns();
        for (unsigned i = 1; g == seen && !atomic_load(&p->stop); i++) {
            cpu_relax();
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
            if (i % 64 == 0 && now_ns() - t0 > SPIN_NS) break;
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = g;
        run_share(p, tid);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    }
}

static int cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int k_pool_create(k_pool **out, int nthreads, char *err, size_t errlen) {
    *out = NULL;
    if (nthreads <= 0) nthreads = cores();
    if (nthreads > 1024) nthreads = 1024;
    k_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->th = calloc((size_t)nthreads, sizeof *p->th))) {
        free(p);
        snprintf(err, errlen, "kernels/k_pool.c: out of memory for a pool of %d threads", nthreads);
        return -1;
    }
    const char *force = getenv("K_FORCE_REF");
    p->simd = k_have_avx2() && !(force && *force && strcmp(force, "0") != 0);
    p->nthreads = nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 1; i < nthreads; i++) {
        worker_arg *a = malloc(sizeof *a);
        int rc = a ? 0 : -1;
        if (a) {
            a->p = p;
            a->tid = i;
            rc = pthread_create(&p->th[i], NULL, worker, a);
            if (rc) free(a);
        }
        if (rc) {
            snprintf(err, errlen, "kernels/k_pool.c: cannot start thread %d of %d: %s", i, nthreads,
                     a ? strerror(rc) : "out of memory");
            k_pool_free(p);
            return -1;
        }
        p->nworkers++;
    }
    *out = p;
    return 0;
}

void k_pool_free(k_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i <= p->nworkers; i++) pthread_join(p->th[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->th);
    free(p);
}

void k_pool_run(k_pool *p, k_task_fn fn, void *arg, int64_t n, int64_t grain) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (!p || p->nthreads == 1 || n <= grain || atomic_exchange(&p->busy, 1)) {
        fn(arg, 0, n, 0);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->grain = grain;
    /* about 4 chunks per thread: enough to even out, few enough to keep long streams */
    int64_t grains = (n + grain - 1) / grain, per = grains / (4 * p->nthreads);
    p->chunk = (per > 1 ? per : 1) * grain;
    p->nchunks = (n + p->chunk - 1) / p->chunk;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    if (atomic_load(&p->sleepers)) pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    run_share(p, 0);
    for (long spins = 0; atomic_load_explicit(&p->done, memory_order_acquire) < p->nworkers; spins++) {
        if (spins < SPIN_ROUNDS) cpu_relax();
        else sched_yield();
    }
    atomic_store(&p->busy, 0);
}
