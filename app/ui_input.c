/* The input line: GNU readline driven through its callback interface.  Readline gets its bytes from
 * us (our own loop reads the terminal), writes nothing (its output goes to /dev/null) and tells us
 * when to redraw; the painter draws rl_line_buffer itself.  Readline's state is global, so is ours. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <readline/history.h>
#include <readline/readline.h>
#include "app/cmd.h"
#include "app/ui.h"

#define MAX_PASTES 16

static struct {
    const char *q; size_t qn;       /* bytes handed to readline, not yet read */
    char *line; int have_line, eof; /* what the line handler received */
    int dirty;
    ui_paste pastes[MAX_PASTES]; size_t n_pastes;
    char matches[1024];             /* completion candidates to show */
    FILE *devnull;
} in;

static int getc_fn(FILE *f) {
    (void)f;
    if (in.qn) { in.qn--; return (unsigned char)*in.q++; }
    /* Readline wants a byte we have not handed it (rare: a key it reads ahead): wait for one. */
    unsigned char c;
    struct pollfd p = {0, POLLIN, 0};
    if (poll(&p, 1, 500) == 1 && read(0, &c, 1) == 1) return c;
    return '\a';   /* bound to nothing harmful; keeps readline from seeing EOF */
}

static int avail_fn(void) { return in.qn > 0; }
static void redisplay_fn(void) { in.dirty = 1; }
static void prep_fn(int meta) { (void)meta; }
static void deprep_fn(void) {}

static void line_fn(char *line) {
    if (!line) { in.eof = 1; return; }
    free(in.line);
    in.line = line;
    in.have_line = 1;
}

static char *command_gen(const char *text, int state) {
    static size_t i;
    size_t n, len = strlen(text);
    const cmd_info *t = cmd_table(&n);
    if (!state) i = 0;
    while (i < n) {
        const cmd_info *c = &t[i++];
        if (len >= 1 && !strncmp(c->name, text + 1, len - 1)) {
            char *s = malloc(strlen(c->name) + 2);
            if (s) { s[0] = '/'; strcpy(s + 1, c->name); }
            return s;
        }
    }
    return NULL;
}

/* A command name at the start of the line; anything else completes as a file path. */
static char **complete_fn(const char *text, int start, int end) {
    (void)end;
    if (start == 0 && text[0] == '/') {
        rl_attempted_completion_over = 1;
        return rl_completion_matches(text, command_gen);
    }
    return NULL;
}

static void matches_fn(char **m, int n, int maxlen) {
    (void)maxlen;
    size_t k = 0;
    in.matches[0] = 0;
    for (int i = 1; i <= n && k + 2 < sizeof in.matches; i++) {
        const char *s = strrchr(m[i], '/');
        s = s && s[1] ? s + 1 : m[i];
        if (m[i][0] == '/' && strchr(m[i] + 1, '/') == NULL) s = m[i];
        k += (size_t)snprintf(in.matches + k, sizeof in.matches - k, "%s%s", k ? "  " : "", s);
    }
    in.dirty = 1;
}

int ui_in_open(char *err, size_t errlen) {
    in.devnull = fopen("/dev/null", "w");
    if (!in.devnull) { snprintf(err, errlen, "/dev/null: cannot open"); return -1; }
    rl_readline_name = "gemmachat";
    rl_instream = stdin;
    rl_outstream = in.devnull;
    rl_getc_function = getc_fn;
    rl_input_available_hook = avail_fn;
    rl_redisplay_function = redisplay_fn;
    rl_prep_term_function = prep_fn;
    rl_deprep_term_function = deprep_fn;
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_attempted_completion_function = complete_fn;
    rl_completion_display_matches_hook = matches_fn;
    using_history();
    stifle_history(UI_HIST_MAX_ENTRIES);
    rl_callback_handler_install("", line_fn);
    /* after rl_initialize (inputrc) so that these win */
    rl_variable_bind("bell-style", "none");
    rl_variable_bind("enable-bracketed-paste", "off");
    rl_variable_bind("horizontal-scroll-mode", "off");
    return 0;
}

