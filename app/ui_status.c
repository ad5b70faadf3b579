/* The status bar's text: model and sampling on the left; context, speed, state and autosave on the
 * right.  When the bar is too narrow, the least useful fields go first. */
#include <stdio.h>
#include <string.h>
#include "app/ui.h"

#define SEP " \xe2\x94\x82 "   /* " │ " */

static void sampling(const ui_status *s, char *out, size_t n) {
    if (s->temp <= 0) { snprintf(out, n, "greedy"); return; }
    size_t k = (size_t)snprintf(out, n, "T%.2g", s->temp);
    if (s->top_k > 0 && k < n) k += (size_t)snprintf(out + k, n - k, " k%d", s->top_k);
    if (s->top_p > 0 && s->top_p < 1 && k < n) k += (size_t)snprintf(out + k, n - k, " p%.2g", s->top_p);
    if (s->min_p > 0 && k < n) snprintf(out + k, n - k, " m%.2g", s->min_p);
}

static void state(const ui_status *s, char *out, size_t n) {
    if (s->state == UI_ST_GEN) { snprintf(out, n, "generating"); return; }
    if (s->state != UI_ST_PREFILL) { snprintf(out, n, "idle"); return; }
    int pct = s->prefill_total > 0 ? (int)(100.0 * s->prefill_done / s->prefill_total) : 0;
    if (s->eta_s >= 0) snprintf(out, n, "prefill %d%% \xc2\xb7 ETA %.0fs", pct, s->eta_s);
    else snprintf(out, n, "prefill %d%%", pct);
}

/* Joins the fields whose bit is set in `keep`. */
static size_t join(char *out, size_t n, char f[][160], int nf, unsigned keep) {
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < nf; i++) {
        if (!(keep & (1u << i)) || !f[i][0]) continue;
        k += (size_t)snprintf(out + k, n - k, "%s%s", k ? SEP : "", f[i]);
        if (k >= n) k = n - 1;
    }
    return k;
}

size_t ui_status_format(const ui_status *s, int width, char *out, size_t outlen, size_t *right) {
    enum { L_MODEL, L_SAMPLING, NL };
    enum { R_CTX, R_SPEED, R_STATE, R_SAVE, NR };
    char lf[NL][160], rf[NR][160], left[400], rt[400];
    if (s->notice && *s->notice) {
        snprintf(lf[L_MODEL], sizeof lf[0], "%s", s->notice);
        lf[L_SAMPLING][0] = 0;
    } else {
        snprintf(lf[L_MODEL], sizeof lf[0], "%s", s->model ? s->model : "gemma");
        sampling(s, lf[L_SAMPLING], sizeof lf[0]);
    }
    int pct = s->ctx_size > 0 ? (int)(100.0 * s->ctx_used / s->ctx_size + 0.5) : 0;
    snprintf(rf[R_CTX], sizeof rf[0], "ctx %d/%d (%d%%)", s->ctx_used, s->ctx_size, pct);
    if (s->tok_s >= 0) snprintf(rf[R_SPEED], sizeof rf[0], "%.1f tok/s", s->tok_s);
    else rf[R_SPEED][0] = 0;
    state(s, rf[R_STATE], sizeof rf[0]);
    snprintf(rf[R_SAVE], sizeof rf[0], "%s",
             s->saved == UI_SAVE_OK ? "saved" : s->saved == UI_SAVE_FAIL ? "save failed" : "");
    /* Fields dropped in this order until both sides fit (the state and the notice go last). */
    static const struct { int side, field; } drop[] = {
        {0, L_SAMPLING}, {1, R_SPEED}, {1, R_SAVE}, {0, L_MODEL}, {1, R_CTX},
    };
    unsigned lk = (1u << NL) - 1, rk = (1u << NR) - 1;
    if (s->notice && *s->notice) rk &= ~((1u << R_SPEED) | (1u << R_SAVE));
    size_t ln, rn;
    int lw, rw;
    for (size_t d = 0;; d++) {
        ln = join(left, sizeof left, lf, NL, lk);
        rn = join(rt, sizeof rt, rf, NR, rk);
        lw = ui_str_cells(left, ln);
        rw = ui_str_cells(rt, rn);
        if (lw + rw + 3 <= width || d == sizeof drop / sizeof *drop) break;
        if (s->notice && *s->notice && drop[d].side == 0) continue;
        if (drop[d].side == 0) lk &= ~(1u << drop[d].field); else rk &= ~(1u << drop[d].field);
    }
    /* Still too wide: cut the left part, then the right. */
    if (lw + rw + 3 > width) {
        int room = width - rw - 3;
        if (room < 0) { rn = ui_fit_cells(rt, rn, width > 2 ? width - 2 : 0, &rw); room = 0; }
        ln = ui_fit_cells(left, ln, room, &lw);
    }
    size_t k = 0;
    int pad = width - lw - rw - 2;
    if (width < 2) { if (outlen) out[0] = 0; *right = 0; return 0; }
    if (pad < 0) pad = 0;
    if (ln + rn + (size_t)pad + 3 > outlen) { if (outlen) out[0] = 0; *right = 0; return 0; }
    out[k++] = ' ';
    memcpy(out + k, left, ln);
    k += ln;
    memset(out + k, ' ', (size_t)pad);
    k += (size_t)pad;
    *right = k;
    memcpy(out + k, rt, rn);
    k += rn;
    out[k++] = ' ';
    out[k] = 0;
    return k;
}
