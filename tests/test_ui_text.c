/* ui_text: UTF-8 decoding and the cell widths the screen uses (wcwidth, ZWJ dropped, controls). */
#include "tests/t.h"
#include "app/ui.h"

static int cells(const char *s) { return ui_str_cells(s, strlen(s)); }

int main(void) {
    (void)t_data;
    T_CHECK(ui_locale_utf8() == 0, "text: a UTF-8 locale is available", "no UTF-8 locale");
    int32_t cp;
    T_CHECK(ui_utf8_next("A", 1, &cp) == 1 && cp == 'A', "utf8: ASCII", "cp %d", cp);
    T_CHECK(ui_utf8_next("\xc3\xa9", 2, &cp) == 2 && cp == 0xE9, "utf8: two bytes", "cp %x", cp);
    T_CHECK(ui_utf8_next("\xe6\xbc\xa2", 3, &cp) == 3 && cp == 0x6F22, "utf8: three bytes", "cp %x", cp);
    T_CHECK(ui_utf8_next("\xf0\x9f\x98\x80", 4, &cp) == 4 && cp == 0x1F600, "utf8: four bytes", "cp %x", cp);
    T_CHECK(ui_utf8_next("\xc0\x80", 2, &cp) == 1 && cp == -1, "utf8: overlong refused", "cp %x", cp);
    T_CHECK(ui_utf8_next("\xed\xa0\x80", 3, &cp) == 1 && cp == -1, "utf8: surrogate refused", "cp %x", cp);
    T_CHECK(ui_utf8_next("\xe6\xbc", 2, &cp) == 1 && cp == -1, "utf8: truncated refused", "cp %x", cp);
    T_CHECK(ui_utf8_next("\x80", 1, &cp) == 1 && cp == -1, "utf8: stray continuation", "cp %x", cp);

    T_CHECK(cells("abc") == 3, "cells: ASCII", "%d", cells("abc"));
    T_CHECK(cells("漢字テスト") == 10, "cells: CJK two each", "%d", cells("漢字テスト"));
    T_CHECK(cells("😀") == 2, "cells: emoji two", "%d", cells("😀"));
    T_CHECK(cells("e\xcc\x81") == 1, "cells: combining mark zero", "%d", cells("e\xcc\x81"));
    /* P4: drawn without the joiner, the components take 2 + 2 cells, as ncurses counts */
    T_CHECK(cells("👩\u200d🚀") == 4, "cells: ZWJ sequence as its components", "%d", cells("👩\u200d🚀"));
    T_CHECK(cells("🇩🇪") == 2, "cells: flag", "%d", cells("🇩🇪"));
    T_CHECK(cells("\t") == 4 && cells("\x01") == 2 && cells("\x7f") == 2, "cells: tab and controls",
            "%d %d", cells("\t"), cells("\x01"));
    T_CHECK(cells("\xff") == 1, "cells: a bad byte is one '?'", "%d", cells("\xff"));

    char out[8];
    T_CHECK(ui_cp_display(0x200D, out) == 0, "display: ZWJ is not drawn", "");
    size_t k = ui_cp_display(1, out);
    T_CHECK(k == 2 && !memcmp(out, "^A", 2), "display: control as ^A", "%zu", k);
    k = ui_cp_display(-1, out);
    T_CHECK(k == 1 && out[0] == '?', "display: bad byte as '?' (never U+FFFD)", "%zu", k);
    k = ui_cp_display(0x6F22, out);
    T_CHECK(k == 3 && !memcmp(out, "\xe6\xbc\xa2", 3), "display: a character as itself", "%zu", k);
    /* every code point's drawn bytes measure what ui_cp_cells says */
    int bad = 0;
    for (int32_t c = 0; c < 0x20000 && !bad; c += 7) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        k = ui_cp_display(c, out);
        if (ui_str_cells(out, k) != ui_cp_cells(c)) bad = c;
    }
    T_CHECK(!bad, "display: drawn bytes have the counted width", "U+%04X", (unsigned)bad);

    int used;
    size_t f = ui_fit_cells("漢字テスト", strlen("漢字テスト"), 5, &used);
    T_CHECK(f == 6 && used == 4, "fit: a wide char that would pass the edge stays out", "%zu %d", f, used);
    f = ui_fit_cells("ae\xcc\x81x", 5, 2, &used);
    T_CHECK(f == 4 && used == 2, "fit: combining mark goes with its base", "%zu %d", f, used);
    return t_exit();
}
