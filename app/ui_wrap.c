/* Word wrap of a display text into screen rows, incremental: each call consumes only the text added
 * since the last one.  Rows before the open one never change when text is appended (greedy wrapping
 * decides a row only once a character does not fit), so streaming costs the new text plus, at a
 * break, the word carried to the next row.  Code lines wrap at any character and keep their spaces. */
#include <stdlib.h>
#include <string.h>
#include "app/ui.h"

void ui_wrap_free(ui_wrap *w) {
    free(w->rows);
    memset(w, 0, sizeof *w);
}

void ui_wrap_reset(ui_wrap *w, int width) {
    w->n = 0;
    w->width = width < 1 ? 1 : width;
    w->line = 0;
    w->pos = 0;
    w->row_w = 0;
    w->in_space = w->have_brk = w->skipping = 0;
}

static int push_row(ui_wrap *w, uint32_t off, size_t line, int cont) {
    if (w->n == w->cap) {
        size_t c = w->cap ? w->cap * 2 : 64;
        ui_row *r = realloc(w->rows, c * sizeof *r);
        if (!r) return -1;
        w->rows = r;
        w->cap = c;
    }
    ui_row *r = &w->rows[w->n++];
    r->off = r->end = off;
    r->line = (uint32_t)line;
    r->cont = (uint32_t)(cont ? 1 : 0);
    w->row_w = 0;
    w->in_space = w->have_brk = 0;
    return 0;
}

static int avail(const ui_wrap *w, const ui_line *l, int cont) {
    int a = w->width - (cont ? l->hang : l->indent);
    return a < 1 ? 1 : a;
}

static int consume(ui_wrap *w, const ui_disp *d, const ui_line *l, uint32_t end) {
    const char *t = d->text;
    int code = l->kind == UI_L_CODE;
    if (l->kind == UI_L_FENCE || l->kind == UI_L_FENCE_END || l->kind == UI_L_HR) {
        w->pos = end;
        w->rows[w->n - 1].end = end;
        return 0;
    }
    while (w->pos < end) {
        ui_row *r = &w->rows[w->n - 1];
        int32_t cp;
        uint32_t k = (uint32_t)ui_utf8_next(t + w->pos, end - w->pos, &cp);
        int cw = ui_cp_cells(cp);
        int a = avail(w, l, r->cont);
        if (cw == 0) { w->pos += k; r->end = w->pos; continue; }
        if (code) {
            if (w->row_w + cw > a && w->row_w > 0) {
                if (push_row(w, w->pos, w->line, 1)) return -1;
                r = &w->rows[w->n - 1];
            }
        } else if (cp == ' ') {
            if (w->skipping) { w->pos += k; r->off = r->end = w->pos; continue; }
            if (w->row_w + cw > a) {
                /* A space that does not fit ends the row; the spaces after it are swallowed. */
                w->pos += k;
                if (push_row(w, w->pos, w->line, 1)) return -1;
                w->skipping = 1;
                continue;
            }
            if (!w->in_space) { w->brk_end = w->pos; w->in_space = 1; }
        } else {
            w->skipping = 0;
            if (w->in_space) { w->brk_start = w->pos; w->have_brk = 1; w->in_space = 0; }
            if (w->row_w + cw > a) {
                if (w->have_brk && w->brk_start > r->off) {
                    uint32_t from = w->brk_start;
                    r->end = w->brk_end;
                    if (push_row(w, from, w->line, 1)) return -1;
                    r = &w->rows[w->n - 1];
                    r->end = w->pos;
                    w->row_w = ui_str_cells(t + from, w->pos - from);
                    a = avail(w, l, 1);
                }
                if (w->row_w + cw > a && w->row_w > 0) {
                    if (push_row(w, w->pos, w->line, 1)) return -1;
                    r = &w->rows[w->n - 1];
                }
            }
        }
        w->row_w += cw;
        w->pos += k;
        r->end = w->pos;
    }
    return 0;
}

int ui_wrap_advance(ui_wrap *w, const ui_disp *d) {
    if (d->n_lines == 0) return 0;
    for (;;) {
        if (w->n == 0 || w->rows[w->n - 1].line < w->line) {
            w->pos = d->lines[w->line].off;
            w->skipping = 0;
            if (push_row(w, w->pos, w->line, 0)) return -1;
        }
        int last = w->line + 1 >= d->n_lines;
        uint32_t end = last ? (uint32_t)d->len : d->lines[w->line + 1].off;
        if (consume(w, d, &d->lines[w->line], end)) return -1;
        if (last) return 0;
        w->line++;
    }
}
