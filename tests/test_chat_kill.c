/* kill -9 of bin/gemmachat in plain mode at random moments, then what --resume finds: during a long
 * reply (every completed turn and the reply up to the journal's last batch: at most 16 tokens or
 * about a second lost), and during the autosaves of a chat too big to save in an instant (always a
 * whole transcript).  The random delays come from a seed printed at the start. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include "app/tr.h"
#include "tests/t.h"
#include "tests/tr/tr_fixture.h"

static char bin[4096], data_home[4200];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct {
    pid_t pid;
    int in, out;               /* the child's stdin (we write) and stdout (we read) */
    char *buf;                 /* all of its stdout so far */
    size_t len, cap;
} proc;

/* Starts gemmachat with args (NULL-terminated, after the program name), stderr to /dev/null. */
static int start(proc *p, const char *const *args) {
    int in[2], out[2];
    memset(p, 0, sizeof *p);
    if (pipe(in) || pipe(out)) return -1;
    p->pid = fork();
    if (p->pid == 0) {
        dup2(in[0], 0), dup2(out[1], 1);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        close(in[1]), close(out[0]);
        const char *argv[32] = {bin};
        for (int i = 0; args[i] && i < 30; i++) argv[i + 1] = args[i];
        setenv("XDG_DATA_HOME", data_home, 1);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(in[0]), close(out[1]);
    p->in = in[1], p->out = out[0];
    fcntl(p->out, F_SETFL, O_NONBLOCK);
    return p->pid > 0 ? 0 : -1;
}

/* Reads what the child wrote, waiting up to `wait` seconds; 0 at EOF. */
static int pump(proc *p, double wait) {
    struct pollfd f = {p->out, POLLIN, 0};
    if (poll(&f, 1, (int)(wait * 1000)) <= 0) return 1;
    char b[65536];
    ssize_t k = read(p->out, b, sizeof b);
    if (k <= 0) return k == 0 ? 0 : 1;
    if (p->len + (size_t)k + 1 > p->cap) {
        p->cap = (p->len + (size_t)k + 1) * 2;
        p->buf = realloc(p->buf, p->cap);
    }
    memcpy(p->buf + p->len, b, (size_t)k);
    p->len += (size_t)k;
    p->buf[p->len] = 0;
    return 1;
}

/* Waits until the output holds `mark` and `more` bytes after it (timeout: NULL). */
static const char *wait_for(proc *p, const char *mark, size_t more, double timeout) {
    double end = now_s() + timeout;
    for (;;) {
        const char *m = p->buf ? strstr(p->buf, mark) : NULL;
        if (m && p->len - (size_t)(m + strlen(mark) - p->buf) >= more) return m + strlen(mark);
        if (now_s() > end || !pump(p, 0.05)) return NULL;
    }
}

static int kill9(proc *p) {
    kill(p->pid, SIGKILL);
    while (pump(p, 1.0)) {}   /* what it wrote before dying */
    int st;
    waitpid(p->pid, &st, 0);
    close(p->in), close(p->out);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

static void say(proc *p, const char *text) {
    ssize_t w = write(p->in, text, strlen(text));
    (void)w;
}

static tr_transcript *resume(char *path, size_t n, char *err, size_t errlen) {
    char dir[4400];
    tr_transcript *t = NULL;
    snprintf(dir, sizeof dir, "%s/gemmachat/chats", data_home);
    if (tr_last_chat(dir, path, n, err, errlen) == 0 && tr_load(&t, path, err, errlen) < 0) t = NULL;
    return t;
}

/* Two short turns, then a long reply killed after `delay` seconds of streaming. */
static void kill_reply(int round, double delay, int *whole, int *bounded) {
    char model[4200], err[4600], path[4096], dir[4400];
    snprintf(model, sizeof model, "%s/models/tiny-dense", t_data());   /* random weights: no early stop */
    snprintf(dir, sizeof dir, "rm -rf '%s/gemmachat'", data_home);
    if (system(dir)) return;
    const char *args[] = {"-m", model, "--threads", "1", "--temp", "0", "--max-new", "8", "--plain", NULL};
    proc p;
    if (start(&p, args)) return;
    say(&p, "Hello there\nHi\n/max-new 20000\nTell me a long story\n");
    const char *reply = wait_for(&p, "max-new 20000\n", 1, 30);
    size_t at = reply ? (size_t)(reply - p.buf) : 0;   /* p.buf moves as it grows */
    if (!reply) printf("round %d: the long reply did not start: '%s'\n", round, p.buf ? p.buf : "");
    double end = now_s() + delay;
    while (now_s() < end) pump(&p, end - now_s());
    kill9(&p);
    tr_transcript *t = resume(path, sizeof path, err, sizeof err);
    if (!t || tr_count(t) != 6) {
        printf("round %d: %s\n", round, t ? "not 6 messages" : err);
        tr_free(t);
        free(p.buf);
        return;
    }
    /* the completed turns as printed, the partial reply a prefix of what was printed */
    char *printed = p.buf;
    tr_message *r1 = tr_at(t, 1), *r2 = tr_at(t, 3), *r3 = tr_at(t, 5);
    size_t l1 = r1->len, l2 = r2->len, shown = p.len - at;
    int ok = !strcmp(r1->stop, "length") && !strcmp(r2->stop, "length") && !strcmp(r3->stop, "stopped_early") &&
             !memcmp(printed, r1->text, l1) && printed[l1] == '\n' && !memcmp(printed + l1 + 1, r2->text, l2) &&
             !memcmp(printed + at, r3->text, r3->len < shown ? r3->len : shown) && r3->n_ids > 0;
    /* A token is journaled before it is shown, so the recovered reply may run ahead of what was printed
     * (on a loaded machine by many tokens); the shared part is compared above. */
    *whole += ok;
    /* lost: what was printed but not journaled.  The promise is "at most about a second of a reply";
     * the journal flushes every 16 tokens, so at this speed far less — but a loaded machine can
     * delay a flush by a few batches, so the check is the promise: under a second's worth of bytes. */
    double per_s = delay > 0 ? (double)shown / delay : (double)shown;
    size_t lost = shown - (r3->len <= shown ? r3->len : shown);
    *bounded += ok && lost <= (size_t)per_s;
    printf("round %d: killed %.2f s into the reply: %zu bytes printed, %zu tokens / %zu bytes recovered, %zu bytes "
           "lost%s\n",
           round, delay, shown, r3->n_ids, r3->len, lost, ok ? "" : " (does not match)");
    tr_free(t);
    free(p.buf);

    /* --resume continues the chat in the same file */
    const char *more[] = {"-m", model, "--threads", "1", "--temp", "0", "--max-new", "4", "--resume", "--plain", NULL};
    if (start(&p, more)) return;
    say(&p, "And then?\n");
    close(p.in);
    while (pump(&p, 30)) {}
    int st;
    waitpid(p.pid, &st, 0);
    close(p.out);
    free(p.buf);
    char again[4096];
    t = resume(again, sizeof again, err, sizeof err);
    *whole += WIFEXITED(st) && !WEXITSTATUS(st) && t && tr_count(t) == 8 && !strcmp(again, path);
    tr_free(t);
}

/* Whether path holds the big chat, whole: its 40 alternatives, then exchanges of "hi!". */
static int whole_chat(tr_transcript *t) {
    tr_message *m = tr_count(t) >= 2 ? tr_at(t, 1) : NULL;
    int ok = m && m->n_alts == 40 && m->alts[39].len == 80000;
    for (size_t i = 2; ok && i < tr_count(t); i += 2) ok = !strcmp(tr_at(t, i)->text, "hi!");
    return ok;
}

/* A chat of megabytes (long alternatives) saved with /save after every turn, and autosaved, killed at
 * a random moment; the copy and the autosave must each load whole. */
static int kill_save(int round, double delay, const char *big, const char *copy) {
    char model[4200], err[4600], path[4096], dir[4400];
    snprintf(model, sizeof model, "%s/models/tiny-chat", t_data());
    snprintf(dir, sizeof dir, "rm -rf '%s/gemmachat'", data_home);
    if (system(dir)) return 0;
    const char *args[] = {"-m", model, "--threads", "1", "--temp", "0", "--max-new", "2", "--load", big, "--plain", NULL};
    proc p;
    if (start(&p, args)) return 0;
    char save[4400];
    snprintf(save, sizeof save, "hi!\n/save %s\n", copy);
    for (int i = 0; i < 60; i++) say(&p, save);
    double end = now_s() + delay;
    while (now_s() < end) pump(&p, end - now_s());
    kill9(&p);
    size_t turns = 0;
    for (size_t i = 0; p.buf && i < p.len; i++) turns += p.buf[i] == '\n';
    free(p.buf);
    tr_transcript *t = resume(path, sizeof path, err, sizeof err);
    if (!t) {   /* killed before the first autosave was in place: no chat yet, but nothing broken */
        snprintf(dir, sizeof dir, "%s/gemmachat/chats", data_home);
        int none = tr_last_chat(dir, path, sizeof path, err, sizeof err) == 1;
        printf("round %d: killed %.2f s in, no autosave yet (%s)\n", round, delay, none ? "none" : err);
        return none;
    }
    int ok = whole_chat(t);
    printf("round %d: killed %.2f s in, after %zu lines of output: the autosave holds %zu messages%s", round, delay,
           turns, tr_count(t), ok ? "" : " (damaged)");
    tr_free(t);
    if (access(copy, F_OK) == 0) {   /* the copy /save was replacing: the old or the new one, whole */
        ok &= tr_load(&t, copy, err, sizeof err) == 0 && whole_chat(t);
        printf(", the /save copy %zu%s", t ? tr_count(t) : 0, ok ? "" : " (damaged)");
        tr_free(t);
    }
    printf("\n");
    return ok;
}

int main(void) {
    const char *b = getenv("GC_BIN");
    snprintf(bin, sizeof bin, "%s/gemmachat", b ? b : "bin");
    char dir[4096], big[4200], err[4600];
    if (!fx_tmpdir(dir, sizeof dir)) {
        T_CHECK(0, "scratch directory", NULL);
        return t_exit();
    }
    snprintf(data_home, sizeof data_home, "%s/data", dir);
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    printf("random delays from seed %u\n", seed);
    srand(seed);
    double scale = getenv("GC_SANITIZED") ? 4 : 1;

    int whole = 0, bounded = 0, rounds = 4;
    for (int r = 0; r < rounds; r++) kill_reply(r, scale * (0.05 + 1.2 * rand() / RAND_MAX), &whole, &bounded);
    T_CHECK(whole == 2 * rounds, "kill -9 mid-reply: --resume finds every completed turn, the partial reply a prefix "
            "of what was shown, and continues the same file", "%d of %d", whole, 2 * rounds);
    T_CHECK(bounded == rounds, "kill -9 mid-reply: under a second of the reply lost", "%d of %d",
            bounded, rounds);

    /* a transcript of about 3 MB: one exchange whose reply has 40 alternatives of 80 kB */
    snprintf(big, sizeof big, "%s/big.json", dir);
    tr_transcript *t;
    tr_create(&t);
    char *text = malloc(80001);
    memset(text, 'x', 80000);
    text[80000] = 0;
    fx_msg(t, TR_USER, FX_LIT("Good morning!"), 3, "");
    fx_msg(t, TR_MODEL, text, 80000, 3, "stop_id");
    for (int k = 0; k < 40; k++) tr_push_alt(t, 1), tr_extend(t, (int32_t[]){9}, 1, text, 80000), tr_end(t, "length");
    free(text);
    T_CHECK(tr_save(t, big, err, sizeof err) == 0, "a 3 MB transcript", "%s", err);
    tr_free(t);
    int ok = 0;
    rounds = 6;
    char copy[4200];
    snprintf(copy, sizeof copy, "%s/copy.json", dir);
    for (int r = 0; r < rounds; r++) ok += kill_save(r, scale * (0.02 + 1.2 * rand() / RAND_MAX), big, copy);
    T_CHECK(ok == rounds, "kill -9 during /save and autosaves: the copy and the autosave always load whole", "%d of %d",
            ok, rounds);
    fx_rmdir(dir);
    return t_exit();
}
