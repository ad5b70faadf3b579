/* ui_md + ui_wrap + ui_block: light Markdown and word wrap, streamed or all at once. */
#include <time.h>
#include "tests/t.h"
#include "app/ui.h"

/* The display text of row r of b, as the painter lays it out (indent as spaces). */
static void row_text(const ui_block *b, size_t r, char *out, size_t n) {
    const ui_row *row = &b->wrap.rows[r];
    const ui_line *l = &b->disp.lines[row->line];
    int ind = row->cont ? l->hang : l->indent;
    snprintf(out, n, "%*s%.*s", ind, "", (int)(row->end - row->off), b->disp.text + row->off);
}

static ui_block *make(int role, int width, const char *s, size_t chunk) {
    ui_block *b;
    if (ui_block_create(&b, role, width, 0)) return NULL;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += chunk) ui_block_append(b, s + i, i + chunk > n ? n - i : chunk);
    ui_block_finish(b);
    return b;
}

/* Style of the first occurrence of word in the display text. */
static int style_of(const ui_block *b, const char *word) {
    const char *p = strstr(b->disp.text, word);
    if (!p) return -1;
    return b->disp.spans[ui_disp_span_at(&b->disp, (size_t)(p - b->disp.text))].style;
}

static int same_layout(const ui_block *a, const ui_block *b) {
    if (a->disp.len != b->disp.len || memcmp(a->disp.text, b->disp.text, a->disp.len)) return 0;
    if (a->disp.n_lines != b->disp.n_lines || a->wrap.n != b->wrap.n) return 0;
    for (size_t i = 0; i < a->disp.n_lines; i++)
        if (a->disp.lines[i].off != b->disp.lines[i].off || a->disp.lines[i].kind != b->disp.lines[i].kind ||
            a->disp.lines[i].indent != b->disp.lines[i].indent || a->disp.lines[i].hang != b->disp.lines[i].hang)
            return 0;
    for (size_t i = 0; i < a->wrap.n; i++)
        if (a->wrap.rows[i].off != b->wrap.rows[i].off || a->wrap.rows[i].end != b->wrap.rows[i].end) return 0;
    /* styles compared per byte: spans may be split differently but must mean the same */
    for (size_t i = 0; i < a->disp.len; i++)
        if (a->disp.spans[ui_disp_span_at(&a->disp, i)].style != b->disp.spans[ui_disp_span_at(&b->disp, i)].style)
            return 0;
    return 1;
}

static int max_row_cells(const ui_block *b) {
    int m = 0;
    char t[4096];
    for (size_t r = 0; r < b->wrap.n; r++) {
        row_text(b, r, t, sizeof t);
        int w = ui_str_cells(t, strlen(t));
        if (w > m) m = w;
    }
    return m;
}

static const char doc[] =
    "# Heading one\n"
    "Some **bold** text, *italic* words and `inline *code*` here; snake_case_name and 2 * 3 * 4.\n"
    "\n"
    "## Second\n"
    "- a bullet item that is long enough to wrap around the narrow width we use\n"
    "  1. a numbered one\n"
    "> quoted _words_ here\n"
    "---\n"
    "```python\n"
    "def f(x):\n"
    "\treturn x * 2   # a comment long enough to wrap as code\n"
    "```\n"
    "漢字テスト😀 é e\xcc\x81 👩\u200d🚀 🇩🇪 and more words after the wide ones\n"
    "last line without newline";

