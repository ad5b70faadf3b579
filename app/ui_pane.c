/* The transcript pane: its blocks, the view into them and sticky follow.  The view follows the end
 * only while the user is at the bottom; scrolled up, it stays put (anchored to the text it shows,
 * across re-layouts) and remembers that new output arrived below. */
#include <stdlib.h>
#include <string.h>
#include "app/ui.h"

struct ui_pane {
    ui_block **b; size_t n, cap;
    int width, height, raw, unfold;
    long top;        /* first row shown while not following */
    int follow, fresh;
};

int ui_pane_create(ui_pane **out, int width, int height) {
    ui_pane *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->width = width;
    p->height = height;
    p->follow = 1;
    *out = p;
    return 0;
}

void ui_pane_free(ui_pane *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) ui_block_free(p->b[i]);
    free(p->b);
    free(p);
}

long ui_pane_total(const ui_pane *p) {
    long t = 0;
    for (size_t i = 0; i < p->n; i++) t += ui_block_rows(p->b[i]);
    return t;
}

static long max_top(const ui_pane *p) {
    long m = ui_pane_total(p) - p->height;
    return m < 0 ? 0 : m;
}

long ui_pane_top(const ui_pane *p) {
    long m = max_top(p);
    if (p->follow || p->top > m) return m;
    return p->top < 0 ? 0 : p->top;
}

long ui_pane_locate(const ui_pane *p, long row, int *vrow) {
    if (row < 0) return -1;
    for (size_t i = 0; i < p->n; i++) {
        long r = ui_block_rows(p->b[i]);
        if (row < r) { *vrow = (int)row; return (long)i; }
        row -= r;
    }
    return -1;
}

/* What the top row shows, as a block and a display offset, which survive a re-layout. */
typedef struct { long block; size_t off; int kind; } anchor;

static anchor anchor_get(const ui_pane *p) {
    anchor a = {-1, 0, 0};
    int vrow;
    size_t r;
    if (p->follow) return a;
    a.block = ui_pane_locate(p, ui_pane_top(p), &vrow);
    if (a.block < 0) return a;
    a.kind = ui_block_vrow(p->b[a.block], vrow, &r);
    a.off = ui_block_off_of(p->b[a.block], vrow);
    return a;
}

static void anchor_set(ui_pane *p, anchor a) {
    if (a.block < 0 || (size_t)a.block >= p->n) return;
    long row = 0;
    for (long i = 0; i < a.block; i++) row += ui_block_rows(p->b[i]);
    const ui_block *b = p->b[a.block];
    if (a.kind != UI_VR_TITLE) row += ui_block_row_of(b, a.off);
    p->top = row;
}

ui_block *ui_pane_insert(ui_pane *p, size_t at, int role) {
    if (p->n == p->cap) {
        size_t c = p->cap ? p->cap * 2 : 16;
        ui_block **q = realloc(p->b, c * sizeof *q);
        if (!q) return NULL;
        p->b = q;
        p->cap = c;
    }
    ui_block *b;
    if (ui_block_create(&b, role, p->width, p->raw)) return NULL;
    if (role == UI_B_THOUGHT) b->folded = !p->unfold;
    if (at > p->n) at = p->n;
    memmove(p->b + at + 1, p->b + at, (p->n - at) * sizeof *p->b);
    p->b[at] = b;
    p->n++;
    if (!p->follow) p->fresh = 1;
    return b;
}

ui_block *ui_pane_add(ui_pane *p, int role) { return ui_pane_insert(p, p->n, role); }

int ui_pane_append(ui_pane *p, ui_block *b, const char *s, size_t n) {
    int before = ui_block_rows(b);
    int rc = ui_block_append(b, s, n);
    if (!p->follow && ui_block_rows(b) != before) p->fresh = 1;
    return rc;
}

int ui_pane_finish(ui_pane *p, ui_block *b) {
    int before = ui_block_rows(b);
    int rc = ui_block_finish(b);
    if (!p->follow && ui_block_rows(b) != before) p->fresh = 1;
    return rc;
}

int ui_pane_text(ui_pane *p, int role, const char *s) {
    ui_block *b = ui_pane_add(p, role);
    if (!b) return -1;
    size_t n = 0;
    while (s[n]) n++;
    if (ui_pane_append(p, b, s, n)) return -1;
    return ui_pane_finish(p, b);
}

size_t ui_pane_count(const ui_pane *p) { return p->n; }
ui_block *ui_pane_at(const ui_pane *p, size_t i) { return i < p->n ? p->b[i] : NULL; }
int ui_pane_width(const ui_pane *p) { return p->width; }
int ui_pane_height(const ui_pane *p) { return p->height; }
int ui_pane_following(const ui_pane *p) { return p->follow; }
int ui_pane_fresh(const ui_pane *p) { return p->fresh; }
int ui_pane_raw(const ui_pane *p) { return p->raw; }

void ui_pane_remove(ui_pane *p, size_t i) {
    if (i >= p->n) return;
    ui_block_free(p->b[i]);
    memmove(p->b + i, p->b + i + 1, (p->n - i - 1) * sizeof *p->b);
    p->n--;
    if (p->top > max_top(p)) p->top = max_top(p);
}

static int relayout(ui_pane *p) {
    anchor a = anchor_get(p);
    int rc = 0;
    for (size_t i = 0; i < p->n; i++) {
        p->b[i]->folded = p->b[i]->role == UI_B_THOUGHT && !p->unfold;
        if (ui_block_layout(p->b[i], p->width, p->raw)) rc = -1;
    }
    anchor_set(p, a);
    return rc;
}

int ui_pane_resize(ui_pane *p, int width, int height) {
    int relay = width != p->width;
    p->width = width;
    p->height = height;
    return relay ? relayout(p) : 0;
}

int ui_pane_set_raw(ui_pane *p, int raw) {
    p->raw = raw;
    return relayout(p);
}

void ui_pane_toggle_fold(ui_pane *p) {
    anchor a = anchor_get(p);
    p->unfold = !p->unfold;
    for (size_t i = 0; i < p->n; i++)
        if (p->b[i]->role == UI_B_THOUGHT) p->b[i]->folded = !p->unfold;
    anchor_set(p, a);
}

void ui_pane_scroll(ui_pane *p, long rows) {
    long m = max_top(p), t = ui_pane_top(p) + rows;
    if (t < 0) t = 0;
    if (t >= m) { ui_pane_end(p); return; }
    p->top = t;
    p->follow = 0;
}

void ui_pane_home(ui_pane *p) {
    if (max_top(p) == 0) { ui_pane_end(p); return; }
    p->top = 0;
    p->follow = 0;
}

void ui_pane_end(ui_pane *p) {
    p->follow = 1;
    p->fresh = 0;
}
