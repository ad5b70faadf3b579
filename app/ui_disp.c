/* The display form of one message: text as drawn (Markdown markers removed), style spans and line
 * records.  It only grows while a reply streams; the wrapper and the painter read it. */
#include <stdlib.h>
#include <string.h>
#include "app/ui.h"

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

void ui_disp_free(ui_disp *d) {
    free(d->text);
    free(d->spans);
    free(d->lines);
    memset(d, 0, sizeof *d);
}

void ui_disp_clear(ui_disp *d) {
    d->len = d->n_spans = d->n_lines = 0;
}

int ui_disp_line(ui_disp *d, int kind, int indent, int hang) {
    if (d->len >= UINT32_MAX / 2) return -1;
    if (grow((void **)&d->lines, &d->cap_lines, d->n_lines + 1, sizeof *d->lines)) return -1;
    ui_line *l = &d->lines[d->n_lines++];
    l->off = (uint32_t)d->len;
    l->kind = (uint8_t)kind;
    l->indent = (uint8_t)(indent > 40 ? 40 : indent);
    l->hang = (uint8_t)(hang > 40 ? 40 : hang);
    return 0;
}

int ui_disp_add(ui_disp *d, const char *s, size_t n, int style) {
    if (n == 0) return 0;
    if (d->len + n >= UINT32_MAX / 2) return -1;
    if (!d->n_spans || d->spans[d->n_spans - 1].style != style) {
        if (d->n_spans && d->spans[d->n_spans - 1].off == d->len) {
            d->spans[d->n_spans - 1].style = (uint16_t)style;
        } else {
            if (grow((void **)&d->spans, &d->cap_spans, d->n_spans + 1, sizeof *d->spans)) return -1;
            d->spans[d->n_spans].off = (uint32_t)d->len;
            d->spans[d->n_spans].style = (uint16_t)style;
            d->n_spans++;
        }
    }
    if (grow((void **)&d->text, &d->cap, d->len + n + 1, 1)) return -1;
    memcpy(d->text + d->len, s, n);
    d->len += n;
    d->text[d->len] = 0;
    return 0;
}

size_t ui_disp_span_at(const ui_disp *d, size_t off) {
    size_t lo = 0, hi = d->n_spans;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (d->spans[mid].off <= off) lo = mid; else hi = mid;
    }
    return lo;
}
