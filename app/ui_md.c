/* Light Markdown for a streaming reply.  Bytes go in as they arrive; each is decided once, left to
 * right, so the display text only ever grows and a re-layout from the logical text gives the same
 * result.  Undecided bytes wait in a small buffer: the start of a line until its kind is known (a
 * fence or rule needs the whole line), a '*', '_' until the character after it arrives. */
#include <stdlib.h>
#include <string.h>
#include "app/ui.h"

#define MD_DECIDE_MAX 256   /* a line start this long without a newline is decided as text */

struct ui_md {
    int base, raw;
    char *pend; size_t plen, pcap, rd;
    int started;          /* the current line's kind is decided */
    int verbatim;         /* code line (or raw view): no inline markup */
    int line_style;       /* style of plain text on this line */
    int in_fence; char fence_ch; int fence_len;
    int bold, italic_star, italic_us, code;
    int32_t prev;         /* previous code point on this line, 0 at its start */
};

int ui_md_create(ui_md **out, int base_style, int raw) {
    ui_md *m = calloc(1, sizeof *m);
    if (!m) return -1;
    m->base = base_style;
    m->raw = raw;
    *out = m;
    return 0;
}

void ui_md_free(ui_md *m) {
    if (!m) return;
    free(m->pend);
    free(m);
}

void ui_md_reset(ui_md *m, int raw) {
    m->plen = m->rd = 0;
    m->raw = raw;
    m->started = m->verbatim = m->in_fence = 0;
    m->bold = m->italic_star = m->italic_us = m->code = 0;
    m->prev = 0;
}

static int is_space(int32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == 0; }
static int is_punct(int32_t c) {
    return c > 0 && c < 128 && !is_space(c) && !((c | 32) >= 'a' && (c | 32) <= 'z') && !(c >= '0' && c <= '9');
}
/* '_' emphasis only at word edges, so snake_case_names stay as they are. */
static int us_closes(int32_t prev, int32_t next) {
    return !is_space(prev) && prev != '_' && (is_space(next) || (is_punct(next) && next != '_'));
}
static int us_opens(int32_t prev, int32_t next) {
    return !is_space(next) && next != '_' && (is_space(prev) || (is_punct(prev) && prev != '_'));
}

static int inline_style(const ui_md *m) {
    if (m->code) return UI_S_CODE;
    return m->line_style | (m->bold ? UI_BOLD : 0) | (m->italic_star || m->italic_us ? UI_ITALIC : 0);
}

static int begin_line(ui_md *m, ui_disp *d, int kind, int indent, int hang, int style, int verbatim) {
    m->started = 1;
    m->verbatim = verbatim;
    m->line_style = style;
    m->bold = m->italic_star = m->italic_us = m->code = 0;
    m->prev = 0;
    return ui_disp_line(d, kind, indent, hang);
}

/* All of s[0..n) is character c. */
static int all_of(const char *s, size_t n, char c) {
    for (size_t i = 0; i < n; i++) if (s[i] != c) return 0;
    return 1;
}

/* Decides the kind of a line from its first bytes L[0..n).  eol: the whole line is there.
 * Returns bytes consumed (the markup hidden by the decision), or -1 to wait for more. */
static long line_start(ui_md *m, ui_disp *d, const char *L, size_t n, int eol) {
    if (m->raw) return begin_line(m, d, UI_L_PARA, 0, 0, m->base, 1) ? -2 : 0;
    if (!eol && n >= MD_DECIDE_MAX) eol = 1;   /* too long to be markup we wait for */
    size_t sp = 0;
    while (sp < n && L[sp] == ' ') sp++;
    const char *r = L + sp;
    size_t rn = n - sp;
    if (m->in_fence) {
        size_t k = 0;
        while (k < rn && r[k] == m->fence_ch) k++;
        if (sp <= 3 && k == rn && k < (size_t)m->fence_len && !eol) return -1;
        if (sp <= 3 && k >= (size_t)m->fence_len) {
            size_t t = k;
            while (t < rn && r[t] == ' ') t++;
            if (t == rn && !eol) return -1;
            if (t == rn) {
                m->in_fence = 0;
                return begin_line(m, d, UI_L_FENCE_END, 0, 0, UI_S_FENCE, 1) ? -2 : (long)n;
            }
        }
        return begin_line(m, d, UI_L_CODE, 2, 2, UI_S_CODEBLOCK, 1) ? -2 : 0;
    }
    if (rn == 0) return eol ? (begin_line(m, d, UI_L_PARA, 0, 0, m->base, 0) ? -2 : (long)n) : -1;
    char c0 = r[0];
    if (c0 == '`' || c0 == '~') {
        size_t k = 0;
        while (k < rn && r[k] == c0) k++;
        if (k == rn && k < 3 && !eol) return -1;
        if (k >= 3) {
            if (!eol) return -1;
            const char *info = r + k;
            size_t in = rn - k;
            while (in && *info == ' ') { info++; in--; }
            while (in && info[in - 1] == ' ') in--;
            if (!(c0 == '`' && memchr(info, '`', in))) {
                m->in_fence = 1;
                m->fence_ch = c0;
                m->fence_len = (int)k;
                if (begin_line(m, d, UI_L_FENCE, 0, 0, UI_S_FENCE, 1)) return -2;
                return ui_disp_add(d, info, in, UI_S_FENCE) ? -2 : (long)n;
            }
        }
    }
    if (c0 == '#') {
        size_t h = 0;
        while (h < rn && r[h] == '#') h++;
        if (h == rn && h <= 6 && !eol) return -1;
        if (h <= 6 && h < rn && r[h] == ' ') {
            size_t skip = sp + h;
            while (skip < n && L[skip] == ' ') skip++;
            int st = h == 1 ? UI_S_H1 : h == 2 ? UI_S_H2 : UI_S_H3;
            return begin_line(m, d, UI_L_HEAD, 0, 0, st, 0) ? -2 : (long)skip;
        }
    }
    if (c0 == '-' || c0 == '*' || c0 == '_' || c0 == '+') {
        if (rn == 1 && !eol) return -1;
        if (c0 != '+' && all_of(r, rn, c0)) {
            if (!eol) return -1;
            if (rn >= 3) return begin_line(m, d, UI_L_HR, 0, 0, UI_S_HR, 1) ? -2 : (long)n;
        }
        if (c0 != '_' && rn >= 2 && r[1] == ' ') {
            if (begin_line(m, d, UI_L_LIST, (int)sp, (int)sp + 2, m->base, 0)) return -2;
            return ui_disp_add(d, "\xe2\x80\xa2 ", 4, UI_S_BULLET) ? -2 : (long)(sp + 2);
        }
    }
    if (c0 >= '0' && c0 <= '9') {
        size_t k = 0;
        while (k < rn && k < 10 && r[k] >= '0' && r[k] <= '9') k++;
        if (k < 10) {
            if (!eol && (k == rn || (k + 1 == rn && (r[k] == '.' || r[k] == ')')))) return -1;
            if (k + 1 < rn && (r[k] == '.' || r[k] == ')') && r[k + 1] == ' ') {
                if (begin_line(m, d, UI_L_LIST, (int)sp, (int)(sp + k + 2), m->base, 0)) return -2;
                return ui_disp_add(d, r, k + 2, UI_S_BULLET) ? -2 : (long)(sp + k + 2);
            }
        }
    }
    if (c0 == '>') {
        if (rn == 1 && !eol) return -1;
        if (rn == 1 || r[1] == ' ') {
            if (begin_line(m, d, UI_L_QUOTE, 2, 2, UI_S_QUOTE, 0)) return -2;
            return (long)(sp + (rn == 1 ? 1 : 2));
        }
    }
    return begin_line(m, d, UI_L_PARA, 0, 0, m->base, 0) ? -2 : 0;
}

