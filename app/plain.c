/* Plain mode: stdout carries only replies and command output, so `gemmachat -p Q > answer` and
 * pipelines work; notices, errors and thinking go to stderr. */
#include "app/plain.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include "app/args.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "app/cmd.h"

/* Set by SIGINT, and by SIGTERM/SIGHUP (the signal's number); polled between tokens and prefill
 * chunks.  Nothing else happens in the handlers: the reply stops, the main loop ends, and
 * gemmachat saves the chat (chat_emergency_save) on its way out. */
static volatile sig_atomic_t plain_sigint, plain_sigterm;

static void on_sigint(int sig) {
    (void)sig;
    plain_sigint++;
}

static void on_sigterm(int sig) { plain_sigterm = sig; }

typedef struct {
    int broken;          /* stdout is gone (EPIPE): stop quietly */
    int thinking;        /* a thought is being written to stderr */
    int failed;          /* stdout failed for another reason */
    int write_errno;
    cmd *k;
    const char *editor;  /* $VISUAL or $EDITOR on a terminal, else NULL: /edit prints the message */
    char *pending;       /* what the editor gave back, submitted next (malloc'd) */
    size_t pending_len;
} plain;

static void out(plain *p, FILE *f, const char *s, size_t n) {
    if (f == stdout && (p->broken || p->failed)) return;
    if ((n && fwrite(s, 1, n, f) != n) || fflush(f) == EOF) {
        if (f != stdout) return;
        if (errno == EPIPE) p->broken = 1;
        else p->failed = 1, p->write_errno = errno;
    }
}

static void end_thought(plain *p) {
    if (p->thinking) out(p, stderr, "\n", 1);
    p->thinking = 0;
}

static void on_text(void *ud, const char *s, size_t n, int thought) {
    plain *p = ud;
    if (thought && !p->thinking) out(p, stderr, "[thinking] ", 11);
    if (!thought) end_thought(p);
    p->thinking = thought;
    out(p, thought ? stderr : stdout, s, n);
}

static int cancelled(void *ud) {
    const plain *p = ud;
    return plain_sigint || plain_sigterm || p->broken || p->failed;
}

static void on_notice(void *ud, const char *msg) {
    plain *p = ud;
    end_thought(p);
    args_complain("gemmachat", "%s", msg);
}

static void print(void *ud, const char *s, size_t n, int err) { out(ud, err ? stderr : stdout, s, n); }

static void on_reply(void *ud, const tr_message *m) {
    plain *p = ud;
    end_thought(p);
    out(p, stdout, "\n", 1);
    if (!strcmp(m->stop, "stopped_early") && !p->broken) args_complain("gemmachat", "[interrupted]");
}

static int read_all(FILE *f, char **out, size_t *len);

/* The file's bytes (malloc'd), or NULL. */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    if (f && read_all(f, &text, len) < 0) text = NULL;
    if (f) fclose(f);
    return text;
}

/* Runs the editor on a private temporary copy of text; the edited text without the newline editors
 * add (malloc'd), or NULL with the reason on stderr. */
static char *run_editor(const char *editor, const char *text, size_t len, size_t *out_len) {
    const char *tmp = getenv("TMPDIR");
    char path[4096], *cmdline = NULL, *edited = NULL;
    snprintf(path, sizeof path, "%s/gemmachat-edit-XXXXXX.txt", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemps(path, 4), st = -1;
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) || asprintf(&cmdline, "%s \"$1\"", editor) < 0) {
        args_complain("gemmachat", "/edit: cannot write %s: %s", path, strerror(errno));
        if (fd >= 0) unlink(path);
        return NULL;
    }
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmdline, "sh", path, (char *)NULL);
        _exit(127);
    }
    free(cmdline);
    while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
        args_complain("gemmachat", "/edit: %s failed; the message is left as it was", editor);
    else if (!(edited = slurp(path, out_len)))
        args_complain("gemmachat", "/edit: cannot read %s back", path);
    unlink(path);
    if (edited && *out_len && edited[*out_len - 1] == '\n') edited[--*out_len] = 0;
    if (edited && !*out_len) {
        args_complain("gemmachat", "/edit: the message was left empty; nothing changed");
        free(edited), edited = NULL;
    }
    if (edited && edited[0] == '/') {   /* a message, not a command: "//" sends it as it is */
        char *esc = malloc(*out_len + 2);
        if (esc) esc[0] = '/', memcpy(esc + 1, edited, *out_len + 1), ++*out_len;
        free(edited), edited = esc;
    }
    return edited;
}

