/* ui_run: the event loop of the full-screen chat.  One thread: while the model works, chat_send's
 * callbacks are where input is polled (without blocking) and the screen redrawn, so keys, resizes
 * and Ctrl-C stay live during prefill and generation. */
#include <curses.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "app/cmd.h"
#include "app/ui.h"

#define POLL_EVERY 0.01    /* s between input polls while the model works */
#define PAINT_EVERY 0.05   /* s between frames while the model works */
#define ESC_WAIT_MS 30     /* a lone ESC is a key of its own after this long */

typedef struct {
    chat *c;
    cmd *k;
    const ui_opts *o;
    ui_pane *pane;
    ui_keys *keys;
    ui_theme theme;
    int colour;
    char hist[4096];
    cmd_io io;
    /* the turn in progress */
    int busy, state, prefill_done, prefill_total;
    double t_turn, t_gen, tok_s;
    long gen_tokens;
    ui_block *thought, *reply, *info;
    int save_failed;
    /* requests from keys and signals */
    int cancel, quit, quit_armed, status, queued;
    long alt_pos;        /* Alt-<-/->: steps taken through the last reply's alternatives */
    int saved;
    char notice[160];
    int dirty;
    double last_poll, last_paint;
} app;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void set_notice(app *a, const char *s) {
    snprintf(a->notice, sizeof a->notice, "%.*s", (int)sizeof a->notice - 1, s);
    a->dirty = 1;
}

static void paint(app *a) {
    ui_frame f;
    memset(&f, 0, sizeof f);
    f.pane = a->pane;
    const smp_params *sp = chat_sampling(a->c);
    ui_status *s = &f.status;
    s->model = a->o->model_name ? a->o->model_name : "gemma";
    s->temp = sp->temp;
    s->top_k = sp->top_k;
    s->top_p = sp->top_p;
    s->min_p = sp->min_p;
    s->ctx_used = chat_ctx_used(a->c);
    s->ctx_size = chat_ctx_size(a->c);
    s->tok_s = a->tok_s;
    s->state = a->state;
    s->prefill_done = a->prefill_done;
    s->prefill_total = a->prefill_total;
    s->eta_s = -1;
    double el = now_s() - a->t_turn;
    if (a->state == UI_ST_PREFILL && a->prefill_done > 0 && el > 0.2)
        s->eta_s = el * (a->prefill_total - a->prefill_done) / a->prefill_done;
    s->saved = a->saved;
    s->notice = a->notice;
    f.hint = ui_in_matches();
    ui_paint(&f);
    a->dirty = 0;
    a->last_paint = now_s();
}

static void resize(app *a) {
    int rows, cols;
    ui_term_size(&rows, &cols);
    clearok(curscr, TRUE);
    a->dirty = 1;
}

/* ---- keys and signals ---- */

static long mod(long a, long m) { return ((a % m) + m) % m; }

/* Alt-<- / Alt->: shows the last reply's alternatives (from /retry) in turn.  Selecting alternative
 * k swaps it with the reply shown, so stepping k = 0, 1, ... visits them all in order. */
static void flip(app *a, int dir) {
    tr_transcript *t = chat_transcript(a->c);
    size_t n = tr_count(t);
    const tr_message *m = n ? tr_at(t, n - 1) : NULL;
    if (a->busy || !m || m->role != TR_MODEL || !m->n_alts) {
        set_notice(a, "no other replies to flip through (/retry makes one)");
        return;
    }
    long alts = (long)m->n_alts;
    if (dir < 0) a->alt_pos--;
    long k = mod(a->alt_pos, alts);
    if (dir > 0) a->alt_pos++;
    char err[256], msg[160];
    if (chat_select_alt(a->c, n - 1, (size_t)k, err, sizeof err) < 0) {
        set_notice(a, err);
        return;
    }
    ui_conv_sync(a->pane, t);
    snprintf(msg, sizeof msg, "reply %ld of %ld (Alt-Left / Alt-Right)", mod(a->alt_pos, alts + 1) + 1, alts + 1);
    set_notice(a, msg);
}

