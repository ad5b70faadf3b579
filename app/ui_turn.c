/* The turns of the full-screen chat: what a submitted line does (through the shared command module),
 * and the callbacks by which the model and the commands reach the screen while they work. */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "app/ui.h"

/* ---- the model's callbacks ---- */

static void on_text(void *ud, const char *text, size_t len, int thought) {
    ui_app *a = ud;
    double t = ui_now();
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
    ui_app_pump(a);
}

static void on_prefill(void *ud, int done, int total) {
    ui_app *a = ud;
    a->state = UI_ST_PREFILL;
    a->prefill_done = done;
    a->prefill_total = total;
    a->dirty = 1;
    ui_app_pump(a);
}

static int cancelled(void *ud) {
    ui_app *a = ud;
    ui_app_pump(a);
    return a->cancel || a->quit;
}

static void on_notice(void *ud, const char *msg) {
    ui_app *a = ud;
    if (strstr(msg, "autosave failed")) a->save_failed = 1;
    ui_pane_text(a->pane, UI_B_INFO, msg);
    a->dirty = 1;
}

/* ---- the command module's callbacks ---- */

static void on_print(void *ud, const char *text, size_t len, int err) {
    ui_app *a = ud;
    if (len && text[len - 1] == '\n') len--;
    ui_block *b = err ? ui_pane_add(a->pane, UI_B_ERROR) : a->info ? a->info : ui_pane_add(a->pane, UI_B_INFO);
    if (!b) return;
    if (!err && b == a->info) ui_pane_append(a->pane, b, "\n", 1);
    ui_pane_append(a->pane, b, text, len);
    if (err) ui_pane_finish(a->pane, b); else a->info = b;
    a->dirty = 1;
}

static void drop_msgs(ui_app *a, long from) {
    for (size_t i = ui_pane_count(a->pane); i-- > 0;)
        if (ui_pane_at(a->pane, i)->msg >= from) ui_pane_remove(a->pane, i);
}

static void on_turn(void *ud, const char *user, size_t len) {
    ui_app *a = ud;
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
    a->t_turn = ui_now();
    a->cancel = a->save_failed = 0;
    ui_pane_end(a->pane);
    ui_app_paint(a);
}

static void on_reply(void *ud, const tr_message *m) {
    ui_app *a = ud;
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
    ui_app *a = ud;
    ui_theme t;
    if (ui_theme_load(&t, name, err, errlen)) return -1;
    if (!a->colour) ui_theme_strip_colour(&t);
    a->theme = t;
    ui_paint_theme(&a->theme, a->colour);
    clearok(curscr, TRUE);
    a->dirty = 1;
    return 0;
}

/* /raw: on < 0 toggles; returns the new state. */
static int on_raw(void *ud, int on) {
    ui_app *a = ud;
    ui_pane_set_raw(a->pane, on < 0 ? !ui_pane_raw(a->pane) : on);
    a->dirty = 1;
    return ui_pane_raw(a->pane);
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

void ui_turn_submit(ui_app *a, char *line) {
    char err[512] = "";
    size_t len = strlen(line);
    ui_in_history_add(line);
    if (*a->hist && ui_hist_append(a->hist, line, err, sizeof err)) ui_app_notice(a, err);
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
void ui_turn_warm(ui_app *a) {
    char err[512];
    ui_app_paint(a);
    a->busy = 1;
    a->state = UI_ST_PREFILL;
    a->t_turn = ui_now();
    int rc = chat_warm(a->c, &a->io.chat, err, sizeof err);
    a->busy = a->cancel = 0;
    a->state = UI_ST_IDLE;
    if (rc < 0) ui_pane_text(a->pane, UI_B_ERROR, err);
    if (rc == 1)
        ui_pane_text(a->pane, UI_B_INFO, "restoring the context was cancelled: the next turn computes the rest");
    a->dirty = 1;
}

static long mod(long a, long m) { return ((a % m) + m) % m; }

/* Alt-<- / Alt->: shows the last reply's alternatives (from /retry) in turn.  Selecting alternative
 * k swaps it with the reply shown, so stepping k = 0, 1, ... visits them all in order. */
void ui_turn_flip(ui_app *a, int dir) {
    tr_transcript *t = chat_transcript(a->c);
    size_t n = tr_count(t);
    const tr_message *m = n ? tr_at(t, n - 1) : NULL;
    if (a->busy || !m || m->role != TR_MODEL || !m->n_alts) {
        ui_app_notice(a, "no other replies to flip through (/retry makes one)");
        return;
    }
    long alts = (long)m->n_alts;
    if (dir < 0) a->alt_pos--;
    long k = mod(a->alt_pos, alts);
    if (dir > 0) a->alt_pos++;
    char err[256], msg[160];
    if (chat_select_alt(a->c, n - 1, (size_t)k, err, sizeof err) < 0) {
        ui_app_notice(a, err);
        return;
    }
    ui_conv_sync(a->pane, t);
    snprintf(msg, sizeof msg, "reply %ld of %ld (Alt-Left / Alt-Right)", mod(a->alt_pos, alts + 1) + 1, alts + 1);
    ui_app_notice(a, msg);
}


void ui_turn_io(ui_app *a, cmd_io *io) {
    *io = (cmd_io){.ud = a, .print = on_print, .on_turn = on_turn, .on_reply = on_reply,
                   .theme = on_theme, .raw = on_raw, .copy = on_copy, .edit = on_edit,
                   .chat = {.ud = a, .on_text = on_text, .on_prefill = on_prefill,
                            .cancelled = cancelled, .on_notice = on_notice}};
}
