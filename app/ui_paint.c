/* Drawing with ncursesw: the transcript rows in view, the input rows, the status bar.  Everything is
 * drawn from the laid-out rows, so a frame costs the screen's size whatever the transcript's. */
#include <curses.h>
#include <stdlib.h>
#include <string.h>
#include "app/ui.h"

#define MIN_COLS 30
#define MIN_ROWS 8
#define MAX_INPUT_ROWS 256

static attr_t attr_of[UI_S_COUNT];
static int colour_started;

/* A colour the terminal lacks: bright ones become the basic colour in bold (bright black: the
 * default colour, dimmed); the 256-colour cube its basic counterpart. */
static short basic(int c, attr_t *a, int fg) {
    if (c < COLORS) return (short)c;
    if (c == 8) { if (fg) *a |= A_DIM; return -1; }
    if (c < 16) { if (fg) *a |= A_BOLD; return (short)(c - 8); }
    return (short)(c % 8);
}

void ui_paint_theme(const ui_theme *t, int colour) {
    if (colour && has_colors() && !colour_started && start_color() == OK) {
        use_default_colors();
        colour_started = 1;
    }
    int col = colour && colour_started;
    for (int i = 0; i < UI_S_COUNT; i++) {
        const ui_style_def *d = &t->s[i];
        attr_t a = A_NORMAL;
        if (d->attrs & UI_A_BOLD) a |= A_BOLD;
        if (d->attrs & UI_A_DIM) a |= A_DIM;
        if (d->attrs & UI_A_ITALIC) a |= A_ITALIC;
        if (d->attrs & UI_A_UNDERLINE) a |= A_UNDERLINE;
        if (d->attrs & UI_A_REVERSE) a |= A_REVERSE;
        if (col && (d->fg >= 0 || d->bg >= 0) && i + 1 < COLOR_PAIRS) {
            init_pair((short)(i + 1), basic(d->fg, &a, 1), basic(d->bg, &a, 0));
            a |= COLOR_PAIR(i + 1);
        }
        attr_of[i] = a;
    }
}

static attr_t style_attr(int style) {
    attr_t a = attr_of[UI_STYLE(style) < UI_S_COUNT ? UI_STYLE(style) : UI_S_TEXT];
    if (style & UI_BOLD) a |= A_BOLD;
    if (style & UI_ITALIC) a |= A_ITALIC;
    return a;
}

/* Draws s[0..n) from cell x of row y without passing cell `end`; returns the next cell. */
static int put_text(int y, int x, int end, const char *s, size_t n, int style) {
    char buf[1024];
    size_t o = 0;
    attrset(style_attr(style));
    move(y, x);
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += (size_t)ui_utf8_next(s + i, n - i, &cp);
        int w = ui_cp_cells(cp);
        if (x + w > end) break;
        if (o + 8 > sizeof buf) { addnstr(buf, (int)o); o = 0; }
        o += ui_cp_display(cp, buf + o);
        x += w;
    }
    if (o) addnstr(buf, (int)o);
    return x;
}

static int put_str(int y, int x, int end, const char *s, int style) {
    return put_text(y, x, end, s, strlen(s), style);
}

static void fill(int y, int x, int end, const char *s, int style) {
    int w = ui_str_cells(s, strlen(s));
    while (w > 0 && x + w <= end) x = put_str(y, x, end, s, style);
}

static void margin(int y, const ui_block *b, int first, int W) {
    const char *m = "  ";
    int st = UI_S_TEXT;
    if (b->role == UI_B_USER && first) { m = "\xe2\x80\xba "; st = UI_S_PROMPT; }
    else if (b->role == UI_B_THOUGHT) { m = "\xe2\x94\x8a "; st = UI_S_THOUGHT; }
    else if (b->role == UI_B_ERROR && first) { m = "! "; st = UI_S_ERROR; }
    put_str(y, 0, W, m, st);
}

static void text_row(int y, const ui_block *b, size_t r, int W) {
    const ui_row *row = &b->wrap.rows[r];
    const ui_line *ln = &b->disp.lines[row->line];
    const ui_disp *d = &b->disp;
    int x = ui_block_margin(b);
    if (x) margin(y, b, r == 0, W);
    switch (ln->kind) {
    case UI_L_FENCE:
        x = put_str(y, x, W, "\xe2\x95\xad\xe2\x94\x80 ", UI_S_FENCE);
        x = put_text(y, x, W, d->text + row->off, row->end - row->off, UI_S_FENCE);
        return;
    case UI_L_FENCE_END:
        put_str(y, x, W, "\xe2\x95\xb0\xe2\x94\x80", UI_S_FENCE);
        return;
    case UI_L_HR:
        fill(y, x, x + 40 < W ? x + 40 : W, "\xe2\x94\x80", UI_S_HR);
        return;
    case UI_L_CODE:
        x = put_str(y, x, W, "\xe2\x94\x82 ", UI_S_FENCE);
        break;
    case UI_L_QUOTE:
        x = put_str(y, x, W, "\xe2\x96\x8c ", UI_S_QUOTE);
        break;
    default:
        x += row->cont ? ln->hang : ln->indent;
    }
    for (size_t si = ui_disp_span_at(d, row->off), off = row->off; off < row->end && x < W; si++) {
        size_t to = si + 1 < d->n_spans && d->spans[si + 1].off < row->end ? d->spans[si + 1].off : row->end;
        int st = si < d->n_spans ? d->spans[si].style : UI_S_TEXT;
        x = put_text(y, x, W, d->text + off, to - off, st);
        off = to;
    }
    if (ln->kind == UI_L_CODE) fill(y, x, W, " ", UI_S_CODEBLOCK);
}