/* /edit on a terminal with an editor: the message goes through it and the result is sent next. */
static void on_edit(void *ud, const char *text, size_t len) {
    plain *p = ud;
    free(p->pending);
    p->pending = run_editor(p->editor, text, len, &p->pending_len);
    if (!p->pending) cmd_cancel_edit(p->k);
}

static cmd_io make_io(plain *p) {
    return (cmd_io){.ud = p, .print = print, .on_reply = on_reply, .edit = p->editor ? on_edit : NULL,
                    .chat = {.ud = p, .on_text = on_text, .cancelled = cancelled, .on_notice = on_notice}};
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;     /* no SA_RESTART: a blocked read returns so Ctrl-C is seen */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_sigterm;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);      /* a closed stdout becomes EPIPE: a clean end, not a kill */
}

/* One input through the command layer; returns the cmd code or <0 (reported). */
static int submit(cmd *k, plain *p, const char *text, size_t len) {
    char err[512] = "";
    cmd_io io = make_io(p);
    plain_sigint = 0;
    int rc = cmd_submit(k, text, len, &io, err, sizeof err);
    if (rc < 0) args_complain("gemmachat", "%s", err);
    if (rc == CMD_CANCELLED) args_complain("gemmachat", "cancelled");
    return rc;
}

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\n\v\f", s[i]) || !s[i]) return 0;
    return 1;
}

static int read_all(FILE *f, char **out, size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) return -1;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) break;
            buf = nb;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k) continue;
        if (feof(f)) {
            *out = buf;
            *len = n;
            return 0;
        }
        if (errno != EINTR || plain_sigint) break;
        clearerr(f);
    }
    free(buf);
    return -1;
}

static int run_lines(cmd *k, plain *p) {
    char *line = NULL;
    size_t cap = 0;
    int status = 0, tty = isatty(0), presses = 0;
    /* a SIGTERM between the check and the read waits for the next line or EOF: a window of
     * microseconds, where blocking the signal around a stdio read is not possible */
    while (!plain_sigterm) {
        if (tty) fputs("> ", stderr);
        plain_sigint = 0;
        errno = 0;
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0) {
            if (errno != EINTR || !plain_sigint) break;   /* EOF or SIGTERM ends the chat */
            clearerr(stdin);
            if (++presses >= 2) break;
            fputs("\ngemmachat: Ctrl-C again or Ctrl-D to quit\n", stderr);
            continue;
        }
        presses = 0;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        int rc = submit(k, p, line, (size_t)n);
        while (rc >= 0 && rc != CMD_QUIT && p->pending) {   /* the message /edit brought back */
            char *edited = p->pending;
            p->pending = NULL;
            rc = submit(k, p, edited, p->pending_len);
            free(edited);
        }
        if (rc < 0) status = 1;
        if (rc == CMD_QUIT || p->broken || p->failed) break;
    }
    free(line);
    return status;
}

/* All of stdin is one message; a single line starting with "/" is a command. */
static int run_all(cmd *k, plain *p) {
    char *text;
    size_t len;
    if (read_all(stdin, &text, &len) < 0) {
        args_complain("gemmachat", "reading stdin: %s", plain_sigint ? "interrupted" : strerror(errno));
        return plain_sigint ? 130 : 1;
    }
    size_t n = len;
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) n--;
    int rc;
    if (blank(text, n)) {
        args_complain("gemmachat", "no input on stdin (use -p TEXT, or --plain for a conversation)");
        rc = CMD_BAD;
    } else if (text[0] == '/' && !memchr(text, '\n', n)) {
        rc = submit(k, p, text, n);
    } else if (text[0] == '/') {   /* several lines: a message, however it starts */
        char *msg = malloc(n + 1);
        rc = -1;
        if (msg) {
            msg[0] = '/';
            memcpy(msg + 1, text, n);
            rc = submit(k, p, msg, n + 1);
            free(msg);
        }
    } else {
        rc = submit(k, p, text, n);
    }
    free(text);
    return rc < 0 ? 1 : rc == CMD_BAD ? 2 : rc == CMD_CANCELLED ? 130 : 0;
}