/* Emits text of a decided line up to the next newline; stops before a marker whose meaning depends on
 * a character that has not arrived.  Returns bytes consumed or -2 on allocation failure. */
static long line_text(ui_md *m, ui_disp *d, const char *s, size_t n, int fin) {
    size_t i = 0, run = 0;
#define FLUSH() do { if (i > run && ui_disp_add(d, s + run, i - run, inline_style(m))) return -2; } while (0)
    while (i < n && s[i] != '\n') {
        char c = s[i];
        if (m->verbatim || (m->code && c != '`') || (c != '`' && c != '*' && c != '_')) {
            unsigned char b = (unsigned char)c;
            size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            if (!fin && need > n - i) break;   /* the rest of this character has not arrived */
            int32_t cp;
            i += (size_t)ui_utf8_next(s + i, n - i, &cp);
            m->prev = cp;
            continue;
        }
        FLUSH();
        if (c == '`') {
            m->code = !m->code;
            m->prev = c;
            run = ++i;
            continue;
        }
        if (i + 1 >= n && !fin) { run = i; return (long)i; }
        int32_t next = i + 1 < n ? (unsigned char)s[i + 1] : 0;
        if (next == '\n') next = 0;
        if (c == '*' && next == '*') {
            m->bold = !m->bold;
            m->prev = c;
            run = i += 2;
            continue;
        }
        int toggled = 0;
        if (c == '*') {
            if (m->italic_star && !is_space(m->prev)) { m->italic_star = 0; toggled = 1; }
            else if (!m->italic_star && !is_space(next) && (is_space(m->prev) || is_punct(m->prev))) {
                m->italic_star = 1;
                toggled = 1;
            }
        } else {
            if (m->italic_us && us_closes(m->prev, next)) {
                m->italic_us = 0;
                toggled = 1;
            } else if (!m->italic_us && us_opens(m->prev, next)) {
                m->italic_us = 1;
                toggled = 1;
            }
        }
        m->prev = c;
        if (toggled) run = ++i; else { run = i; i++; }
    }
    FLUSH();
#undef FLUSH
    return (long)i;
}

static int step_all(ui_md *m, ui_disp *d, int fin) {
    for (;;) {
        const char *p = m->pend + m->rd;
        size_t n = m->plen - m->rd;
        if (n == 0) break;
        long k;
        if (!m->started) {
            const char *nl = memchr(p, '\n', n);
            size_t ln = nl ? (size_t)(nl - p) : n;
            k = line_start(m, d, p, ln, nl != NULL || fin);
            if (k == -1) break;
        } else if (p[0] == '\n') {
            m->started = 0;
            k = 1;
        } else {
            k = line_text(m, d, p, n, fin);
            if (k == 0) break;
        }
        if (k < 0) return -1;
        m->rd += (size_t)k;
    }
    if (m->rd == m->plen) m->rd = m->plen = 0;
    return 0;
}

int ui_md_push(ui_md *m, ui_disp *d, const char *s, size_t n) {
    if (m->rd > 0 && m->rd * 2 >= m->plen) {
        memmove(m->pend, m->pend + m->rd, m->plen - m->rd);
        m->plen -= m->rd;
        m->rd = 0;
    }
    if (m->plen + n > m->pcap) {
        size_t c = m->pcap ? m->pcap : 256;
        while (c < m->plen + n) c *= 2;
        char *q = realloc(m->pend, c);
        if (!q) return -1;
        m->pend = q;
        m->pcap = c;
    }
    memcpy(m->pend + m->plen, s, n);
    m->plen += n;
    return step_all(m, d, 0);
}

int ui_md_finish(ui_md *m, ui_disp *d) {
    return step_all(m, d, 1);
}
