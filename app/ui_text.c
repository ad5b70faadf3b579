/* UTF-8 decoding and on-screen cell widths.  Widths come from wcwidth, the source ncurses and the
 * terminal use, except where we change what is drawn so that all three agree: U+200D is dropped (a
 * ZWJ sequence is drawn as its components, P4), control characters become ^X, a tab four spaces, and
 * bytes that are not UTF-8 or code points wcwidth cannot measure a '?'. */
#include <langinfo.h>
#include <locale.h>
#include <string.h>
#include <wchar.h>
#include "app/ui.h"

int ui_locale_utf8(void) {
    const char *try[] = {"", "C.UTF-8", "C.utf8", "en_US.UTF-8"};
    for (size_t i = 0; i < sizeof try / sizeof *try; i++) {
        if (!setlocale(LC_CTYPE, try[i])) continue;
        const char *cs = nl_langinfo(CODESET);
        if (cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"))) return 0;
    }
    return -1;
}

int ui_utf8_next(const char *s, size_t n, int32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    *cp = -1;
    if (n == 0) return 0;
    if (u[0] < 0x80) { *cp = u[0]; return 1; }
    int len; int32_t c, min;
    if ((u[0] & 0xE0) == 0xC0) { len = 2; c = u[0] & 0x1F; min = 0x80; }
    else if ((u[0] & 0xF0) == 0xE0) { len = 3; c = u[0] & 0x0F; min = 0x800; }
    else if ((u[0] & 0xF8) == 0xF0) { len = 4; c = u[0] & 0x07; min = 0x10000; }
    else return 1;
    if ((size_t)len > n) return 1;
    for (int i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80) return 1;
        c = (c << 6) | (u[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 1;
    *cp = c;
    return len;
}

size_t ui_cp_display(int32_t cp, char out[8]) {
    if (cp == 0x200D) return 0;
    if (cp == '\t') { memcpy(out, "    ", 4); return 4; }
    if ((cp >= 0 && cp < 0x20) || cp == 0x7F) { out[0] = '^'; out[1] = (char)(cp ^ 0x40); return 2; }
    if (cp < 0 || (cp >= 0x80 && cp < 0xA0) || wcwidth((wchar_t)cp) < 0) { out[0] = '?'; return 1; }
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t k = wcrtomb(out, (wchar_t)cp, &st);
    if (k == (size_t)-1) { out[0] = '?'; return 1; }
    return k;
}

int ui_cp_cells(int32_t cp) {
    if (cp == 0x200D) return 0;
    if (cp == '\t') return 4;
    if ((cp >= 0 && cp < 0x20) || cp == 0x7F) return 2;
    if (cp < 0 || (cp >= 0x80 && cp < 0xA0)) return 1;
    int w = wcwidth((wchar_t)cp);
    return w < 0 ? 1 : w;
}

int ui_str_cells(const char *s, size_t n) {
    int w = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += (size_t)ui_utf8_next(s + i, n - i, &cp);
        w += ui_cp_cells(cp);
    }
    return w;
}

size_t ui_fit_cells(const char *s, size_t n, int cells, int *used) {
    int w = 0;
    size_t i = 0;
    while (i < n) {
        int32_t cp;
        int k = ui_utf8_next(s + i, n - i, &cp);
        int cw = ui_cp_cells(cp);
        if (w + cw > cells) break;
        w += cw;
        i += (size_t)k;
    }
    if (used) *used = w;
    return i;
}
