/* One message of the transcript pane: its logical text (kept for re-layout), its display form and
 * its rows at the current width.  Appending text costs only the new text. */
#include <stdlib.h>
#include <string.h>
#include "app/ui.h"

static int block_style(int role) {
    switch (role) {
    case UI_B_BANNER: return UI_S_BANNER;
    case UI_B_USER: return UI_S_USER;
    case UI_B_THOUGHT: return UI_S_THOUGHT;
    case UI_B_INFO: return UI_S_INFO;
    case UI_B_ERROR: return UI_S_ERROR;
    default: return UI_S_MODEL;
    }
}

/* Only model replies get Markdown: what the user typed is shown as typed. */
static int block_raw(const ui_block *b, int raw_view) {
    return raw_view || b->role != UI_B_MODEL;
}

int ui_block_margin(const ui_block *b) {
    return b->role == UI_B_MODEL || b->role == UI_B_BANNER ? 0 : 2;
}

int ui_block_create(ui_block **out, int role, int width, int raw_view) {
    ui_block *b = calloc(1, sizeof *b);
    if (!b) return -1;
    b->role = role;
    b->folded = role == UI_B_THOUGHT;
    b->msg = -1;
    if (ui_md_create(&b->md, block_style(role), block_raw(b, raw_view))) { free(b); return -1; }
    ui_wrap_reset(&b->wrap, width - ui_block_margin(b));
    *out = b;
    return 0;
}

void ui_block_free(ui_block *b) {
    if (!b) return;
    free(b->raw);
    ui_disp_free(&b->disp);
    ui_md_free(b->md);
    ui_wrap_free(&b->wrap);
    free(b);
}

int ui_block_append(ui_block *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->len + n + 1) c *= 2;
        char *q = realloc(b->raw, c);
        if (!q) return -1;
        b->raw = q;
        b->cap = c;
    }
    memcpy(b->raw + b->len, s, n);
    b->len += n;
    b->raw[b->len] = 0;
    if (ui_md_push(b->md, &b->disp, s, n)) return -1;
    return ui_wrap_advance(&b->wrap, &b->disp);
}

int ui_block_finish(ui_block *b) {
    b->done = 1;
    if (ui_md_finish(b->md, &b->disp)) return -1;
    return ui_wrap_advance(&b->wrap, &b->disp);
}

int ui_block_layout(ui_block *b, int width, int raw_view) {
    ui_wrap_reset(&b->wrap, width - ui_block_margin(b));
    ui_disp_clear(&b->disp);
    ui_md_reset(b->md, block_raw(b, raw_view));
    if (b->len && ui_md_push(b->md, &b->disp, b->raw, b->len)) return -1;
    if (b->done && ui_md_finish(b->md, &b->disp)) return -1;
    return ui_wrap_advance(&b->wrap, &b->disp);
}

/* A thought block has a title row; a folded one shows nothing else. */
static int head_rows(const ui_block *b) { return b->role == UI_B_THOUGHT ? 1 : 0; }
static int text_rows(const ui_block *b) {
    return b->role == UI_B_THOUGHT && b->folded ? 0 : (int)b->wrap.n;
}

int ui_block_rows(const ui_block *b) {
    return head_rows(b) + text_rows(b) + (b->interrupted ? 1 : 0) + 1;
}

int ui_block_vrow(const ui_block *b, int i, size_t *row) {
    if (i < head_rows(b)) return UI_VR_TITLE;
    i -= head_rows(b);
    if (i < text_rows(b)) { *row = (size_t)i; return UI_VR_TEXT; }
    i -= text_rows(b);
    if (b->interrupted && i == 0) return UI_VR_INTERRUPTED;
    return UI_VR_GAP;
}

long ui_block_row_of(const ui_block *b, size_t off) {
    if (text_rows(b) == 0) return 0;
    size_t lo = 0, hi = b->wrap.n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (b->wrap.rows[mid].off <= off) lo = mid; else hi = mid;
    }
    return head_rows(b) + (long)lo;
}

size_t ui_block_off_of(const ui_block *b, int vrow) {
    size_t row;
    int k = ui_block_vrow(b, vrow, &row);
    if (k == UI_VR_TEXT) return b->wrap.rows[row].off;
    return k == UI_VR_TITLE ? 0 : b->disp.len;
}
