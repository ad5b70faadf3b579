/* Turns terminal input bytes into what the UI acts on itself (scroll keys, Ctrl-C, a bracketed
 * paste as one piece, Alt-Enter / Ctrl-J as a newline) and bytes it passes on to readline. */
#include <stdlib.h>
#include <string.h>
#include "app/ui.h"

#define PASTE_END "\x1b[201~"
#define SEQ_MAX 32

struct ui_keys {
    char seq[SEQ_MAX]; size_t nseq;    /* an escape sequence being read */
    int pasting;
    char *paste; size_t plen, pcap;
};

int ui_keys_create(ui_keys **out) {
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -1;
}

void ui_keys_free(ui_keys *k) {
    if (!k) return;
    free(k->paste);
    free(k);
}

int ui_keys_waiting(const ui_keys *k) { return k->nseq > 0; }

static const struct { const char *seq; int key; } seqs[] = {
    {"\x1b[5~", UI_K_PGUP}, {"\x1b[6~", UI_K_PGDN},
    {"\x1b[1~", UI_K_HOME}, {"\x1b[7~", UI_K_HOME}, {"\x1b[H", UI_K_HOME}, {"\x1bOH", UI_K_HOME},
    {"\x1b[4~", UI_K_END}, {"\x1b[8~", UI_K_END}, {"\x1b[F", UI_K_END}, {"\x1bOF", UI_K_END},
    {"\x1b[1;5H", UI_K_TOP}, {"\x1b[1;5F", UI_K_BOTTOM},
    {"\x1b[1;3D", UI_K_ALT_LEFT}, {"\x1b[1;3C", UI_K_ALT_RIGHT},
    {"\x1bOQ", UI_K_RAW}, {"\x1b[12~", UI_K_RAW},   /* F2 */
};

/* A sequence is complete: act on it or pass it on. */
static void seq_done(ui_keys *k, ui_key_fn fn, void *ud) {
    size_t n = k->nseq;
    k->nseq = 0;
    if (n == 6 && !memcmp(k->seq, "\x1b[200~", 6)) { k->pasting = 1; k->plen = 0; return; }
    if (n == 2 && (k->seq[1] == '\r' || k->seq[1] == '\n')) { fn(ud, UI_K_NEWLINE, NULL, 0); return; }
    if (n > 3 && k->seq[1] == '[' && k->seq[2] == '<') {   /* SGR mouse report (--mouse): only the wheel */
        int b = atoi(k->seq + 3);
        if (k->seq[n - 1] == 'M' && (b == 64 || b == 65)) fn(ud, b == 64 ? UI_K_WHEEL_UP : UI_K_WHEEL_DOWN, NULL, 0);
        return;
    }
    for (size_t i = 0; i < sizeof seqs / sizeof *seqs; i++)
        if (strlen(seqs[i].seq) == n && !memcmp(seqs[i].seq, k->seq, n)) { fn(ud, seqs[i].key, NULL, 0); return; }
    fn(ud, UI_K_BYTES, k->seq, n);
}

/* Adds one byte to an escape sequence. */
static void seq_byte(ui_keys *k, unsigned char c, ui_key_fn fn, void *ud) {
    k->seq[k->nseq++] = (char)c;
    if (k->nseq == 2) {
        if (c == '[' || c == 'O') return;
        if (c == 0x1b) { k->nseq = 1; fn(ud, UI_K_BYTES, "\x1b", 1); return; }
        seq_done(k, fn, ud);
        return;
    }
    if (k->seq[1] == 'O' || (c >= 0x40 && c <= 0x7e) || k->nseq == SEQ_MAX) seq_done(k, fn, ud);
}

static int paste_byte(ui_keys *k, char c, ui_key_fn fn, void *ud) {
    if (k->plen + 1 > k->pcap) {
        size_t cap = k->pcap ? k->pcap * 2 : 4096;
        char *q = realloc(k->paste, cap);
        if (!q) return -1;
        k->paste = q;
        k->pcap = cap;
    }
    k->paste[k->plen++] = c;
    size_t el = sizeof PASTE_END - 1;
    if (k->plen < el || memcmp(k->paste + k->plen - el, PASTE_END, el)) return 0;
    k->plen -= el;
    k->pasting = 0;
    /* Terminals send Enter as CR inside a paste (tmux turns LF into CR too): make them newlines. */
    size_t o = 0;
    for (size_t i = 0; i < k->plen; i++) {
        if (k->paste[i] == '\r') {
            k->paste[o++] = '\n';
            if (i + 1 < k->plen && k->paste[i + 1] == '\n') i++;
        } else {
            k->paste[o++] = k->paste[i];
        }
    }
    fn(ud, UI_K_PASTE, k->paste, o);
    return 0;
}

int ui_keys_feed(ui_keys *k, const char *s, size_t n, ui_key_fn fn, void *ud) {
    size_t run = 0;
#define FLUSH(i) do { if ((i) > run) fn(ud, UI_K_BYTES, s + run, (i) - run); } while (0)
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (k->pasting) {
            if (paste_byte(k, (char)c, fn, ud)) return -1;
            run = i + 1;
            continue;
        }
        if (k->nseq) {
            seq_byte(k, c, fn, ud);
            run = i + 1;
            continue;
        }
        int key = c == 0x03 ? UI_K_INTR : c == 0x0a ? UI_K_NEWLINE : c == 0x14 ? UI_K_FOLD
                : c == 0x0c ? UI_K_REDRAW : c == 0x1a ? UI_K_SUSPEND : -1;
        if (key < 0 && c != 0x1b) continue;
        FLUSH(i);
        run = i + 1;
        if (c == 0x1b) { k->seq[0] = (char)c; k->nseq = 1; }
        else fn(ud, key, NULL, 0);
    }
    FLUSH(n);
#undef FLUSH
    return 0;
}

void ui_keys_timeout(ui_keys *k, ui_key_fn fn, void *ud) {
    if (!k->nseq) return;
    size_t n = k->nseq;
    k->nseq = 0;
    fn(ud, UI_K_BYTES, k->seq, n);
}
