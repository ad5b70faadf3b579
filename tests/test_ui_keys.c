/* ui_keys: terminal bytes into keys the UI handles and bytes for readline. */
#include "tests/t.h"
#include "app/ui.h"

typedef struct { int key[64]; char data[64][256]; size_t len[64]; int n; } events;

static void ev(void *ud, int key, const char *s, size_t n) {
    events *e = ud;
    if (e->n == 64) return;
    /* consecutive byte runs are one event for the test's purpose */
    if (key == UI_K_BYTES && e->n && e->key[e->n - 1] == UI_K_BYTES && e->len[e->n - 1] + n < 256) {
        memcpy(e->data[e->n - 1] + e->len[e->n - 1], s, n);
        e->len[e->n - 1] += n;
        return;
    }
    e->key[e->n] = key;
    e->len[e->n] = n < 255 ? n : 255;
    if (s) memcpy(e->data[e->n], s, e->len[e->n]);
    e->n++;
}

typedef struct { int n; size_t len; } big_paste;

static void count_paste(void *ud, int key, const char *s, size_t n) {
    big_paste *b = ud;
    (void)s;
    if (key == UI_K_PASTE) { b->n++; b->len = n; }
}

static events feed(const char *s, size_t n, size_t piece) {
    events e;
    memset(&e, 0, sizeof e);
    ui_keys *k;
    ui_keys_create(&k);
    for (size_t i = 0; i < n; i += piece) ui_keys_feed(k, s + i, i + piece > n ? n - i : piece, ev, &e);
    ui_keys_timeout(k, ev, &e);
    ui_keys_free(k);
    return e;
}

int main(void) {
    (void)t_data;
    for (size_t piece = 1; piece <= 64; piece *= 8) {
        char name[96];
        const char in[] = "ab\x03\x1b[5~\x1b[6~\x1b[A\x1b\r\ncd\x1b[200~l1\rl2\r\nl3\x1b[201~\x1b[1;5H\x14\x1b" "b";
        events e = feed(in, sizeof in - 1, piece);
        static const int want[] = {UI_K_BYTES, UI_K_INTR, UI_K_PGUP, UI_K_PGDN, UI_K_BYTES, UI_K_NEWLINE,
                                   UI_K_NEWLINE, UI_K_BYTES, UI_K_PASTE, UI_K_TOP, UI_K_FOLD, UI_K_BYTES};
        int ok = e.n == (int)(sizeof want / sizeof *want);
        for (int i = 0; ok && i < e.n; i++) ok = e.key[i] == want[i];
        snprintf(name, sizeof name, "keys: decoded in %zu-byte reads", piece);
        T_CHECK(ok, name, "%d events", e.n);
        snprintf(name, sizeof name, "keys: arrows pass to readline (%zu-byte reads)", piece);
        T_CHECK(ok && e.len[4] == 3 && !memcmp(e.data[4], "\x1b[A", 3), name, "");
        snprintf(name, sizeof name, "paste: one piece, CR and CRLF as LF (%zu-byte reads)", piece);
        T_CHECK(ok && e.len[8] == 8 && !memcmp(e.data[8], "l1\nl2\nl3", 8), name, "'%.*s'", (int)e.len[8], e.data[8]);
        snprintf(name, sizeof name, "keys: Alt-b goes to readline whole (%zu-byte reads)", piece);
        T_CHECK(ok && e.len[11] == 2 && !memcmp(e.data[11], "\x1b" "b", 2), name, "");
    }
    static const char mouse[] = "\x1b[<64;10;5M\x1b[<0;3;4M\x1b[<65;10;5M";
    events e = feed(mouse, sizeof mouse - 1, 5);
    T_CHECK(e.n == 2 && e.key[0] == UI_K_WHEEL_UP && e.key[1] == UI_K_WHEEL_DOWN,
            "mouse: wheel reports scroll, clicks are dropped", "%d events", e.n);
    e = feed("\x1b", 1, 1);
    T_CHECK(e.n == 1 && e.key[0] == UI_K_BYTES && e.len[0] == 1, "keys: a lone ESC after the wait", "%d", e.n);
    static const char he[] = "\x1b[1~\x1b[4~\x1bOH\x1bOF\x1b[H\x1b[F";
    e = feed(he, sizeof he - 1, 3);
    int hk = e.n == 6;
    for (int i = 0; hk && i < 6; i++) hk = e.key[i] == (i % 2 ? UI_K_END : UI_K_HOME);
    T_CHECK(hk, "keys: Home and End in their usual spellings", "%d", e.n);
    /* a 10 KB paste of 128 lines arrives as one piece, the full size */
    static char big[16384];
    size_t o = 0;
    o += (size_t)sprintf(big, "\x1b[200~");
    for (int l = 0; l < 128; l++) { memset(big + o, 'a' + l % 26, 79); o += 79; big[o++] = '\r'; }
    o += (size_t)sprintf(big + o, "\x1b[201~");
    ui_keys *k;
    ui_keys_create(&k);
    big_paste bp = {0, 0};
    for (size_t i = 0; i < o; i += 1000) ui_keys_feed(k, big + i, i + 1000 > o ? o - i : 1000, count_paste, &bp);
    ui_keys_free(k);
    int pastes = bp.n;
    T_CHECK(pastes == 1 && bp.len == 128 * 80, "paste: 128 lines in 1000-byte reads are one 10240-byte paste",
            "%d pastes, %zu bytes", pastes, bp.len);
    return t_exit();
}