static void on_key(void *ud, int key, const char *s, size_t n) {
    app *a = ud;
    size_t len, point, nps;
    const ui_paste *ps;
    ui_in_buf(&len, &point, &ps, &nps);
    if (key != UI_K_INTR && a->notice[0] && !a->queued) a->notice[0] = 0;   /* a notice lasts until a key */
    if (key != UI_K_INTR) a->quit_armed = 0;
    a->dirty = 1;
    switch (key) {
    case UI_K_BYTES: ui_in_feed(s, n); break;
    case UI_K_PASTE: ui_in_paste(s, n); break;
    case UI_K_NEWLINE: ui_in_insert("\n", 1); break;
    case UI_K_PGUP: ui_pane_scroll(a->pane, -(ui_pane_height(a->pane) - 2)); break;
    case UI_K_PGDN: ui_pane_scroll(a->pane, ui_pane_height(a->pane) - 2); break;
    case UI_K_WHEEL_UP: ui_pane_scroll(a->pane, -3); break;
    case UI_K_WHEEL_DOWN: ui_pane_scroll(a->pane, 3); break;
    case UI_K_TOP: ui_pane_home(a->pane); break;
    case UI_K_BOTTOM: ui_pane_end(a->pane); break;
    /* Home/End scroll the transcript, unless there is a line to move in and the view follows. */
    case UI_K_HOME:
        if (len && ui_pane_following(a->pane)) ui_in_feed("\x01", 1); else ui_pane_home(a->pane);
        break;
    case UI_K_END:
        if (len && ui_pane_following(a->pane)) ui_in_feed("\x05", 1); else ui_pane_end(a->pane);
        break;
    case UI_K_FOLD: ui_pane_toggle_fold(a->pane); break;
    case UI_K_RAW:
        ui_pane_set_raw(a->pane, !ui_pane_raw(a->pane));
        set_notice(a, ui_pane_raw(a->pane) ? "raw text (F2: Markdown)" : "Markdown (F2: raw text)");
        break;
    case UI_K_ALT_LEFT: flip(a, -1); break;
    case UI_K_ALT_RIGHT: flip(a, 1); break;
    case UI_K_REDRAW: clearok(curscr, TRUE); break;
    case UI_K_SUSPEND: ui_term_suspend(); resize(a); break;
    case UI_K_INTR:
        if (a->busy) {
            char *line;   /* a line typed ahead goes back to the editor rather than being sent */
            if (ui_in_queued() > 0 && ui_in_take(&line) > 0) {
                ui_in_set(line, strlen(line));
                free(line);
                a->queued = 0;
                a->notice[0] = 0;
            }
            a->cancel = 1;
            break;
        }
        if (len) { ui_in_clear(); break; }
        if (a->quit_armed) { a->quit = 1; break; }
        a->quit_armed = 1;
        set_notice(a, "Ctrl-C again or Ctrl-D to quit");
        break;
    default: break;
    }
}

/* Waits up to timeout_ms for the terminal or a signal, and acts on what came. */
static void input(app *a, int timeout_ms) {
    struct pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {ui_term_wake_fd(), POLLIN, 0}};
    if (ui_keys_waiting(a->keys) && (timeout_ms < 0 || timeout_ms > ESC_WAIT_MS)) timeout_ms = ESC_WAIT_MS;
    int r = poll(p, 2, timeout_ms);
    int sig = ui_term_signals();
    if (sig & UI_SIG_RESIZE) resize(a);
    if (sig & UI_SIG_INT) on_key(a, UI_K_INTR, NULL, 0);
    if (sig & UI_SIG_TERM) { a->quit = 1; a->status = 128 + ui_term_signal_number(); }
    if (r == 0 && ui_keys_waiting(a->keys)) ui_keys_timeout(a->keys, on_key, a);
    if (r > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buf[4096];
        ssize_t k = read(STDIN_FILENO, buf, sizeof buf);
        if (k > 0) ui_keys_feed(a->keys, buf, (size_t)k, on_key, a);
        else if (k == 0 || (errno != EINTR && errno != EAGAIN)) {   /* the terminal went away */
            a->quit = 1;
            a->status = a->status ? a->status : 1;
        }
    }
    if (ui_in_queued() < 0) a->quit = 1;   /* Ctrl-D on an empty line */
    if (ui_in_dirty()) a->dirty = 1;
}

