/* ui_run: set-up, the event loop and the keys of the full-screen chat.  One thread: while the model
 * works, its callbacks (ui_turn.c) call ui_app_pump, which polls input without blocking and redraws,
 * so keys, resizes and Ctrl-C stay live during prefill and generation. */
#include <curses.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "app/ui.h"

#define POLL_EVERY 0.01    /* s between input polls while the model works */
#define PAINT_EVERY 0.05   /* s between frames while the model works */
#define ESC_WAIT_MS 30     /* a lone ESC is a key of its own after this long */


double ui_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void ui_app_notice(ui_app *a, const char *s) {
    snprintf(a->notice, sizeof a->notice, "%.*s", (int)sizeof a->notice - 1, s);
    a->dirty = 1;
}

void ui_app_paint(ui_app *a) {
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
    double el = ui_now() - a->t_turn;
    if (a->state == UI_ST_PREFILL && a->prefill_done > 0 && el > 0.2)
        s->eta_s = el * (a->prefill_total - a->prefill_done) / a->prefill_done;
    s->saved = a->saved;
    s->notice = a->notice;
    f.hint = ui_in_matches();
    ui_paint(&f);
    a->dirty = 0;
    a->last_paint = ui_now();
}

static void resize(ui_app *a) {
    int rows, cols;
    ui_term_size(&rows, &cols);
    clearok(curscr, TRUE);
    a->dirty = 1;
}

/* ---- keys and signals ---- */

static void on_key(void *ud, int key, const char *s, size_t n) {
    ui_app *a = ud;
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
        ui_app_notice(a, ui_pane_raw(a->pane) ? "raw text (F2: Markdown)" : "Markdown (F2: raw text)");
        break;
    case UI_K_ALT_LEFT: ui_turn_flip(a, -1); break;
    case UI_K_ALT_RIGHT: ui_turn_flip(a, 1); break;
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
        ui_app_notice(a, "Ctrl-C again or Ctrl-D to quit");
        break;
    default: break;
    }
}

/* Waits up to timeout_ms for the terminal or a signal, and acts on what came. */
static void input(ui_app *a, int timeout_ms) {
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
void ui_app_pump(ui_app *a) {
    double t = ui_now();
    if (t - a->last_poll >= POLL_EVERY) {
        a->last_poll = t;
        input(a, 0);
        if (ui_in_queued() > 0 && !a->queued) {
            a->queued = 1;
            ui_app_notice(a, "queued: sent when this reply ends (Ctrl-C gives it back)");
        }
    }
    if (a->dirty && t - a->last_paint >= PAINT_EVERY) ui_app_paint(a);
}

static void banner(ui_app *a) {
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
static int pick_theme(ui_app *a, char *err, size_t errlen) {
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
    ui_app a;
    memset(&a, 0, sizeof a);
    a.c = c;
    a.o = o;
    a.tok_s = -1;
    ui_turn_io(&a, &a.io);
    ui_locale_utf8();
    int rc = pick_theme(&a, err, sizeof err);
    if (!rc && (cmd_create(&a.k, c) || ui_keys_create(&a.keys) || ui_pane_create(&a.pane, 80, 20))) {
        snprintf(err, sizeof err, "out of memory");
        rc = -1;
    }
    if (!rc) rc = ui_in_open(err, sizeof err);
    if (!rc && ui_hist_path(a.hist, sizeof a.hist) == 0) {
        char herr[512];
        if (ui_hist_load(a.hist, add_hist, NULL, herr, sizeof herr)) ui_app_notice(&a, herr);
    }
    if (!rc) rc = ui_term_open(o->mouse, err, sizeof err);
    if (!rc) {
        if (!has_colors()) { a.colour = 0; ui_theme_strip_colour(&a.theme); }
        ui_paint_theme(&a.theme, a.colour);
        banner(&a);
        ui_conv_sync(a.pane, chat_transcript(c));
        a.saved = chat_autosave_path(c) ? UI_SAVE_OK : UI_SAVE_NONE;
        resize(&a);
        if (tr_count(chat_transcript(c))) ui_turn_warm(&a);
        while (!a.quit) {
            char *line;
            int t = ui_in_take(&line);
            if (t < 0) break;
            if (t > 0) {   /* also a line queued while the last reply streamed */
                ui_turn_submit(&a, line);
                free(line);
                continue;
            }
            if (a.dirty) ui_app_paint(&a);
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
