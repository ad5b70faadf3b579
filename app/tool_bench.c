/* gemmatool synth / bench (spec/cli.md): synthetic checkpoints of the real shapes, and the benchmark that
 * times load, prefill, first token and decode, with a read-bandwidth probe taken just before the decode so
 * decode speed can be judged against what the memory can deliver in the same time window. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "app/args.h"
#include "app/tool.h"
#include "model/gm.h"
#include "model/smp.h"
#include "model/st.h"
#include "model/synth.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int tool_synth(int argc, char **argv) {
    static const char *const known[] = {"--shape=", "--out=", "--dtype=", "--seed=", "--config-only", NULL};
    char err[1024] = "";
    const char *shape = args_get(argc, argv, "--shape"), *out = args_get(argc, argv, "--out");
    const char *dt = args_get(argc, argv, "--dtype"), *sd = args_get(argc, argv, "--seed");
    long seed = 1;
    syn_opts o = {shape, ST_BF16, 0, args_has(argc, argv, "--config-only")};
    if (args_check(argc, argv, known, err, sizeof err)) goto fail;
    if (!shape || !out) {
        snprintf(err, sizeof err, "--shape e2b|e4b|26b-a4b|31b and --out DIR are required");
        goto fail;
    }
    if (dt && strcmp(dt, "bf16") && strcmp(dt, "f32")) {
        snprintf(err, sizeof err, "bad --dtype '%s' (expected bf16 or f32)", dt);
        goto fail;
    }
    if (dt && !strcmp(dt, "f32")) o.dtype = ST_F32;
    if (sd && (args_long(sd, &seed) || seed < 0)) {
        snprintf(err, sizeof err, "bad --seed '%s' (expected a number >= 0)", sd);
        goto fail;
    }
    o.seed = (uint64_t)seed;
    double t0 = now_ms();
    if (syn_write(out, &o, err, sizeof err)) goto fail;
    printf("%s: %s %s checkpoint (seed %ld)%s in %.1f s\n", out, shape, dt ? dt : "bf16", seed,
           o.config_only ? ", config only" : "", (now_ms() - t0) / 1e3);
    return 0;
fail:
    args_complain("gemmatool synth", "%s", err);
    return 1;
}

/* ---- bench ---------------------------------------------------------------------------------------- */

/* The probe runs in a child process so that its buffer does not count in the benchmark's peak RSS. */
static int probe_bandwidth(int threads, size_t bytes, double *gbs, char *err, size_t errlen) {
    int fds[2];
    if (pipe(fds)) {
        snprintf(err, errlen, "bandwidth probe: pipe failed");
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        snprintf(err, errlen, "bandwidth probe: fork failed");
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        double g = -1;
        k_pool *p = NULL;
        char e[256];
        /* Given the same hint as the weights it is compared with (2 MB pages): from malloc's 4 KB
         * pages it read a fifth less here, and decode came out at over 100 % of it. */
        unsigned char *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (buf == MAP_FAILED) buf = NULL;
        if (buf) st_advise_streamed(buf, bytes);
        if (buf && !k_pool_create(&p, threads, e, sizeof e)) {
            memset(buf, 1, bytes);   /* real pages, not the shared zero page */
            g = k_read_bandwidth(p, buf, bytes, 5);
        }
        k_pool_free(p);
        if (buf) munmap(buf, bytes);
        ssize_t w = write(fds[1], &g, sizeof g);
        _exit(w == (ssize_t)sizeof g ? 0 : 1);
    }
    close(fds[1]);
    double g = -1;
    ssize_t r = read(fds[0], &g, sizeof g);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (r != (ssize_t)sizeof g || g <= 0) {
        snprintf(err, errlen, "bandwidth probe over %zu MiB failed", bytes >> 20);
        return -1;
    }
    *gbs = g;
    return 0;
}

/* The format of the checkpoint's matrices (the embedding's), which lookups and the router keep. */
static int stored_type(const char *dir, k_type *t, char *err, size_t errlen) {
    st_archive *a;
    if (st_open_dir(&a, dir, err, errlen)) return -1;
    const st_tensor *e = st_find(a, "model.language_model.embed_tokens.weight");
    if (!e) e = st_find(a, "model.embed_tokens.weight");
    *t = !e || e->dtype == ST_BF16 ? K_BF16 : e->dtype == ST_F16 ? K_F16 : K_F32;
    st_free(a);
    return 0;
}