int main(void) {
    char t[4096];
    (void)t_data;
    ui_locale_utf8();

    ui_block *b = make(UI_B_MODEL, 40, doc, 100000);
    T_CHECK(b != NULL, "layout: block built", "");
    T_CHECK(b->disp.lines[0].kind == UI_L_HEAD && style_of(b, "Heading") == UI_S_H1, "md: # is a header",
            "kind %d style %d", b->disp.lines[0].kind, style_of(b, "Heading"));
    T_CHECK(strstr(b->disp.text, "# Heading") == NULL && strstr(b->disp.text, "**") == NULL, "md: markers hidden", "%s",
            b->disp.text);
    T_CHECK(style_of(b, "bold") == (UI_S_MODEL | UI_BOLD), "md: **bold**", "%x", style_of(b, "bold"));
    T_CHECK(style_of(b, "italic") == (UI_S_MODEL | UI_ITALIC), "md: *italic*", "%x", style_of(b, "italic"));
    T_CHECK(style_of(b, "inline *code*") == UI_S_CODE, "md: `code` keeps its stars", "%x",
            style_of(b, "inline"));
    T_CHECK(strstr(b->disp.text, "snake_case_name") && style_of(b, "case") == UI_S_MODEL,
            "md: snake_case stays literal", "%x", style_of(b, "case"));
    T_CHECK(strstr(b->disp.text, "2 * 3 * 4") != NULL, "md: lone stars stay", "");
    T_CHECK(style_of(b, "Second") == UI_S_H2, "md: ## is a level-2 header", "%x", style_of(b, "Second"));
    const char *bullet = strstr(b->disp.text, "\xe2\x80\xa2 a bullet");
    T_CHECK(bullet && style_of(b, "\xe2\x80\xa2") == UI_S_BULLET, "md: - is a bullet", "");
    int kinds[8] = {0};
    for (size_t i = 0; i < b->disp.n_lines; i++) kinds[b->disp.lines[i].kind]++;
    T_CHECK(kinds[UI_L_LIST] == 2 && kinds[UI_L_QUOTE] == 1 && kinds[UI_L_HR] == 1 && kinds[UI_L_FENCE] == 1 &&
            kinds[UI_L_FENCE_END] == 1 && kinds[UI_L_CODE] == 2,
            "md: list, quote, rule, fence and code lines", "list %d quote %d hr %d fence %d end %d code %d",
            kinds[UI_L_LIST], kinds[UI_L_QUOTE], kinds[UI_L_HR], kinds[UI_L_FENCE], kinds[UI_L_FENCE_END],
            kinds[UI_L_CODE]);
    size_t fl = 0;
    while (fl < b->disp.n_lines && b->disp.lines[fl].kind != UI_L_FENCE) fl++;
    T_CHECK(fl < b->disp.n_lines && !strncmp(b->disp.text + b->disp.lines[fl].off, "python", 6),
            "md: the fence's language label", "");
    T_CHECK(style_of(b, "def f") == UI_S_CODEBLOCK && strstr(b->disp.text, "x * 2") != NULL,
            "md: code is verbatim", "%x", style_of(b, "def f"));
    T_CHECK(style_of(b, "words here") == (UI_S_QUOTE | UI_ITALIC), "md: _italic_ inside a quote", "%x",
            style_of(b, "words here"));
    const char *nested = strstr(b->disp.text, "1. a numbered");
    size_t ni = 0;
    while (ni + 1 < b->disp.n_lines && b->disp.lines[ni + 1].off <= (size_t)(nested - b->disp.text)) ni++;
    T_CHECK(nested && b->disp.lines[ni].indent == 2 && b->disp.lines[ni].hang == 5,
            "md: nested numbered item indents", "indent %d hang %d", b->disp.lines[ni].indent,
            b->disp.lines[ni].hang);
    T_CHECK(max_row_cells(b) <= 40, "wrap: no row wider than the pane", "%d", max_row_cells(b));

    /* Streaming must give exactly the layout of the whole text, however it is cut. */
    static const size_t chunks[] = {1, 2, 3, 5, 7, 64};
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        ui_block *s = make(UI_B_MODEL, 40, doc, chunks[c]);
        char name[64];
        snprintf(name, sizeof name, "stream: %zu-byte pieces lay out as the whole", chunks[c]);
        T_CHECK(s && same_layout(b, s), name, "");
        ui_block_free(s);
    }
    /* Resizing lays out from the logical text again. */
    ui_block_layout(b, 23, 0);
    T_CHECK(max_row_cells(b) <= 23 && b->wrap.width == 23, "resize: rows fit the new width", "%d",
            max_row_cells(b));
    ui_block *w23 = make(UI_B_MODEL, 23, doc, 100000);
    T_CHECK(w23 && same_layout(b, w23), "resize: same as built at that width", "");
    ui_block_free(w23);
    ui_block_layout(b, 40, 1);
    T_CHECK(strstr(b->disp.text, "**bold**") && strstr(b->disp.text, "# Heading"), "raw: markers shown", "");
    ui_block_free(b);

    /* Plain word wrap. */
    b = make(UI_B_MODEL, 10, "the quick brown fox jumps", 1);
    row_text(b, 0, t, sizeof t);
    int ok = b->wrap.n == 3 && !strcmp(t, "the quick");
    row_text(b, 1, t, sizeof t);
    ok = ok && !strcmp(t, "brown fox");
    row_text(b, 2, t, sizeof t);
    T_CHECK(ok && !strcmp(t, "jumps"), "wrap: at spaces", "%zu rows, last '%s'", b->wrap.n, t);
    ui_block_free(b);
    b = make(UI_B_MODEL, 8, "abcdefghijklmnopqrst", 3);
    row_text(b, 1, t, sizeof t);
    T_CHECK(b->wrap.n == 3 && !strcmp(t, "ijklmnop"), "wrap: a long word is cut", "%zu '%s'", b->wrap.n, t);
    ui_block_free(b);
    b = make(UI_B_MODEL, 5, "漢字漢字漢字", 1);
    row_text(b, 0, t, sizeof t);
    T_CHECK(b->wrap.n == 3 && !strcmp(t, "漢字"), "wrap: a wide char never splits across the edge", "%zu '%s'",
            b->wrap.n, t);
    ui_block_free(b);
    b = make(UI_B_MODEL, 12, "- one two three four five six", 2);
    row_text(b, 1, t, sizeof t);
    T_CHECK(b->wrap.n >= 2 && !strncmp(t, "  ", 2) && t[2] != ' ', "wrap: list items hang under their text",
            "'%s'", t);
    ui_block_free(b);
    b = make(UI_B_USER, 12, "a b c d e f g h i j k l m", 1);
    T_CHECK(b->wrap.width == 10, "wrap: user messages leave room for the prompt mark", "%d", b->wrap.width);
    ui_block_free(b);

    /* Streaming never rewrites a finished row: the cost of a token is the token (plus its word). */
    ui_block *g;
    ui_block_create(&g, UI_B_MODEL, 30, 0);
    int stable = 1;
    ui_row prev[64];
    size_t nprev = 0;
    const char *para = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";
    for (int rep = 0; rep < 6 && stable; rep++) {
        for (const char *p = para; *p && stable;) {
            size_t k = strlen(p) < 3 ? strlen(p) : 3;
            ui_block_append(g, p, k);
            p += k;
            for (size_t i = 0; i + 1 < nprev && i < g->wrap.n; i++)
                if (prev[i].off != g->wrap.rows[i].off || prev[i].end != g->wrap.rows[i].end) stable = 0;
            nprev = g->wrap.n < 64 ? g->wrap.n : 64;
            memcpy(prev, g->wrap.rows, nprev * sizeof *prev);
        }
    }
    T_CHECK(stable, "stream: rows above the open one never change", "");
    ui_block_free(g);

    /* A long reply in small pieces takes linear time (a re-layout per token would take minutes). */
    ui_block_create(&g, UI_B_MODEL, 80, 0);
    clock_t t0 = clock();
    size_t total = 0;
    while (total < 512 * 1024) {
        ui_block_append(g, "word ", 5);
        total += 5;
        if (total % 4000 == 0) ui_block_append(g, "\n**bold** `x` ", 14);
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    T_CHECK(secs < 3.0 && g->len >= total, "stream: 512 KB in 5-byte pieces in linear time", "%.2f s", secs);
    ui_block_free(g);

    /* Incomplete UTF-8 between pieces is held back, never shown as a broken character. */
    ui_block_create(&g, UI_B_MODEL, 40, 0);
    ui_block_append(g, "ok \xe6\xbc", 5);
    int held = g->disp.len == 3;
    ui_block_append(g, "\xa2", 1);
    T_CHECK(held && g->disp.len == 6 && !memcmp(g->disp.text + 3, "\xe6\xbc\xa2", 3),
            "stream: a split character waits for its last byte", "%zu", g->disp.len);
    ui_block_free(g);
    return t_exit();
}