void ui_in_close(void) {
    rl_callback_handler_remove();
    for (size_t i = 0; i < in.n_pastes; i++) free(in.pastes[i].text);
    free(in.line);
    clear_history();
    if (in.devnull) fclose(in.devnull);
    memset(&in, 0, sizeof in);
}

static void drop_pastes(void) {
    for (size_t i = 0; i < in.n_pastes; i++) free(in.pastes[i].text);
    in.n_pastes = 0;
}

void ui_in_feed(const char *s, size_t n) {
    in.matches[0] = 0;
    in.q = s;
    in.qn = n;
    int before = rl_end;
    while (in.qn && !in.eof) {
        if (*in.q == '\r' && in.have_line) { in.q++; in.qn--; continue; }   /* one line waits already */
        rl_callback_read_char();
    }
    in.qn = 0;
    /* a big entry recalled from history is shown collapsed like the paste it probably was */
    if (rl_end > before + (int)n + 64) {
        drop_pastes();
        if (ui_paste_collapses(rl_line_buffer, (size_t)rl_end)) ui_in_paste_mark(rl_line_buffer, (size_t)rl_end);
    }
    in.dirty = 1;
}

void ui_in_insert(const char *s, size_t n) {
    char *t = strndup(s, n);
    if (!t) return;
    rl_insert_text(t);
    free(t);
    in.dirty = 1;
}

void ui_in_paste(const char *s, size_t n) {
    if (ui_paste_collapses(s, n) && in.n_pastes < MAX_PASTES) {
        char *t = malloc(n + 1);
        if (t) {
            memcpy(t, s, n);
            t[n] = 0;
            in.pastes[in.n_pastes].text = t;
            in.pastes[in.n_pastes++].len = n;
        }
    }
    ui_in_insert(s, n);
}

/* 1: a line was entered (*line is the caller's), -1: end of input (Ctrl-D), 0: nothing yet. */
int ui_in_take(char **line) {
    if (in.have_line) {
        *line = in.line;
        in.line = NULL;
        in.have_line = 0;
        drop_pastes();
        return 1;
    }
    if (in.eof) { in.eof = 0; return -1; }
    return 0;
}

int ui_in_queued(void) { return in.have_line ? 1 : in.eof ? -1 : 0; }

void ui_in_set(const char *s, size_t n) {
    drop_pastes();
    char *t = strndup(s, n);
    if (!t) return;
    rl_replace_line(t, 1);
    rl_point = rl_end;
    free(t);
    if (ui_paste_collapses(s, n)) ui_in_paste_mark(s, n);
    in.dirty = 1;
}

void ui_in_paste_mark(const char *s, size_t n) {
    if (in.n_pastes == MAX_PASTES) return;
    char *t = strndup(s, n);
    if (!t) return;
    in.pastes[in.n_pastes].text = t;
    in.pastes[in.n_pastes++].len = strlen(t);
}

void ui_in_clear(void) {
    drop_pastes();
    rl_replace_line("", 1);
    rl_point = rl_end = 0;
    in.dirty = 1;
}

const char *ui_in_buf(size_t *len, size_t *point, const ui_paste **ps, size_t *n_ps) {
    *len = (size_t)rl_end;
    *point = (size_t)rl_point;
    *ps = in.pastes;
    *n_ps = in.n_pastes;
    return rl_line_buffer ? rl_line_buffer : "";
}

/* Readline's own prompt while it searches (Ctrl-R), else NULL. */
const char *ui_in_prompt(void) {
    return rl_display_prompt && *rl_display_prompt ? rl_display_prompt : NULL;
}

const char *ui_in_matches(void) { return in.matches; }
void ui_in_clear_matches(void) { in.matches[0] = 0; }
int ui_in_dirty(void) { int d = in.dirty; in.dirty = 0; return d; }

void ui_in_history_add(const char *s) {
    HIST_ENTRY *h = history_length ? history_get(history_base + history_length - 1) : NULL;
    if (h && !strcmp(h->line, s)) return;
    add_history(s);
    using_history();   /* the line being edited was set up before this entry: Up must find it */
}