static int all_finite(const float *x, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* The value of "key:" (kB) in a /proc file, or -1. */
static double proc_kb(const char *path, const char *key) {
    FILE *f = fopen(path, "r");
    char line[256];
    double v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') v = atof(line + n + 1);
    if (f) fclose(f);
    return v;
}

/* Share of the mapped weights (file-backed resident memory) that the kernel maps with 2 MB pages. */
static double huge_share(void) {
    double file = proc_kb("/proc/self/status", "RssFile"), pmd = proc_kb("/proc/self/smaps_rollup", "FilePmdMapped");
    return file > 0 && pmd >= 0 ? 100 * pmd / file : -1;
}

typedef struct {
    long prompt, gen, threads, bw_mib, seed;
    const char *dir;
    int json;
    gm_load_opts load;
} bench_args;

typedef struct {
    double load_ms, prefill_ms, ttft_ms, decode_ms, bw_gbs, bytes_per_token, peak_rss_mb, huge_pct;
    int threads, finite;
    char weights[16];
} bench_result;

static int parse_count(const char *s, const char *name, long lo, long hi, long *out, char *err, size_t errlen) {
    if (s && (args_long(s, out) || *out < lo || *out > hi)) {
        snprintf(err, errlen, "bad %s '%s' (expected %ld..%ld)", name, s, lo, hi);
        return -1;
    }
    return 0;
}

static int bench_parse(int argc, char **argv, bench_args *b, char *err, size_t errlen) {
    static const char *const known[] = {"--model=", "--prompt=", "--gen=", "--threads=", "--quant=", "--cache-dir=",
                                        "--json", "--bw-mib=", "--seed=", NULL};
    *b = (bench_args){.prompt = 128, .gen = 64, .bw_mib = 1024, .seed = 1};
    if (args_check(argc, argv, known, err, errlen)) return -1;
    b->dir = args_get(argc, argv, "--model");
    b->json = args_has(argc, argv, "--json");
    if (!b->dir) {
        snprintf(err, errlen, "--model DIR is required");
        return -1;
    }
    if (parse_count(args_get(argc, argv, "--prompt"), "--prompt", 1, 1 << 20, &b->prompt, err, errlen) ||
        parse_count(args_get(argc, argv, "--gen"), "--gen", 1, 1 << 20, &b->gen, err, errlen) ||
        parse_count(args_get(argc, argv, "--threads"), "--threads", 0, 1024, &b->threads, err, errlen) ||
        parse_count(args_get(argc, argv, "--bw-mib"), "--bw-mib", 16, 1 << 16, &b->bw_mib, err, errlen) ||
        parse_count(args_get(argc, argv, "--seed"), "--seed", 0, 1L << 62, &b->seed, err, errlen))
        return -1;
    b->load = (gm_load_opts){(int)b->threads, args_get(argc, argv, "--quant"), args_get(argc, argv, "--cache-dir")};
    return 0;
}

/* Prompt ids drawn uniformly from the ordinary pieces: above the byte tokens, below the media specials. */
static void random_ids(int32_t *ids, long n, int vocab, uint64_t seed) {
    int lo = 494, hi = vocab < 255999 ? vocab : 255999;
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (long i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        ids[i] = lo + (int32_t)((x * 0x2545f4914f6cdd1dull >> 33) % (uint64_t)(hi - lo));
    }
}

static int run_bench(const bench_args *b, bench_result *r, char *err, size_t errlen) {
    gm_model *m = NULL;
    gm_session *s = NULL;
    int32_t *ids = NULL;
    float *logits = NULL;
    k_type stored;
    int rc = -1;
    if (stored_type(b->dir, &stored, err, errlen)) return -1;
    double t0 = now_ms();
    if (gm_load(&m, b->dir, &b->load, err, errlen)) return -1;
    double loaded = now_ms();
    r->load_ms = loaded - t0;
    const cfg_model *c = gm_config(m);
    r->threads = k_pool_threads(gm_pool(m));
    snprintf(r->weights, sizeof r->weights, "%s", gm_weights_name(m));
    k_type wt = stored;
    for (int t = 0; t < K_NTYPES; t++)
        if (!strcmp(k_type_name((k_type)t), r->weights)) wt = (k_type)t;
    r->bytes_per_token = syn_decode_bytes(c, stored, wt);
    ids = malloc((size_t)b->prompt * sizeof *ids);
    logits = malloc((size_t)c->vocab * sizeof *logits);
    if (!ids || !logits) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (c->vocab <= 494) {
        snprintf(err, errlen, "%s: vocabulary of %d ids has no ordinary pieces to make a prompt of", b->dir, c->vocab);
        goto done;
    }
    random_ids(ids, b->prompt, c->vocab, (uint64_t)b->seed);
    if (gm_session_create(&s, m, (int)(b->prompt + b->gen + 1), 0, err, errlen)) goto done;
    double t1 = now_ms();
    if (gm_session_feed(s, ids, (int)b->prompt, logits, 0, err, errlen)) goto done;
    double t2 = now_ms();
    int32_t tok = smp_argmax(logits, c->vocab);
    r->finite = all_finite(logits, c->vocab);
    r->prefill_ms = t2 - t1;
    r->ttft_ms = now_ms() - loaded;   /* session setup + prefill + the first pick */
    if (probe_bandwidth(r->threads, (size_t)b->bw_mib << 20, &r->bw_gbs, err, errlen)) goto done;
    double t3 = now_ms();
    for (long i = 0; i < b->gen; i++) {
        if (gm_session_feed(s, &tok, 1, logits, 0, err, errlen)) goto done;
        tok = smp_argmax(logits, c->vocab);
        r->finite &= all_finite(logits, c->vocab);
    }
    r->decode_ms = now_ms() - t3;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->peak_rss_mb = ru.ru_maxrss / 1024.0;   /* Linux reports KiB */
    r->huge_pct = huge_share();
    rc = 0;
done:
    gm_session_free(s);
    gm_free(m);
    free(ids);
    free(logits);
    return rc;
}

static void print_result(const bench_args *b, const bench_result *r) {
    double prefill = b->prompt / (r->prefill_ms / 1e3), decode = b->gen / (r->decode_ms / 1e3);
    double pct = r->bytes_per_token * decode / (r->bw_gbs * 1e9) * 100;
    if (b->json) {
        printf("{\"prompt\":%ld,\"gen\":%ld,\"threads\":%d,\"weights\":\"%s\",\"load_ms\":%.3f,\"prefill_tok_s\":%.3f,"
               "\"ttft_ms\":%.3f,\"decode_tok_s\":%.3f,\"peak_rss_mb\":%.1f,\"bw_gbs\":%.2f,\"bytes_per_token\":%.0f,"
               "\"decode_pct_of_bw\":%.1f,\"huge_page_pct\":%.1f,\"finite\":%s}\n",
               b->prompt, b->gen, r->threads, r->weights, r->load_ms, prefill, r->ttft_ms, decode, r->peak_rss_mb,
               r->bw_gbs, r->bytes_per_token, pct, r->huge_pct, r->finite ? "true" : "false");
        return;
    }
    printf("model            %s\n", b->dir);
    printf("weights          %s\n", r->weights);
    printf("threads          %d\n", r->threads);
    printf("load             %.0f ms\n", r->load_ms);
    printf("prefill          %.2f tok/s (%ld tokens in %.0f ms)\n", prefill, b->prompt, r->prefill_ms);
    printf("first token      %.0f ms after load\n", r->ttft_ms);
    printf("decode           %.2f tok/s (%ld tokens in %.0f ms)\n", decode, b->gen, r->decode_ms);
    printf("read bandwidth   %.2f GB/s (probe over %ld MiB just before the decode)\n", r->bw_gbs, b->bw_mib);
    printf("bytes per token  %.3f GB (matrices a decoded token reads)\n", r->bytes_per_token / 1e9);
    printf("decode vs probe  %.1f %% of the bandwidth bound\n", pct);
    printf("peak RSS         %.0f MB\n", r->peak_rss_mb);
    if (r->huge_pct >= 0) printf("2 MB pages       %.0f %% of the mapped weights\n", r->huge_pct);
    if (!r->finite) printf("warning          some logits were not finite\n");
}

int tool_bench(int argc, char **argv) {
    char err[1024] = "";
    bench_args b;
    bench_result r = {0};
    if (bench_parse(argc, argv, &b, err, sizeof err) || run_bench(&b, &r, err, sizeof err)) {
        args_complain("gemmatool bench", "%s", err);
        return 1;
    }
    print_result(&b, &r);
    return 0;
}