static void pane_row(int y, const ui_pane *p, long abs, int W) {
    int vrow;
    long bi = ui_pane_locate(p, abs, &vrow);
    if (bi < 0) return;
    const ui_block *b = ui_pane_at(p, (size_t)bi);
    size_t r;
    char t[128];
    switch (ui_block_vrow(b, vrow, &r)) {
    case UI_VR_TEXT:
        text_row(y, b, r, W);
        break;
    case UI_VR_TITLE:
        snprintf(t, sizeof t, "%s thinking \xc2\xb7 %d token%s \xc2\xb7 Ctrl-T %s",
                 b->folded ? "\xe2\x96\xb8" : "\xe2\x96\xbe", b->tokens, b->tokens == 1 ? "" : "s",
                 b->folded ? "shows it" : "hides it");
        put_str(y, 0, W, t, UI_S_THOUGHT);
        break;
    case UI_VR_INTERRUPTED:
        put_str(y, ui_block_margin(b), W, "\xe2\x80\x94 interrupted \xe2\x80\x94", UI_S_INTERRUPTED);
        break;
    default:
        break;
    }
}

static void status_row(int y, int W, const ui_status *s) {
    char buf[1024];
    size_t right;
    size_t n = ui_status_format(s, W, buf, sizeof buf, &right);
    int st = s->notice && *s->notice ? UI_S_STATUS_WARN : s->state != UI_ST_IDLE ? UI_S_STATUS_BUSY : UI_S_STATUS;
    int x = put_text(y, 0, W, buf, right, st);
    put_text(y, x, W, buf + right, n - right, s->state != UI_ST_IDLE ? UI_S_STATUS_BUSY : UI_S_STATUS);
}

/* The input's rows first..first+ih, after a prompt of pw cells. */
static void input_rows(int y0, int ih, int W, const char *d, size_t n, const size_t *starts, int rows,
                       int first, const char *prompt, int pw) {
    for (int i = 0; i < ih; i++) {
        int r = first + i, y = y0 + i;
        if (r >= rows) break;
        if (r == 0) put_str(y, 0, pw, prompt, UI_S_PROMPT);
        int x = pw;
        size_t a = starts[r], b = r + 1 < rows && r + 1 < MAX_INPUT_ROWS ? starts[r + 1] : n;
        if (b > a && d[b - 1] == '\n') b--;
        /* the placeholders of collapsed pastes stand out from typed text */
        while (a < b && x < W) {
            const char *l = memmem(d + a, b - a, "[pasted ", 8);
            const char *e = l ? memchr(l, ']', (size_t)(d + b - l)) : NULL;
            size_t upto = e ? (size_t)(l - d) : b;
            x = put_text(y, x, W, d + a, upto - a, UI_S_INPUT);
            if (!e) break;
            x = put_text(y, x, W, l, (size_t)(e + 1 - l), UI_S_PASTE);
            a = (size_t)(e + 1 - d);
        }
    }
}

void ui_paint(const ui_frame *f) {
    int H = LINES, W = COLS;
    erase();
    if (W < MIN_COLS || H < MIN_ROWS) {
        char msg[64];
        snprintf(msg, sizeof msg, "terminal too small (need %dx%d)", MIN_COLS, MIN_ROWS);
        int len = (int)strlen(msg);
        put_str(H / 2, len < W ? (W - len) / 2 : 0, W, msg, UI_S_STATUS_WARN);
        curs_set(0);
        refresh();
        return;
    }
    /* input: its rows decide the transcript pane's height */
    size_t len, point, n_ps, dlen, dpoint;
    const ui_paste *ps;
    const char *buf = ui_in_buf(&len, &point, &ps, &n_ps);
    const char *search = ui_in_prompt();
    char *d = ui_input_display(buf, len, point, ps, n_ps, &dlen, &dpoint);
    size_t starts[MAX_INPUT_ROWS];
    int crow = 0, ccol = 0, rows = 1, pw = search ? ui_str_cells(search, strlen(search)) : 2;
    if (pw > W / 2) pw = W / 2;
    if (d) rows = ui_input_rows(d, dlen, dpoint, W - pw, starts, MAX_INPUT_ROWS, &crow, &ccol);
    if (rows > MAX_INPUT_ROWS) rows = MAX_INPUT_ROWS;
    int maxih = (H - 3) / 3 > 1 ? (H - 3) / 3 : 1;
    int ih = rows < maxih ? rows : maxih;
    int first = crow >= ih ? crow - ih + 1 : 0;
    int ph = H - 2 - ih;
    ui_pane *p = f->pane;
    if (ui_pane_height(p) != ph || ui_pane_width(p) != W) ui_pane_resize(p, W, ph);
    long top = ui_pane_top(p);
    for (int y = 0; y < ph; y++) pane_row(y, p, top + y, W);
    if (ui_pane_fresh(p) && !ui_pane_following(p)) {
        static const char mk[] = " \xe2\x86\x93 new output \xc2\xb7 End ";
        int mw = ui_str_cells(mk, sizeof mk - 1);
        put_str(ph - 1, W > mw ? W - mw : 0, W, mk, UI_S_MARKER);
    }
    /* separator, with completion candidates when readline has some */
    const char *hint = f->hint && *f->hint ? f->hint : NULL;
    if (hint) {
        int x = put_str(ph, 0, W, hint, UI_S_INFO);
        fill(ph, x + 1, W, " ", UI_S_TEXT);
    } else {
        fill(ph, 0, W, "\xe2\x94\x80", UI_S_HR);
    }
    if (d) input_rows(ph + 1, ih, W, d, dlen, starts, rows, first, search ? search : "\xe2\x80\xba ", pw);
    free(d);
    status_row(H - 1, W, &f->status);
    attrset(A_NORMAL);
    move(ph + 1 + crow - first, pw + ccol);
    curs_set(1);
    refresh();
}
