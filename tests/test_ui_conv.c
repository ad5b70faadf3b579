/* ui_conv: the pane's message blocks follow the transcript (undo, retry, load), thinking split out. */
#include "tests/t.h"
#include "app/ui.h"

static void add(tr_transcript *t, tr_role role, const char *text, const char *stop) {
    tr_message m;
    memset(&m, 0, sizeof m);
    m.role = role;
    m.text = (char *)text;
    m.len = strlen(text);
    snprintf(m.stop, sizeof m.stop, "%s", stop);
    m.thought_tokens = role == TR_MODEL && strstr(text, "<|channel>") ? 7 : 0;
    tr_append(t, &m);
}

/* Roles of the pane's blocks as letters: U user, M model, T thought, I info. */
static void roles(const ui_pane *p, char *out) {
    static const char letter[] = {'B', 'U', 'M', 'T', 'I', 'E'};
    size_t i = 0;
    for (; i < ui_pane_count(p); i++) out[i] = letter[ui_pane_at(p, i)->role];
    out[i] = 0;
}

static const ui_block *find(const ui_pane *p, int role) {
    for (size_t i = 0; i < ui_pane_count(p); i++)
        if (ui_pane_at(p, i)->role == role) return ui_pane_at(p, i);
    return NULL;
}

int main(void) {
    (void)t_data;
    ui_locale_utf8();
    tr_transcript *t;
    ui_pane *p;
    char r[64];
    if (tr_create(&t) || ui_pane_create(&p, 60, 20)) return 1;
    add(t, TR_USER, "hello", "");
    add(t, TR_MODEL, "<|channel>thought\nlet me think<channel|>Hi **there**", "stop_id");
    add(t, TR_USER, "again", "");
    add(t, TR_MODEL, "partial", "stopped_early");
    ui_pane_text(p, UI_B_BANNER, "banner");
    T_CHECK(ui_conv_sync(p, t) == 0, "sync: a loaded chat is drawn", "");
    roles(p, r);
    T_CHECK(!strcmp(r, "BUTMUM"), "sync: one block per message, thinking apart", "%s", r);
    const ui_block *th = find(p, UI_B_THOUGHT), *m = find(p, UI_B_MODEL);
    T_CHECK(th && th->len == 12 && !memcmp(th->raw, "let me think", 12) && th->tokens == 7,
            "sync: thought text without markers, its token count", "'%.*s' %d", th ? (int)th->len : 0,
            th ? th->raw : "", th ? th->tokens : 0);
    T_CHECK(m && !strcmp(m->raw, "Hi **there**") && !strcmp(m->disp.text, "Hi there"),
            "sync: the reply without its thinking, with Markdown", "'%s'", m ? m->raw : "");
    T_CHECK(ui_pane_at(p, ui_pane_count(p) - 1)->interrupted, "sync: an interrupted reply is marked", "");

    ui_pane_text(p, UI_B_INFO, "a command said something");
    T_CHECK(ui_conv_sync(p, t) == 0 && ui_pane_count(p) == 7, "sync: nothing changed, nothing redrawn", "%zu",
            ui_pane_count(p));
    /* /undo */
    tr_truncate(t, 2);
    ui_conv_sync(p, t);
    roles(p, r);
    T_CHECK(!strcmp(r, "BUTMI"), "sync: an undone exchange disappears, command output stays", "%s", r);
    /* a streamed turn: provisional blocks, bound once the reply is in the transcript */
    ui_block *u = ui_pane_add(p, UI_B_USER), *rep;
    u->msg = -2;
    ui_pane_append(p, u, "third", 5);
    rep = ui_pane_add(p, UI_B_MODEL);
    rep->msg = -2;
    ui_pane_append(p, rep, "answer", 6);
    add(t, TR_USER, "third", "");
    add(t, TR_MODEL, "answer", "stop_id");
    ui_conv_bind(p, t);
    T_CHECK(u->msg == 2 && rep->msg == 3, "bind: provisional blocks get their messages", "%ld %ld", u->msg, rep->msg);
    size_t n = ui_pane_count(p);
    ui_conv_sync(p, t);
    T_CHECK(ui_pane_count(p) == n && ui_pane_at(p, n - 1) == rep, "sync: a bound turn stays as it streamed", "");
    /* /retry: the last reply replaced, in its place before the command output after it */
    ui_pane_text(p, UI_B_INFO, "retry output");
    tr_truncate(t, 3);
    add(t, TR_MODEL, "another answer", "stop_id");
    ui_conv_sync(p, t);
    roles(p, r);
    m = ui_pane_at(p, ui_pane_count(p) - 2);
    T_CHECK(!strcmp(r, "BUTMIUMI") && !strcmp(m->raw, "another answer"), "sync: a retried reply is redrawn in place",
            "%s '%s'", r, m->raw);
    /* a failed or cancelled turn leaves provisional blocks that go */
    u = ui_pane_add(p, UI_B_USER);
    u->msg = -2;
    ui_conv_sync(p, t);
    roles(p, r);
    T_CHECK(!strcmp(r, "BUTMIUMI"), "sync: unsaved provisional blocks are dropped", "%s", r);
    /* /load of another chat */
    tr_truncate(t, 0);
    add(t, TR_USER, "other", "");
    ui_conv_sync(p, t);
    roles(p, r);
    T_CHECK(!strcmp(r, "BUII"), "sync: a different chat takes the old one's place", "%s", r);
    ui_pane_free(p);
    tr_free(t);
    return t_exit();
}
