/* The input line as shown: big pastes collapsed to a placeholder (the full text is still what gets
 * sent), broken into rows at newlines and where a row is full, with the cursor's row and cell. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "app/ui.h"

#define PASTE_LINES 8
#define PASTE_BYTES 1000

static size_t count_lines(const char *s, size_t n) {
    size_t l = n ? 1 : 0;
    for (size_t i = 0; i + 1 < n; i++) l += s[i] == '\n';
    return l;
}

int ui_paste_collapses(const char *s, size_t n) {
    return n >= PASTE_BYTES || count_lines(s, n) >= PASTE_LINES;
}

int ui_paste_label(const char *s, size_t n, char *out, size_t outlen) {
    size_t l = count_lines(s, n);
    if (n < 1024) return snprintf(out, outlen, "[pasted %zu line%s, %zu B]", l, l == 1 ? "" : "s", n);
    double kb = n / 1024.0;
    if (kb < 1024) return snprintf(out, outlen, "[pasted %zu lines, %.1f KB]", l, kb);
    return snprintf(out, outlen, "[pasted %zu lines, %.1f MB]", l, kb / 1024);
}

/* Room for n more bytes in *d (capacity *cap, *o used); 0 on success. */
static int room(char **d, size_t *cap, size_t o, size_t n) {
    if (o + n + 1 <= *cap) return 0;
    size_t c = (o + n + 1) * 2;
    char *q = realloc(*d, c);
    if (!q) return -1;
    *d = q;
    *cap = c;
    return 0;
}

char *ui_input_display(const char *buf, size_t len, size_t point, const ui_paste *ps, size_t n_ps,
                       size_t *dlen, size_t *dpoint) {
    size_t cap = len + 64, o = 0, i = 0;
    char *d = malloc(cap);
    if (!d) return NULL;
    *dpoint = point;
    int placed = 0;
    while (i < len) {
        /* the earliest paste still present from here on */
        const char *best = NULL;
        size_t bl = 0;
        for (size_t p = 0; p < n_ps; p++) {
            if (!ps[p].len || ps[p].len > len - i) continue;
            const char *f = memmem(buf + i, len - i, ps[p].text, ps[p].len);
            if (f && (!best || f < best)) { best = f; bl = ps[p].len; }
        }
        size_t upto = best ? (size_t)(best - buf) : len;
        char lab[64];
        int ln = best ? ui_paste_label(best, bl, lab, sizeof lab) : 0;
        /* a label can be longer than a small paste, and one paste can be there twice */
        if (room(&d, &cap, o, upto - i + (size_t)ln)) { free(d); return NULL; }
        memcpy(d + o, buf + i, upto - i);
        if (!placed && point >= i && point <= upto) { *dpoint = o + (point - i); placed = 1; }
        o += upto - i;
        i = upto;
        if (!best) break;
        memcpy(d + o, lab, (size_t)ln);
        if (!placed && point > i && point <= i + bl) { *dpoint = o + (size_t)ln; placed = 1; }
        o += (size_t)ln;
        i += bl;
    }
    if (!placed) *dpoint = o;
    d[o] = 0;
    *dlen = o;
    return d;
}

int ui_input_rows(const char *d, size_t n, size_t point, int width, size_t *starts, int max,
                  int *crow, int *ccol) {
    int rows = 1, col = 0;
    if (width < 1) width = 1;
    if (max > 0) starts[0] = 0;
    *crow = *ccol = 0;
    for (size_t i = 0; i <= n;) {
        if (i == point) { *crow = rows - 1; *ccol = col; }
        if (i == n) break;
        int32_t cp;
        size_t k = (size_t)ui_utf8_next(d + i, n - i, &cp);
        int w = cp == '\n' ? 0 : ui_cp_cells(cp);
        if (cp != '\n' && col + w > width && col > 0) {
            if (rows < max) starts[rows] = i;
            rows++;
            col = 0;
            if (i == point) { *crow = rows - 1; *ccol = 0; }
        }
        i += k;
        if (cp == '\n') {
            if (rows < max) starts[rows] = i;
            rows++;
            col = 0;
        } else {
            col += w;
        }
    }
    /* A cursor just past a full row sits at the start of the next one. */
    if (*ccol >= width) {
        if (*crow == rows - 1) { if (rows < max) starts[rows] = n; rows++; }
        (*crow)++;
        *ccol = 0;
    }
    return rows;
}
