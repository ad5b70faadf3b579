/* Allocation-failure injection.  This executable defines malloc, calloc, realloc, free, strdup and
 * strndup, so every allocation of the process (ours, json-c's, pcre2's, libc's own) passes through
 * here on its way to the real allocator (the next definition: libc's, or ASan's under `make asan`, so
 * the sanitizers still see every block).  A scenario first runs once as a warm-up (one-time library
 * allocations happen then) and once counting its N allocations; then, for every n < N, a child
 * process runs it with the n-th allocation of the main thread failing.  Each run must end in success
 * or in an error with a message, without crashing, and must free every block it allocated (a table
 * of the blocks allocated while armed; ASan's leak check runs on top in `make asan`). */
#include <dlfcn.h>
#include <execinfo.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include "app/tr.h"
#include "app/ui.h"
#include "model/cfg.h"
#include "model/gm.h"
#include "model/st.h"
#include "tests/t.h"
#include "tokenizer/tok.h"

/* ---- the interposer ------------------------------------------------------------------------ */

/* The sanitizers call malloc while they start, before their shadow memory exists: nothing on that
 * path may be instrumented. */
#define RAW __attribute__((no_sanitize("address", "undefined")))
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#define SANITIZED __has_feature(address_sanitizer)
#else
#define SANITIZED 0
#endif

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);

/* dlsym may allocate before the real functions are known: those few blocks come from here. */
static _Alignas(16) char boot[8192];
static size_t boot_used;
static int resolving;

RAW static void resolve(void) {
    if (real_free || resolving) return;
    resolving = 1;
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    resolving = 0;
}

RAW static void *boot_alloc(size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (boot_used + n > sizeof boot) return NULL;
    boot_used += n;
    return boot + boot_used - n;
}
RAW static int in_boot(const void *p) { return (const char *)p >= boot && (const char *)p < boot + sizeof boot; }

static int in_parser;               /* inside json_tokener_parse_ex (see below) */
static long n_parser_allocs;
static atomic_int armed;            /* a counted or failing run is in progress */
static long fail_at = -1;           /* the main-thread allocation (0-based) to fail; -1: none */
static long n_allocs;               /* main-thread allocations since arming */
static int injected;                /* fail_at was reached */
static void *fail_caller;           /* who asked for the failed allocation */
static pthread_t main_thread;
static int trace_failure;           /* GC_ALLOC_FAIL_AT: print the stack of the failed allocation */

/* Blocks allocated while armed, by any thread: open addressing with tombstones. */
#define LIVE_SLOTS (1u << 18)
#define TOMB ((void *)1)
static void *live[LIVE_SLOTS], *live_caller[LIVE_SLOTS];
static long n_live, n_tracked;
static atomic_flag live_lock = ATOMIC_FLAG_INIT;

