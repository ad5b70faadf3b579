/* Keeps the pane's message blocks in step with the transcript, the conversation's single store.
 * While a reply streams, its blocks are provisional; once the command returns, whatever the
 * transcript no longer matches (an undo, a retry, an edit, a load, a failed turn) is redrawn from
 * the first message that differs. */
#include <string.h>
#include <stdlib.h>
#include "app/ui.h"
#include "tokenizer/cf.h"

#define CH_OPEN "<|channel>"
#define CH_CLOSE "<channel|>"

static int shown(const tr_message *m) { return m->role == TR_USER || m->role == TR_MODEL; }

static uint64_t hash(const tr_message *m) {
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (size_t i = 0; i < m->len; i++) h = (h ^ (unsigned char)m->text[i]) * 1099511628211ull;
    return h;
}

static int same(const ui_block *b, const tr_message *m) {
    int role = m->role == TR_USER ? UI_B_USER : UI_B_MODEL;
    return b->role == role && b->msg_hash == hash(m);
}

/* The thought spans of a reply, without the markers and the channel name. */
static int thought_text(ui_pane *p, ui_block *b, const char *s, size_t n) {
    for (;;) {
        const char *o = memmem(s, n, CH_OPEN, sizeof CH_OPEN - 1);
        if (!o) return 0;
        size_t skip = (size_t)(o - s) + sizeof CH_OPEN - 1;
        s += skip;
        n -= skip;
        if (n >= 8 && !memcmp(s, "thought\n", 8)) { s += 8; n -= 8; }
        const char *c = memmem(s, n, CH_CLOSE, sizeof CH_CLOSE - 1);
        size_t len = c ? (size_t)(c - s) : n;
        if (ui_pane_append(p, b, s, len)) return -1;
        if (!c) return 0;
        s = c + sizeof CH_CLOSE - 1;
        n -= len + sizeof CH_CLOSE - 1;
    }
}

/* Blocks for message m at pane index *at (advanced past them). */
static int add_message(ui_pane *p, const tr_message *m, long idx, size_t *at) {
    const char *text = m->text ? m->text : "";
    if (m->role == TR_MODEL && memmem(text, m->len, CH_OPEN, sizeof CH_OPEN - 1)) {
        ui_block *t = ui_pane_insert(p, (*at)++, UI_B_THOUGHT);
        if (!t || thought_text(p, t, text, m->len) || ui_pane_finish(p, t)) return -1;
        t->tokens = m->thought_tokens;
        t->msg = idx;
        t->msg_hash = hash(m);
    }
    ui_block *b = ui_pane_insert(p, (*at)++, m->role == TR_USER ? UI_B_USER : UI_B_MODEL);
    if (!b) return -1;
    b->msg = idx;
    b->msg_hash = hash(m);
    b->interrupted = !strcmp(m->stop, "stopped_early");
    if (m->role == TR_USER) return ui_pane_append(p, b, text, m->len) || ui_pane_finish(p, b) ? -1 : 0;
    size_t len;
    char *reply = cf_strip_thinking(text, m->len, &len);
    if (!reply) return -1;
    int rc = ui_pane_append(p, b, reply, len) || ui_pane_finish(p, b) ? -1 : 0;
    free(reply);
    return rc;
}

void ui_conv_bind(ui_pane *p, tr_transcript *t) {
    size_t n = tr_count(t);
    if (n < 2 || tr_at(t, n - 1)->role != TR_MODEL || tr_at(t, n - 2)->role != TR_USER) return;
    for (size_t i = 0; i < ui_pane_count(p); i++) {
        ui_block *b = ui_pane_at(p, i);
        if (b->msg != -2) continue;
        b->msg = (long)(b->role == UI_B_USER ? n - 2 : n - 1);
        b->msg_hash = hash(tr_at(t, (size_t)b->msg));
    }
}

int ui_conv_sync(ui_pane *p, tr_transcript *t) {
    size_t n = tr_count(t);
    for (size_t i = ui_pane_count(p); i-- > 0;)
        if (ui_pane_at(p, i)->msg == -2) ui_pane_remove(p, i);
    size_t expect = 0;
    while (expect < n && !shown(tr_at(t, expect))) expect++;
    int differs = 0;
    for (size_t i = 0; i < ui_pane_count(p) && !differs; i++) {
        const ui_block *b = ui_pane_at(p, i);
        if (b->msg < 0 || b->role == UI_B_THOUGHT) continue;
        if (b->msg != (long)expect || expect >= n || !same(b, tr_at(t, expect))) { differs = 1; break; }
        expect++;
        while (expect < n && !shown(tr_at(t, expect))) expect++;
    }
    if (!differs && expect >= n) return 0;
    /* what changed is drawn where the old blocks were, so command output after them stays after */
    size_t at = ui_pane_count(p);
    for (size_t i = ui_pane_count(p); i-- > 0;)
        if (ui_pane_at(p, i)->msg >= (long)expect) { ui_pane_remove(p, i); at = i; }
    for (size_t i = expect; i < n; i++)
        if (shown(tr_at(t, i)) && add_message(p, tr_at(t, i), (long)i, &at)) return -1;
    return 0;
}