/* Called from the model's callbacks: keeps input and screen live without slowing the model. */
static void pump(app *a) {
    double t = now_s();
    if (t - a->last_poll >= POLL_EVERY) {
        a->last_poll = t;
        input(a, 0);
        if (ui_in_queued() > 0 && !a->queued) {
            a->queued = 1;
            set_notice(a, "queued: sent when this reply ends (Ctrl-C gives it back)");
        }
    }
    if (a->dirty && t - a->last_paint >= PAINT_EVERY) paint(a);
}

/* ---- the model's callbacks ---- */

static void on_text(void *ud, const char *text, size_t len, int thought) {
    app *a = ud;
    double t = now_s();
    if (a->state != UI_ST_GEN) { a->state = UI_ST_GEN; a->t_gen = t; a->gen_tokens = 0; }
    a->gen_tokens++;
    if (t - a->t_gen > 0.2) a->tok_s = a->gen_tokens / (t - a->t_gen);
    ui_block **b = thought ? &a->thought : &a->reply;
    if (!*b && (*b = ui_pane_add(a->pane, thought ? UI_B_THOUGHT : UI_B_MODEL))) (*b)->msg = -2;
    if (*b) {
        ui_pane_append(a->pane, *b, text, len);
        if (thought) (*b)->tokens++;
    }
    a->dirty = 1;
    pump(a);
}

static void on_prefill(void *ud, int done, int total) {
    app *a = ud;
    a->state = UI_ST_PREFILL;
    a->prefill_done = done;
    a->prefill_total = total;
    a->dirty = 1;
    pump(a);
}

static int cancelled(void *ud) {
    app *a = ud;
    pump(a);
    return a->cancel || a->quit;
}

static void on_notice(void *ud, const char *msg) {
    app *a = ud;
    if (strstr(msg, "autosave failed")) a->save_failed = 1;
    ui_pane_text(a->pane, UI_B_INFO, msg);
    a->dirty = 1;
}

/* ---- the command module's callbacks ---- */

static void on_print(void *ud, const char *text, size_t len, int err) {
    app *a = ud;
    if (len && text[len - 1] == '\n') len--;
    ui_block *b = err ? ui_pane_add(a->pane, UI_B_ERROR) : a->info ? a->info : ui_pane_add(a->pane, UI_B_INFO);
    if (!b) return;
    if (!err && b == a->info) ui_pane_append(a->pane, b, "\n", 1);
    ui_pane_append(a->pane, b, text, len);
    if (err) ui_pane_finish(a->pane, b); else a->info = b;
    a->dirty = 1;
}

static void drop_msgs(app *a, long from) {
    for (size_t i = ui_pane_count(a->pane); i-- > 0;)
        if (ui_pane_at(a->pane, i)->msg >= from) ui_pane_remove(a->pane, i);
}

static void on_turn(void *ud, const char *user, size_t len) {
    app *a = ud;
    tr_transcript *t = chat_transcript(a->c);
    size_t n = tr_count(t);
    long edit = cmd_editing(a->k);
    int retry = n >= 2 && tr_at(t, n - 1)->role == TR_MODEL && tr_at(t, n - 2)->text == user;
    if (edit >= 0) drop_msgs(a, edit);
    if (retry) {
        drop_msgs(a, (long)n - 1);
    } else {
        ui_block *b = ui_pane_add(a->pane, UI_B_USER);
        if (b) {
            b->msg = -2;
            ui_pane_append(a->pane, b, user, len);
            ui_pane_finish(a->pane, b);
        }
    }
    if (a->info) { ui_pane_finish(a->pane, a->info); a->info = NULL; }
    a->busy = 1;
    a->state = UI_ST_PREFILL;
    a->prefill_done = a->prefill_total = 0;
    a->t_turn = now_s();
    a->cancel = a->save_failed = 0;
    ui_pane_end(a->pane);
    paint(a);
}

