/* The terminal: curses set-up and tear-down, and signals.  Whatever way the program ends, the
 * terminal goes back as it was: endwin and the saved termios on every normal path; for a fatal
 * signal, an async-signal-safe handler writes the reset sequences and restores termios itself.
 * Signals that mean "do something" (resize, terminate, hang-up) only set a flag and wake the poll. */
#include "app/ui.h"   /* before term.h, whose macros include one named `lines` */
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <term.h>
#include <termios.h>
#include <unistd.h>

/* Bracketed paste off, mouse reporting off, cursor visible, SGR 0, leave the alternate screen. */
#define RESET_SEQ "\033[?2004l\033[?1000l\033[?1006l\033[?25h\033[0m\033[?1049l"

static struct termios saved;
static int have_saved, open_now, mouse_on;
static int wake[2] = {-1, -1};
static volatile sig_atomic_t got_winch, got_term, got_int, got_cont;
static SCREEN *screen;

static void put(const char *s) {
    size_t n = strlen(s);
    while (n) {
        ssize_t k = write(STDOUT_FILENO, s, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return;
        s += k;
        n -= (size_t)k;
    }
}

static void on_fatal(int sig) {
    static const char seq[] = RESET_SEQ "\r\n";
    ssize_t k = write(STDOUT_FILENO, seq, sizeof seq - 1);
    (void)k;
    if (have_saved) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_flag(int sig) {
    int e = errno;
    if (sig == SIGWINCH) got_winch = 1;
    else if (sig == SIGINT) got_int = 1;
    else if (sig == SIGCONT) got_cont = 1;
    else got_term = sig;
    if (wake[1] >= 0) {
        ssize_t k = write(wake[1], "", 1);
        (void)k;
    }
    errno = e;
}

static void handle(int sig, void (*fn)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

int ui_available(void) {
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) return 0;
    const char *t = getenv("TERM");
    if (!t || !*t || !strcmp(t, "dumb")) return 0;
    int e;
    if (setupterm(NULL, STDOUT_FILENO, &e) != OK) return 0;
    const char *cup = tigetstr("cup");
    int ok = cup && cup != (char *)-1;
    del_curterm(cur_term);
    return ok;
}

int ui_term_open(int mouse, char *err, size_t errlen) {
    if (tcgetattr(STDIN_FILENO, &saved) == 0) have_saved = 1;
    if (pipe(wake) || fcntl(wake[0], F_SETFL, O_NONBLOCK) || fcntl(wake[1], F_SETFL, O_NONBLOCK)) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    fcntl(wake[0], F_SETFD, FD_CLOEXEC);
    fcntl(wake[1], F_SETFD, FD_CLOEXEC);
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT};
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) handle(fatal[i], on_fatal, SA_RESETHAND | SA_NODEFER);
    screen = newterm(NULL, stdout, stdin);
    if (!screen) {
        snprintf(err, errlen, "cannot use terminal type '%s'", getenv("TERM") ? getenv("TERM") : "");
        return -1;
    }
    open_now = 1;
    /* Every key reaches us as bytes (Ctrl-C included: no SIGINT from the keyboard), Enter as CR. */
    raw();
    noecho();
    nonl();
    struct termios t;
    if (tcgetattr(STDIN_FILENO, &t) == 0) {
        t.c_iflag &= ~(tcflag_t)(ICRNL | INLCR | IGNCR | IXON | ISTRIP);
        t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ISIG | IEXTEN);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &t);
    }
    def_prog_mode();
    static const int flagged[] = {SIGWINCH, SIGTERM, SIGHUP, SIGINT, SIGCONT};
    for (size_t i = 0; i < sizeof flagged / sizeof *flagged; i++) handle(flagged[i], on_flag, SA_RESTART);
    mouse_on = mouse;
    put("\033[?2004h");   /* readline would not: its output is not the terminal (P2) */
    if (mouse) put("\033[?1000h\033[?1006h");
    return 0;
}

void ui_term_close(void) {
    if (open_now) {
        put(mouse_on ? "\033[?1000l\033[?1006l\033[?2004l" : "\033[?2004l");
        endwin();
        delscreen(screen);
        screen = NULL;
        open_now = 0;
    }
    if (have_saved) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    static const int sigs[] = {SIGWINCH, SIGTERM, SIGHUP, SIGINT, SIGCONT};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) signal(sigs[i], SIG_DFL);
    for (int i = 0; i < 2; i++) {
        if (wake[i] >= 0) close(wake[i]);
        wake[i] = -1;
    }
}

int ui_term_wake_fd(void) { return wake[0]; }

int ui_term_signals(void) {
    char buf[64];
    while (read(wake[0], buf, sizeof buf) > 0) {}
    int s = 0;
    if (got_winch) { got_winch = 0; s |= UI_SIG_RESIZE; }
    if (got_int) { got_int = 0; s |= UI_SIG_INT; }
    if (got_cont) { got_cont = 0; s |= UI_SIG_RESIZE; }
    if (got_term) s |= UI_SIG_TERM;
    return s;
}

int ui_term_signal_number(void) { return got_term; }

void ui_term_size(int *rows, int *cols) {
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
        if (ws.ws_row != LINES || ws.ws_col != COLS) resizeterm(ws.ws_row, ws.ws_col);
    }
    *rows = LINES;
    *cols = COLS;
}

void ui_term_suspend(void) {
    put(mouse_on ? "\033[?1000l\033[?1006l\033[?2004l" : "\033[?2004l");
    def_prog_mode();
    endwin();
    kill(getpid(), SIGSTOP);
    reset_prog_mode();
    put(mouse_on ? "\033[?2004h\033[?1000h\033[?1006h" : "\033[?2004h");
    clearok(curscr, TRUE);
}

int ui_term_osc52(const char *s, size_t n) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[4096 + 16];
    size_t o = (size_t)snprintf(out, sizeof out, "\033]52;c;");
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)(unsigned char)s[i] << 16;
        if (i + 1 < n) v |= (unsigned)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)s[i + 2];
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
        if (o >= 4096) { out[o] = 0; put(out); o = 0; }
    }
    out[o++] = '\a';
    out[o] = 0;
    put(out);
    return 0;
}
