/* ui_pane: scrolling, sticky follow, the "new output" flag and the view kept across re-layouts. */
#include "tests/t.h"
#include "app/ui.h"

/* The text of the block row shown at screen row y of the view. */
static const char *shown(const ui_pane *p, int y, size_t *len) {
    int vrow;
    long bi = ui_pane_locate(p, ui_pane_top(p) + y, &vrow);
    *len = 0;
    if (bi < 0) return "";
    const ui_block *b = ui_pane_at(p, (size_t)bi);
    size_t r;
    if (ui_block_vrow(b, vrow, &r) != UI_VR_TEXT) return "";
    *len = b->wrap.rows[r].end - b->wrap.rows[r].off;
    return b->disp.text + b->wrap.rows[r].off;
}

int main(void) {
    (void)t_data;
    ui_locale_utf8();
    ui_pane *p;
    T_CHECK(ui_pane_create(&p, 40, 10) == 0, "pane: created", "");
    ui_pane_text(p, UI_B_BANNER, "banner");
    ui_block *b = ui_pane_add(p, UI_B_MODEL);
    char line[64];
    for (int i = 0; i < 30; i++) {
        snprintf(line, sizeof line, "line %02d\n", i);
        ui_pane_append(p, b, line, strlen(line));
    }
    long total = ui_pane_total(p);
    T_CHECK(total == 2 + 31, "pane: rows counted (text rows plus a gap after each block)", "%ld", total);
    T_CHECK(ui_pane_following(p) && ui_pane_top(p) == total - 10, "follow: the view shows the end", "top %ld",
            ui_pane_top(p));
    ui_pane_append(p, b, "line 30\n", 8);
    T_CHECK(ui_pane_top(p) == ui_pane_total(p) - 10 && !ui_pane_fresh(p), "follow: new text scrolls the view",
            "top %ld", ui_pane_top(p));

    ui_pane_scroll(p, -8);
    long top = ui_pane_top(p);
    T_CHECK(!ui_pane_following(p), "scroll: up stops following", "");
    ui_pane_append(p, b, "line 31\nline 32\n", 16);
    T_CHECK(ui_pane_top(p) == top && ui_pane_fresh(p), "sticky: new text leaves the view, flags new output",
            "top %ld -> %ld fresh %d", top, ui_pane_top(p), ui_pane_fresh(p));
    ui_pane_home(p);
    size_t n;
    const char *s = shown(p, 0, &n);
    T_CHECK(ui_pane_top(p) == 0 && n == 6 && !memcmp(s, "banner", 6), "home: the first line", "'%.*s'", (int)n, s);
    ui_pane_scroll(p, 5);
    s = shown(p, 0, &n);
    T_CHECK(n == 7 && !memcmp(s, "line 03", 7), "scroll: down by rows", "'%.*s'", (int)n, s);
    /* narrower: the row at the top keeps showing the same text */
    ui_block *w = ui_pane_add(p, UI_B_MODEL);
    ui_pane_append(p, w, "aaaa bbbb cccc dddd eeee ffff gggg hhhh", 39);
    ui_pane_resize(p, 12, 10);
    s = shown(p, 0, &n);
    T_CHECK(n == 7 && !memcmp(s, "line 03", 7), "resize: the view stays on the text it showed", "'%.*s'", (int)n, s);
    T_CHECK(w->wrap.n == 4, "resize: blocks wrapped at the new width", "%zu rows", w->wrap.n);
    ui_pane_scroll(p, 100000);
    T_CHECK(ui_pane_following(p) && !ui_pane_fresh(p), "scroll: reaching the bottom follows again", "");
    ui_pane_scroll(p, -3);
    ui_pane_end(p);
    T_CHECK(ui_pane_following(p) && ui_pane_top(p) == ui_pane_total(p) - 10, "end: follows again", "");

    /* thinking: folded to a title row, unfolded on demand */
    ui_block *t = ui_pane_add(p, UI_B_THOUGHT);
    ui_pane_append(p, t, "one\ntwo\nthree", 13);
    T_CHECK(t->folded && ui_block_rows(t) == 2, "fold: a thought block shows its title only", "%d",
            ui_block_rows(t));
    ui_pane_toggle_fold(p);
    T_CHECK(!t->folded && ui_block_rows(t) == 5, "fold: unfolded shows its lines", "%d", ui_block_rows(t));
    ui_block *t2 = ui_pane_add(p, UI_B_THOUGHT);
    T_CHECK(!t2->folded, "fold: the choice holds for new thought blocks", "");
    ui_pane_toggle_fold(p);
    t->interrupted = 1;
    T_CHECK(ui_block_rows(t) == 3, "interrupted: one more row for the mark", "%d", ui_block_rows(t));

    size_t before = ui_pane_count(p);
    ui_block *second = ui_pane_at(p, 2);
    ui_pane_remove(p, 1);
    T_CHECK(ui_pane_count(p) == before - 1 && ui_pane_at(p, 1) == second && ui_pane_top(p) >= 0,
            "remove: a block goes, the rest close up", "%zu", ui_pane_count(p));
    ui_block *ins = ui_pane_insert(p, 1, UI_B_INFO);
    T_CHECK(ins && ui_pane_at(p, 1) == ins && ui_pane_at(p, 2) == second, "insert: a block where asked", "");
    ui_pane_free(p);
    return t_exit();
}