static void on_reply(void *ud, const tr_message *m) {
    app *a = ud;
    if (!a->reply && (a->reply = ui_pane_add(a->pane, UI_B_MODEL))) a->reply->msg = -2;
    if (a->thought) {
        ui_pane_finish(a->pane, a->thought);
        a->thought->tokens = m->thought_tokens;
    }
    if (a->reply) {
        ui_pane_finish(a->pane, a->reply);
        a->reply->interrupted = !strcmp(m->stop, "stopped_early");
    }
    if (m->gen_ms > 0 && m->n_ids) a->tok_s = m->n_ids / (m->gen_ms / 1000.0);
    a->alt_pos = 0;
    ui_conv_bind(a->pane, chat_transcript(a->c));
    a->saved = !chat_autosave_path(a->c) ? UI_SAVE_NONE : a->save_failed ? UI_SAVE_FAIL : UI_SAVE_OK;
    a->dirty = 1;
}

static int on_theme(void *ud, const char *name, char *err, size_t errlen) {
    app *a = ud;
    ui_theme t;
    if (ui_theme_load(&t, name, err, errlen)) return -1;
    if (!a->colour) ui_theme_strip_colour(&t);
    a->theme = t;
    ui_paint_theme(&a->theme, a->colour);
    clearok(curscr, TRUE);
    a->dirty = 1;
    return 0;
}

static int on_copy(void *ud, const char *text, size_t len, char *err, size_t errlen) {
    (void)ud, (void)err, (void)errlen;
    return ui_term_osc52(text, len);
}

static void on_edit(void *ud, const char *text, size_t len) {
    (void)ud;
    ui_in_set(text, len);
}

/* ---- turns ---- */

static void submit(app *a, char *line) {
    char err[512] = "";
    size_t len = strlen(line);
    ui_in_history_add(line);
    if (*a->hist && ui_hist_append(a->hist, line, err, sizeof err)) set_notice(a, err);
    a->info = a->thought = a->reply = NULL;
    if (line[0] == '/' && line[1] != '/') ui_pane_text(a->pane, UI_B_USER, line);   /* the command, as typed */
    a->busy = 1;   /* Ctrl-C cancels whatever the command computes (a reply, a /load's prefill) */
    a->cancel = 0;
    int rc = cmd_submit(a->k, line, len, &a->io, err, sizeof err);
    a->busy = a->queued = 0;
    if (a->notice[0] && !strncmp(a->notice, "queued:", 7)) a->notice[0] = 0;
    a->state = UI_ST_IDLE;
    if (a->info) ui_pane_finish(a->pane, a->info);
    a->info = a->thought = a->reply = NULL;
    if (rc == CMD_QUIT) a->quit = 1;
    if (rc == CMD_CANCELLED) {
        /* the prefill was cancelled: the message goes back to the editor, before anything typed since */
        size_t tl, point, nps;
        const ui_paste *ps;
        const char *typed = ui_in_buf(&tl, &point, &ps, &nps);
        char *both = malloc(len + tl + 1);
        if (both) {
            memcpy(both, line, len);
            memcpy(both + len, typed, tl);
            ui_in_set(both, len + tl);
            if (tl && ui_paste_collapses(line, len)) ui_in_paste_mark(line, len);
            free(both);
        }
    }
    if (rc < 0) ui_pane_text(a->pane, UI_B_ERROR, err);
    if (ui_conv_sync(a->pane, chat_transcript(a->c))) ui_pane_text(a->pane, UI_B_ERROR, "out of memory");
    a->cancel = 0;
    a->dirty = 1;
}

/* A resumed or loaded chat: the cache is rebuilt now, with progress, so the next turn starts at once. */
static void warm(app *a) {
    char err[512];
    paint(a);
    a->busy = 1;
    a->state = UI_ST_PREFILL;
    a->t_turn = now_s();
    int rc = chat_warm(a->c, &a->io.chat, err, sizeof err);
    a->busy = a->cancel = 0;
    a->state = UI_ST_IDLE;
    if (rc < 0) ui_pane_text(a->pane, UI_B_ERROR, err);
    if (rc == 1) ui_pane_text(a->pane, UI_B_INFO, "restoring the context was cancelled: the next turn computes the rest");
    a->dirty = 1;
}