RAW static size_t slot_of(const void *p) { return ((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull >> 46; }

RAW static void live_add(void *p, void *caller) {
    while (atomic_flag_test_and_set(&live_lock)) {}
    size_t i = slot_of(p);
    while (live[i] && live[i] != TOMB) i = (i + 1) & (LIVE_SLOTS - 1);
    live[i] = p;
    live_caller[i] = caller;
    n_live++;
    n_tracked++;
    atomic_flag_clear(&live_lock);
}

/* Forgets p; 1 if it was tracked. */
RAW static int live_del(void *p) {
    int found = 0;
    while (atomic_flag_test_and_set(&live_lock)) {}
    for (size_t i = slot_of(p); live[i]; i = (i + 1) & (LIVE_SLOTS - 1))
        if (live[i] == p) {
            live[i] = TOMB;
            n_live--;
            found = 1;
            break;
        }
    atomic_flag_clear(&live_lock);
    return found;
}

/* Whether this allocation is the one to fail (counting only the main thread's, which is deterministic). */
RAW static int should_fail(void *caller) {
    if (!atomic_load(&armed) || !pthread_equal(pthread_self(), main_thread)) return 0;
    if (in_parser) return n_parser_allocs++, 0;
    if (n_allocs++ != fail_at) return 0;
    injected = 1;
    fail_caller = caller;
    if (trace_failure) {
        void *frames[10];
        backtrace_symbols_fd(frames, backtrace(frames, 10), 2);
    }
    return 1;
}

RAW static void *track(void *p, void *caller) {
    if (p && atomic_load(&armed)) {
        if (n_tracked >= (long)LIVE_SLOTS / 2) abort();   /* the table would degrade: raise LIVE_SLOTS */
        live_add(p, caller);
    }
    return p;
}

RAW void *malloc(size_t n) {
    resolve();
    if (!real_malloc) return boot_alloc(n);
    void *caller = __builtin_return_address(0);
    if (should_fail(caller)) return NULL;
    return track(real_malloc(n), caller);
}

RAW void *calloc(size_t k, size_t n) {
    resolve();
    if (!real_calloc) return boot_alloc(k * n);   /* boot is zeroed static memory */
    void *caller = __builtin_return_address(0);
    if (should_fail(caller)) return NULL;
    return track(real_calloc(k, n), caller);
}

RAW void *realloc(void *p, size_t n) {
    resolve();
    void *caller = __builtin_return_address(0);
    if (should_fail(caller)) return NULL;
    if (p && in_boot(p)) {
        size_t left = (size_t)(boot + sizeof boot - (char *)p);
        void *q = real_malloc(n);
        if (q) memcpy(q, p, n < left ? n : left);
        return track(q, caller);
    }
    int tracked = p && atomic_load(&armed) && live_del(p);
    void *q = real_realloc(p, n);
    if (!q && n && tracked) live_add(p, caller), n_tracked--;   /* failed: p is still allocated */
    /* a block from before arming that merely grew stays untracked: its owner predates the run */
    return q && (tracked || !p) ? track(q, caller) : q;
}

RAW void free(void *p) {
    if (!p || in_boot(p)) return;
    resolve();
    if (atomic_load(&armed)) live_del(p);
    real_free(p);
}

/* json-c 0.16's parser does not survive allocation failures: a failed strdup of an object key is
 * strlen(NULL) in json_object_object_add_ex, and a failed insert drops the member silently and leaks
 * its value, so a loader would see a "missing key".  Allocations inside json_tokener_parse_ex are
 * therefore counted but never failed; json-c's constructors and serializer are failed like the rest. */
static json_object *(*real_parse_ex)(json_tokener *, const char *, int);

json_object *json_tokener_parse_ex(json_tokener *tok, const char *str, int len) {
    if (!real_parse_ex)
        real_parse_ex = (json_object * (*)(json_tokener *, const char *, int)) dlsym(RTLD_NEXT, "json_tokener_parse_ex");
    in_parser++;
    json_object *o = real_parse_ex(tok, str, len);
    in_parser--;
    return o;
}

/* strdup and strndup are defined here too: ASan's own versions would allocate behind our back. */
RAW char *strdup(const char *s) {
    size_t n = strlen(s) + 1;
    void *caller = __builtin_return_address(0);
    char *d = should_fail(caller) ? NULL : track(real_malloc(n), caller);
    return d ? memcpy(d, s, n) : NULL;
}

RAW char *strndup(const char *s, size_t max) {
    size_t n = strnlen(s, max);
    void *caller = __builtin_return_address(0);
    char *d = should_fail(caller) ? NULL : track(real_malloc(n + 1), caller);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static void arm(long at) {
    memset(live, 0, sizeof live);
    n_live = n_tracked = n_allocs = n_parser_allocs = 0;
    injected = 0;
    fail_caller = NULL;
    fail_at = at;
    main_thread = pthread_self();
    atomic_store(&armed, 1);
}
static void disarm(void) { atomic_store(&armed, 0); }

/* ---- the scenarios ------------------------------------------------------------------------- */

/* Each returns 0, a negative code with err filled, or 1 for a wrong result (err says which), and
 * frees everything it made either way. */
typedef int (*scenario)(char *err, size_t errlen);
typedef struct {
    const char *name;
    scenario run;
    scenario verify;   /* NULL, or a check of what the run left behind, made with no failures injected */
} test_case;

static char scratch[512];

/* gm_load of tiny-e with o, a 64-position session and a feed of 4 ids with logits. */
static int load_and_feed(const gm_load_opts *o, char *err, size_t errlen) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/models/tiny-e", t_data());
    gm_model *m = NULL;
    gm_session *s = NULL;
    float *logits = NULL;
    int rc = gm_load(&m, dir, o, err, errlen);
    if (!rc) rc = gm_session_create(&s, m, 64, 0, err, errlen);
    if (!rc && !(logits = malloc((size_t)gm_config(m)->vocab * sizeof *logits)))
        rc = -1, snprintf(err, errlen, "out of memory for the logits");
    static const int32_t ids[4] = {2, 105, 1000, 7};
    if (!rc) rc = gm_session_feed(s, ids, 4, logits, 0, err, errlen);
    free(logits);
    gm_session_free(s);
    gm_free(m);
    return rc;
}

static int model_scenario(char *err, size_t errlen) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/models/tiny-e", t_data());
    cfg_model c;
    st_archive *a = NULL;
    gm_load_opts o = {.threads = 1};
    int rc = cfg_load(&c, dir, err, errlen);
    if (!rc) rc = st_open_dir(&a, dir, err, errlen);
    if (!rc) rc = load_and_feed(&o, err, errlen);
    st_free(a);
    return rc;
}

/* Loading with --quant q4 into an empty cache directory (one per run): builds the quantized-weights
 * cache, maps it and runs a turn. */
static char qdir[700];

static int quant_load(char *err, size_t errlen) {
    gm_load_opts o = {.threads = 1, .quant = "q4", .cache_dir = qdir};
    return load_and_feed(&o, err, errlen);
}

static int quant_scenario(char *err, size_t errlen) {
    static int calls;   /* the warm-up and the counted run share a process: each builds its own cache */
    snprintf(qdir, sizeof qdir, "%s/q%ld-%d", scratch, (long)getpid(), ++calls);
    return quant_load(err, errlen);
}

/* Whatever failed, the cache left behind is either absent or whole: a load without failures uses or
 * rebuilds it and runs. */
static int quant_verify(char *err, size_t errlen) { return quant_load(err, errlen) ? 1 : 0; }

/* Writing a safetensors file (gemmatool's outputs): the header is built with json-c. */
static int st_write_scenario(char *err, size_t errlen) {
    static const float a[6] = {1, 2, 3, 4, 5, 6};
    static const uint16_t b[3] = {1, 2, 3};
    const st_tensor ts[2] = {
        {.name = "logits", .dtype = ST_F32, .ndim = 2, .shape = {2, 3}, .data = a, .nbytes = sizeof a},
        {.name = "ids", .dtype = ST_BF16, .ndim = 1, .shape = {3}, .data = b, .nbytes = sizeof b},
    };
    char path[700];
    snprintf(path, sizeof path, "%s/out.safetensors", scratch);
    return st_write(path, ts, 2, err, errlen);
}

/* A write that reported success left a whole file; one that failed left the old one or none. */
static int st_write_verify(char *err, size_t errlen) {
    char path[700];
    snprintf(path, sizeof path, "%s/out.safetensors", scratch);
    if (access(path, F_OK)) return 0;
    st_archive *a;
    if (st_open_file(&a, path, err, errlen)) return 1;
    const st_tensor *t = st_find(a, "logits"), *u = st_find(a, "ids");
    int ok = t && u && t->ndim == 2 && t->shape[1] == 3 && ((const float *)t->data)[5] == 6 && u->dtype == ST_BF16;
    if (!ok) snprintf(err, errlen, "%s: tensors missing or wrong after the write", path);
    st_free(a);
    return !ok;
}

/* The TUI's screen model (no terminal needed): a transcript drawn into a pane, a reply streamed in
 * pieces with Markdown, wrapping, resizes, the raw view, an undo, keys with a bracketed paste. */
static void on_key(void *ud, int key, const char *s, size_t n) { (void)key, (void)s, *(size_t *)ud += n; }

static int tui_scenario(char *err, size_t errlen) {
    static const char reply[] = "Here is **bold**, `code` and a list:\n- one\n- two 漢字 😀\n\n```c\nint x;\n```\nDone.";
    static const char keys[] = "ab\x1b[A\x1b[200~pasted\ntext\x1b[201~\x1b[1;3D\r";
    tr_transcript *t = NULL;
    ui_pane *p = NULL;
    ui_keys *k = NULL;
    const char *what = "";
    int rc = -1;
    if (tr_create(&t) || ui_pane_create(&p, 40, 12) || ui_keys_create(&k)) { what = "create"; goto done; }
    tr_message u = {.role = TR_USER, .text = "hello there", .len = 11};
    tr_message r = {.role = TR_MODEL, .text = "<|channel>hmm<channel|>Hi **you**", .len = 31, .thought_tokens = 2};
    if (tr_append(t, &u) < 0 || tr_append(t, &r) < 0 || tr_append(t, &u) < 0) { what = "transcript"; goto done; }
    if (ui_pane_text(p, UI_B_BANNER, "gemmachat") < 0 || ui_conv_sync(p, t) < 0) { what = "sync"; goto done; }
    ui_block *b = ui_pane_add(p, UI_B_MODEL);
    if (!b) { what = "add"; goto done; }
    for (size_t i = 0; i < sizeof reply - 1; i += 7)
        if (ui_pane_append(p, b, reply + i, sizeof reply - 1 - i < 7 ? sizeof reply - 1 - i : 7) < 0) { what = "append"; goto done; }
    if (ui_pane_finish(p, b) < 0 || ui_pane_resize(p, 23, 9) < 0 || ui_pane_set_raw(p, 1) < 0 || ui_pane_set_raw(p, 0) < 0)
        { what = "layout"; goto done; }
    tr_truncate(t, 1);
    if (ui_conv_sync(p, t) < 0) { what = "sync after undo"; goto done; }
    size_t got = 0;
    if (ui_keys_feed(k, keys, sizeof keys - 1, on_key, &got) < 0) { what = "keys"; goto done; }
    rc = 0;
done:
    if (rc) snprintf(err, errlen, "ui: out of memory (%s)", what);
    ui_keys_free(k);
    ui_pane_free(p);
    tr_free(t);
    return rc;
}

static int tokenizer_scenario(char *err, size_t errlen) {
    static const char text[] = "Hello world, the\n\n  quick \xc3\xa9 \xe4\xb8\xad<|turn>user\ntest<turn|> \xf0\x9f\x98\x80";
    char path[4096], *back = NULL;
    snprintf(path, sizeof path, "%s/tokenizer/tiny-4096/tokenizer.json", t_data());
    tok_tokenizer *t = NULL;
    tok_stream *s = NULL;
    int32_t *ids = NULL;
    size_t n = 0, len;
    int rc = tok_load(&t, path, err, errlen);
    if (!rc) rc = tok_encode(t, text, sizeof text - 1, &ids, &n, err, errlen);
    if (!rc) rc = tok_decode(t, ids, n, 0, &back, &len, err, errlen);
    if (!rc && (len != sizeof text - 1 || memcmp(back, text, len))) rc = 1, snprintf(err, errlen, "round trip differs");
    if (!rc && tok_stream_create(&s, t, 0) < 0) rc = -1, snprintf(err, errlen, "out of memory for a stream");
    for (size_t i = 0; !rc && i <= n; i++) {
        size_t cl;
        if (!(i < n ? tok_stream_push(s, ids[i], &cl) : tok_stream_flush(s, &cl)))
            rc = -1, snprintf(err, errlen, "stream: out of memory");
    }
    tok_stream_free(s);
    free(back);
    free(ids);
    tok_free(t);
    return rc;
}

static int transcript_scenario(char *err, size_t errlen) {
    char path[700];
    snprintf(path, sizeof path, "%s/chat.json", scratch);
    unlink(path);
    strcat(path, ".journal");
    unlink(path);
    path[strlen(path) - 8] = 0;
    tr_transcript *t = NULL, *back = NULL;
    static const int32_t ids[3] = {5, 6, 7};
    int rc = tr_create(&t) ? (snprintf(err, errlen, "tr_create: out of memory"), -1) : 0;
    if (!rc && tr_set_system(t, "be brief") < 0) rc = -1, snprintf(err, errlen, "tr_set_system: out of memory");
    tr_message u = {.role = TR_USER, .text = "hello \xff", .len = 7, .ids = (int32_t *)ids, .n_ids = 3};
    tr_message r = {.role = TR_MODEL};
    if (!rc && tr_append(t, &u) < 0) rc = -1, snprintf(err, errlen, "tr_append: out of memory");
    if (!rc) rc = tr_save(t, path, err, errlen);
    if (!rc) rc = tr_journal_open(t, path, err, errlen);
    if (!rc && (tr_append(t, &r) < 0 || tr_extend(t, ids, 3, "hi ", 3) < 0 || tr_end(t, "stop_id") < 0 ||
                tr_push_alt(t, 1) < 0 || tr_extend(t, ids, 1, "again", 5) < 0))
        rc = -1, snprintf(err, errlen, "editing: out of memory");
    if (!rc) rc = tr_journal_flush(t, err, errlen);
    if (!rc) rc = tr_load(&back, path, err, errlen);   /* snapshot + journal replay */
    /* a journal record that could not be written or replayed may be missing, but not silently */
    if (!rc && tr_count(back) != 2 && !tr_journal_error(t) && !*tr_load_note(back))
        rc = 1, snprintf(err, errlen, "replay lost a message silently");
    tr_free(back);
    back = NULL;
    if (!rc) rc = tr_checkpoint(t, err, errlen);
    snprintf(path, sizeof path, "%s/chat.md", scratch);
    if (!rc) rc = tr_export_md(t, path, err, errlen);
    tr_free(t);
    return rc;
}

/* Whatever failed, the snapshot on disk (if any was written) still loads: saves are atomic, so a
 * failed one leaves the previous file, and a save that reported success wrote a whole one. */
static int transcript_verify(char *err, size_t errlen) {
    char path[700];
    snprintf(path, sizeof path, "%s/chat.json", scratch);
    if (access(path, F_OK)) return 0;
    tr_transcript *t;
    int rc = tr_load(&t, path, err, errlen);
    tr_free(t);
    return rc ? 1 : 0;
}

/* ---- the driver ---------------------------------------------------------------------------- */

enum { RUN_OK = 0, RUN_LEAK = 10, RUN_QUIET = 11, RUN_NOT_INJECTED = 12, RUN_WRONG = 14 };

/* One run armed at `at`: the child's exit status (RUN_*), after checking the result and the blocks. */
static int run_once(const test_case *tc, long at, long *allocs) {
    char err[2048] = "", verr[2048] = "";
    arm(at);
    int rc = tc->run(err, sizeof err);
    disarm();
    if (tc->verify && tc->verify(verr, sizeof verr)) {
        fprintf(stderr, "  n=%ld: damage left behind: %s (rc %d: %s; allocation from %p)\n", at, verr, rc, err,
                fail_caller);
        return RUN_WRONG;
    }
    if (allocs) *allocs = n_allocs;
    /* Blocks the dynamic loader allocated (a library's thread-local storage, set up the first time an
     * error path touches it) or glibc's pthread functions allocated (thread attributes, which the
     * sanitizer runtime queries as a library's helper thread starts) belong to the process, not to the
     * code under test. */
    for (size_t i = 0; i < LIVE_SLOTS; i++) {
        Dl_info d;
        if (live[i] && live[i] != TOMB && dladdr(live_caller[i], &d) &&
            ((d.dli_fname && strstr(d.dli_fname, "/ld-linux")) || (d.dli_sname && !strncmp(d.dli_sname, "pthread_", 8))))
            live[i] = TOMB, n_live--;
    }
    if (n_live) {
        fprintf(stderr, "  n=%ld: %ld blocks not freed (rc %d: %s); failed allocation from %p; blocks from", at,
                n_live, rc, err, fail_caller);
        for (size_t i = 0, k = 0; i < LIVE_SLOTS && k < 4; i++)
            if (live[i] && live[i] != TOMB) {
                Dl_info d;
                if (dladdr(live_caller[i], &d) && d.dli_sname)
                    fprintf(stderr, " %s+%#lx", d.dli_sname, (unsigned long)((char *)live_caller[i] - (char *)d.dli_saddr));
                else
                    fprintf(stderr, " %p", live_caller[i]);
                k++;
            }
        fprintf(stderr, "\n");
        return RUN_LEAK;
    }
    if (rc < 0 && !err[0]) {
        fprintf(stderr, "  n=%ld: failed without a message (allocation from %p)\n", at, fail_caller);
        return RUN_QUIET;
    }
    if (rc > 0) {
        fprintf(stderr, "  n=%ld: wrong result: %s (allocation from %p)\n", at, err, fail_caller);
        return RUN_WRONG;
    }
    return at >= 0 && !injected ? RUN_NOT_INJECTED : RUN_OK;
}

/* A crashing child names where (addr2line turns the addresses into lines), then dies of the signal. */
static void on_crash(int sig) {
    void *frames[12];
    int n = backtrace(frames, 12);
    backtrace_symbols_fd(frames, n, 2);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_scenario(const test_case *tc) {
    const char *name = tc->name;
    char label[256], err[2048] = "";
    /* GC_ALLOC_FAIL_AT=NAME:N replays one case in this process (for a debugger) */
    const char *only = getenv("GC_ALLOC_FAIL_AT");
    if (only) {
        size_t nl = strlen(name);
        if (strncmp(only, name, nl) || only[nl] != ':') return;
        tc->run(err, sizeof err);
        trace_failure = 1;
        int st = run_once(tc, atol(only + nl + 1), NULL);
        T_CHECK(st == RUN_OK, only, "status %d, failed allocation from %p", st, fail_caller);
        return;
    }
    long total = 0, parser = 0;
    int warm = tc->run(err, sizeof err);
    snprintf(label, sizeof label, "alloc-fail %s: runs without injected failures", name);
    int base = run_once(tc, -1, &total);
    parser = n_parser_allocs;
    T_CHECK(warm == 0 && base == RUN_OK && total > 0, label, "warm-up rc %d (%s), counted run status %d", warm, err,
            base);
    if (base != RUN_OK) return;
    long bad = 0, crashed = 0, leaked = 0, quiet = 0, wrong = 0, failed_runs = 0;
    void *sites[4096];
    size_t nsites = 0;
    for (long n = 0; n < total; n++) {
        int fd[2];
        if (pipe(fd) < 0) break;
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            close(fd[0]);
            if (!SANITIZED) {   /* under ASan its own report says where */
                signal(SIGSEGV, on_crash);
                signal(SIGBUS, on_crash);
                signal(SIGABRT, on_crash);
            }
            int st = run_once(tc, n, NULL);
            void *site = fail_caller;
            if (write(fd[1], &site, sizeof site) != sizeof site) st = 13;
            _exit(st);   /* no exit handlers: the parent's leak check is the one that counts */
        }
        close(fd[1]);
        void *site = NULL;
        if (read(fd[0], &site, sizeof site) == sizeof site) {
            size_t k = 0;
            while (k < nsites && sites[k] != site) k++;
            if (k == nsites && nsites < sizeof sites / sizeof *sites) sites[nsites++] = site;
        }
        close(fd[0]);
        int status;
        waitpid(pid, &status, 0);
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (code == RUN_OK) continue;
        bad++;
        if (code == -1) crashed++, fprintf(stderr, "  %s n=%ld: crashed (signal %d)\n", name, n, WTERMSIG(status));
        else if (code == RUN_LEAK) leaked++;
        else if (code == RUN_QUIET) quiet++;
        else if (code == RUN_WRONG) wrong++;
        else failed_runs++, fprintf(stderr, "  %s n=%ld: exit status %d (a sanitizer's report is above)\n", name, n, code);
    }
    snprintf(label, sizeof label, "alloc-fail %s: each of its %ld allocations failing is handled (%zu call sites)", name,
             total, nsites);
    T_CHECK(bad == 0, label, "%ld bad runs: %ld crashed, %ld leaked, %ld failed without a message, %ld wrong, %ld sanitizer errors",
            bad, crashed, leaked, quiet, wrong, failed_runs);
    printf("  %s: %ld allocations failed one at a time (%zu distinct call sites); %ld more inside json-c's parser\n",
           name, total, nsites, parser);
}

int main(void) {
    void *frame;
    if (!SANITIZED) backtrace(&frame, 1);   /* loads what backtrace needs now, not in a crashing child */
    /* hundreds of saves: memory-backed /dev/shm keeps their fsyncs cheap */
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(scratch, sizeof scratch, "%s/gc-allocfail-XXXXXX", tmp);
    if (!mkdtemp(scratch)) return T_CHECK(0, "alloc-fail: scratch directory", "%s", scratch), t_exit();
    static const test_case cases[] = {
        {"tokenizer", tokenizer_scenario, NULL},
        {"transcript", transcript_scenario, transcript_verify},
        {"model", model_scenario, NULL},
        {"quantization", quant_scenario, quant_verify},
        {"tui", tui_scenario, NULL},
        {"st_write", st_write_scenario, st_write_verify},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_scenario(&cases[i]);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", scratch);
    return t_exit();
}