static int finish(plain *p, int status) {
    if (plain_sigterm) return 128 + plain_sigterm;
    if (p->failed || (!p->broken && fflush(stdout) == EOF && errno != EPIPE)) {
        args_complain("gemmachat", "writing stdout: %s", strerror(p->failed ? p->write_errno : errno));
        return 1;
    }
    return p->broken ? 0 : status;
}

typedef struct {
    plain *p;
    int total;
} restoring;

static void on_restore_progress(void *ud, int done, int total) {
    (void)done;
    ((restoring *)ud)->total = total;
}
static int restore_cancelled(void *ud) { return cancelled(((restoring *)ud)->p); }

/* A loaded conversation: its cache is rebuilt before the first line is read, so the first reply
 * starts at once.  Ctrl-C skips it (the next turn computes the rest). */
static void restore(chat *c, plain *p) {
    if (!tr_count(chat_transcript(c))) return;
    restoring r = {p, 0};
    chat_cb cb = {.ud = &r, .on_prefill = on_restore_progress, .cancelled = restore_cancelled};
    char err[512];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    args_complain("gemmachat", "restoring the conversation (%zu messages)...", tr_count(chat_transcript(c)));
    plain_sigint = 0;
    int rc = chat_warm(c, &cb, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc < 0) args_complain("gemmachat", "%s", err);
    else if (rc == 1) args_complain("gemmachat", "restoring skipped: the next turn computes the rest");
    else args_complain("gemmachat", "restored %d tokens in %.1f s", r.total,
                 (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
}

int plain_run(chat *c, const plain_opts *o) {
    plain p = {0};
    cmd *k;
    if (cmd_create(&k, c) < 0) {
        args_complain("gemmachat", "out of memory");
        return 1;
    }
    p.k = k;
    const char *editor = getenv("VISUAL") && *getenv("VISUAL") ? getenv("VISUAL") : getenv("EDITOR");
    if (o->mode == PLAIN_LINES && isatty(0) && isatty(2) && editor && *editor) p.editor = editor;
    install_signals();
    int status;
    if (o->mode == PLAIN_ONESHOT && blank(o->prompt, strlen(o->prompt))) {
        args_complain("gemmachat", "-p needs a message");
        status = 2;
    } else if (o->mode == PLAIN_ONESHOT) {
        int rc = submit(k, &p, o->prompt, strlen(o->prompt));
        status = rc < 0 ? 1 : rc == CMD_BAD ? 2 : rc == CMD_CANCELLED ? 130 : 0;
    } else if (o->mode == PLAIN_LINES) {
        restore(c, &p);
        status = run_lines(k, &p);
    } else {
        status = run_all(k, &p);
    }
    cmd_free(k);
    free(p.pending);
    return finish(&p, status);
}

int plain_replay(chat *c, tr_transcript *src, const chat_replay_opts *o) {
    plain p = {0};
    cmd_io io = make_io(&p);
    cmd *k;
    char err[512];
    if (cmd_create(&k, c) < 0) {
        args_complain("gemmachat", "out of memory");
        return 1;
    }
    install_signals();
    plain_sigint = 0;
    cmd_replay_result r;
    int rc = cmd_replay(k, src, o, &io, &r, err, sizeof err);
    cmd_free(k);
    if (rc < 0) args_complain("gemmachat", "replay turn %d: %s", r.turns, err);
    if (rc == CMD_CANCELLED) args_complain("gemmachat", "replay stopped at turn %d", r.turns);
    return finish(&p, rc == CMD_DONE && !r.differ ? 0 : 1);
}