static void banner(app *a) {
    char b[512];
    snprintf(b, sizeof b,
             "gemmachat \xc2\xb7 %s (%s) \xc2\xb7 context %d tokens\n"
             "Enter sends \xc2\xb7 Alt-Enter or Ctrl-J: new line \xc2\xb7 /help lists the commands \xc2\xb7 "
             "Ctrl-C stops a reply \xc2\xb7 Ctrl-D quits\n"
             "PgUp/PgDn/Home/End scroll \xc2\xb7 Ctrl-T shows thinking \xc2\xb7 F2 raw text \xc2\xb7 "
             "Alt-Left/Right: other replies",
             a->o->model_name ? a->o->model_name : "gemma", chat_weights(a->c), chat_ctx_size(a->c));
    ui_pane_text(a->pane, UI_B_BANNER, b);
}

static void add_hist(void *ud, const char *entry) {
    (void)ud;
    ui_in_history_add(entry);
}

/* Theme from the options; NO_COLOR and colourless terminals get the monochrome one. */
static int pick_theme(app *a, char *err, size_t errlen) {
    a->colour = ui_theme_colour_wanted();
    const char *name = a->o->theme ? a->o->theme : a->colour ? "dark" : "monochrome";
    if (ui_theme_load(&a->theme, name, err, errlen)) {
        if (a->o->theme) return -1;
        ui_theme_base(&a->theme);   /* the default theme's file is missing: built-in attributes */
    }
    if (!a->colour) ui_theme_strip_colour(&a->theme);
    return 0;
}

int ui_run(chat *c, const ui_opts *o) {
    char err[512] = "";
    app a;
    memset(&a, 0, sizeof a);
    a.c = c;
    a.o = o;
    a.tok_s = -1;
    a.io = (cmd_io){.ud = &a, .print = on_print, .on_turn = on_turn, .on_reply = on_reply,
                    .theme = on_theme, .copy = on_copy, .edit = on_edit,
                    .chat = {.ud = &a, .on_text = on_text, .on_prefill = on_prefill,
                             .cancelled = cancelled, .on_notice = on_notice}};
    ui_locale_utf8();
    int rc = pick_theme(&a, err, sizeof err);
    if (!rc && (cmd_create(&a.k, c) || ui_keys_create(&a.keys) || ui_pane_create(&a.pane, 80, 20))) {
        snprintf(err, sizeof err, "out of memory");
        rc = -1;
    }
    if (!rc) rc = ui_in_open(err, sizeof err);
    if (!rc && ui_hist_path(a.hist, sizeof a.hist) == 0) {
        char herr[512];
        if (ui_hist_load(a.hist, add_hist, NULL, herr, sizeof herr)) set_notice(&a, herr);
    }
    if (!rc) rc = ui_term_open(o->mouse, err, sizeof err);
    if (!rc) {
        if (!has_colors()) { a.colour = 0; ui_theme_strip_colour(&a.theme); }
        ui_paint_theme(&a.theme, a.colour);
        banner(&a);
        ui_conv_sync(a.pane, chat_transcript(c));
        a.saved = chat_autosave_path(c) ? UI_SAVE_OK : UI_SAVE_NONE;
        resize(&a);
        if (tr_count(chat_transcript(c))) warm(&a);
        while (!a.quit) {
            char *line;
            int t = ui_in_take(&line);
            if (t < 0) break;
            if (t > 0) {   /* also a line queued while the last reply streamed */
                submit(&a, line);
                free(line);
                continue;
            }
            if (a.dirty) paint(&a);
            input(&a, -1);
        }
    }
    ui_term_close();
    ui_in_close();
    ui_pane_free(a.pane);
    ui_keys_free(a.keys);
    cmd_free(a.k);
    if (rc) {
        fprintf(stderr, "gemmachat: %s\n", err);
        return 1;
    }
    return a.status;
}

void ui_opts_default(ui_opts *o) {
    memset(o, 0, sizeof *o);
}
