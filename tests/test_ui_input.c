/* ui_inline + ui_hist: the input line as shown (paste collapse, rows, cursor) and the history file. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/t.h"
#include "app/ui.h"

typedef struct { char *e[2000]; int n; } entries;
static void collect(void *ud, const char *s) {
    entries *e = ud;
    if (e->n < 2000) e->e[e->n++] = strdup(s);
}

int main(void) {
    (void)t_data;
    ui_locale_utf8();
    char lab[64];
    static char paste[128 * 80 + 1];
    for (int l = 0; l < 128; l++) { memset(paste + l * 80, 'x', 79); paste[l * 80 + 79] = '\n'; }
    ui_paste_label(paste, 10240, lab, sizeof lab);
    T_CHECK(!strcmp(lab, "[pasted 128 lines, 10.0 KB]"), "paste: label", "%s", lab);
    T_CHECK(ui_paste_collapses(paste, 10240) && ui_paste_collapses("a\nb\nc\nd\ne\nf\ng\nh", 15) &&
            !ui_paste_collapses("short", 5), "paste: collapses from 8 lines or 1000 bytes", "");

    /* the buffer "ab" + paste + "cd" shows the placeholder; cursor mapped around it */
    size_t n = 2 + 10240 + 2, dlen, dp;
    char *buf = malloc(n + 1);
    memcpy(buf, "ab", 2);
    memcpy(buf + 2, paste, 10240);
    memcpy(buf + 10242, "cd", 3);
    ui_paste ps = {paste, 10240};
    char *d = ui_input_display(buf, n, n, &ps, 1, &dlen, &dp);
    T_CHECK(d && !strcmp(d, "ab[pasted 128 lines, 10.0 KB]cd") && dp == dlen,
            "paste: shown collapsed, cursor at the end",
            "'%s' %zu/%zu", d, dp, dlen);
    free(d);
    d = ui_input_display(buf, n, 1, &ps, 1, &dlen, &dp);
    T_CHECK(d && dp == 1, "paste: cursor before it", "%zu", dp);
    free(d);
    d = ui_input_display(buf, n, 500, &ps, 1, &dlen, &dp);
    T_CHECK(d && dp == 2 + strlen(lab), "paste: cursor inside it sits after the placeholder", "%zu", dp);
    free(d);
    buf[100] = 'Y';   /* edited: no longer the paste, shown in full */
    d = ui_input_display(buf, n, 0, &ps, 1, &dlen, &dp);
    T_CHECK(d && dlen == n, "paste: an edited paste is shown in full", "%zu", dlen);
    free(d);
    free(buf);

    /* a small collapsed paste there three times: each occurrence shown as its (longer) label */
    const char *eight = "a\nb\nc\nd\ne\nf\ng\nh";
    char three[64];
    snprintf(three, sizeof three, "%s%s%s", eight, eight, eight);
    ui_paste small = {(char *)eight, strlen(eight)};
    d = ui_input_display(three, strlen(three), 0, &small, 1, &dlen, &dp);
    T_CHECK(d && dlen == 3 * strlen("[pasted 8 lines, 15 B]") && dlen > strlen(three),
            "paste: repeated small pastes all collapse", "'%s'", d ? d : "");
    free(d);

    /* rows and the cursor */
    size_t st[16];
    int cr, cc;
    const char *s = "abc\ndefgh";
    int rows = ui_input_rows(s, strlen(s), strlen(s), 10, st, 16, &cr, &cc);
    T_CHECK(rows == 2 && st[1] == 4 && cr == 1 && cc == 5, "rows: a newline starts a row", "%d %zu %d,%d", rows,
            st[1], cr, cc);
    s = "漢字テスト😀 é";
    int expect[] = {0, 2, 4, 6, 8, 10, 12, 13, 14};
    size_t off = 0;
    int ok = 1;
    for (int i = 0; i < 9; i++) {
        ui_input_rows(s, strlen(s), off, 40, st, 16, &cr, &cc);
        if (cc != expect[i] || cr != 0) ok = 0;
        int32_t cp;
        off += (size_t)ui_utf8_next(s + off, strlen(s) - off, &cp);
    }
    T_CHECK(ok, "rows: cursor cell after each wide character", "");
    s = "abcdefghij";
    rows = ui_input_rows(s, 10, 10, 5, st, 16, &cr, &cc);
    T_CHECK(rows == 3 && cr == 2 && cc == 0, "rows: a cursor past a full row starts the next", "%d %d,%d", rows,
            cr, cc);
    s = "ab漢字";
    rows = ui_input_rows(s, strlen(s), 0, 5, st, 16, &cr, &cc);
    T_CHECK(rows == 2 && st[1] == 5, "rows: a wide char that does not fit moves down", "%d %zu", rows, st[1]);

    /* history: multi-line entries survive, the file is private, the size is capped */
    char dir[] = "/tmp/gc_hist_XXXXXX", path[256], err[512];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/state/gemmachat/history", dir);
    int rc = ui_hist_append(path, "first", err, sizeof err);
    rc |= ui_hist_append(path, "two\nlines \\n literal", err, sizeof err);
    rc |= ui_hist_append(path, paste, err, sizeof err);
    T_CHECK(rc == 0, "history: appended", "%s", err);
    struct stat sb;
    T_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "history: mode 0600", "%o", sb.st_mode & 0777);
    entries e = {.n = 0};
    rc = ui_hist_load(path, collect, &e, err, sizeof err);
    T_CHECK(rc == 0 && e.n == 3 && !strcmp(e.e[0], "first") && !strcmp(e.e[1], "two\nlines \\n literal") &&
            !strcmp(e.e[2], paste), "history: entries come back whole", "rc %d n %d", rc, e.n);
    for (int i = 0; i < e.n; i++) free(e.e[i]);
    for (int i = 0; i < UI_HIST_MAX_ENTRIES + 50; i++) {
        char l[32];
        snprintf(l, sizeof l, "entry %d", i);
        ui_hist_append(path, l, err, sizeof err);
    }
    e.n = 0;
    ui_hist_load(path, collect, &e, err, sizeof err);
    T_CHECK(e.n == UI_HIST_MAX_ENTRIES && !strcmp(e.e[e.n - 1], "entry 1049"), "history: trimmed to the newest",
            "%d '%s'", e.n, e.n ? e.e[e.n - 1] : "");
    for (int i = 0; i < e.n; i++) free(e.e[i]);
    e.n = 0;
    ui_hist_load(path, collect, &e, err, sizeof err);
    T_CHECK(e.n == UI_HIST_MAX_ENTRIES && stat(path, &sb) == 0 && sb.st_size < UI_HIST_MAX_BYTES &&
            (sb.st_mode & 0777) == 0600, "history: the trimmed file stays private and small", "%d", e.n);
    for (int i = 0; i < e.n; i++) free(e.e[i]);
    unlink(path);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/state/gemmachat", dir);
    rmdir(sub);
    snprintf(sub, sizeof sub, "%s/state", dir);
    rmdir(sub);
    rmdir(dir);
    setenv("XDG_STATE_HOME", "/x/state", 1);
    ui_hist_path(path, sizeof path);
    T_CHECK(!strcmp(path, "/x/state/gemmachat/history"), "history: under $XDG_STATE_HOME", "%s", path);
    unsetenv("XDG_STATE_HOME");
    setenv("HOME", "/home/u", 1);
    ui_hist_path(path, sizeof path);
    T_CHECK(!strcmp(path, "/home/u/.local/state/gemmachat/history"), "history: default ~/.local/state", "%s", path);
    return t_exit();
}
