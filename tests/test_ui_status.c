/* ui_status: the status bar's fields, and that it fills exactly its width at any width. */
#include "tests/t.h"
#include "app/ui.h"

int main(void) {
    (void)t_data;
    ui_locale_utf8();
    ui_status s;
    memset(&s, 0, sizeof s);
    s.model = "gemma-4-e2b";
    s.temp = 0.7;
    s.top_k = 64;
    s.top_p = 0.95;
    s.ctx_used = 312;
    s.ctx_size = 2048;
    s.tok_s = 42.13;
    s.eta_s = -1;
    s.saved = UI_SAVE_OK;
    char b[1024];
    size_t right, n = ui_status_format(&s, 100, b, sizeof b, &right);
    T_CHECK(ui_str_cells(b, n) == 100, "status: exactly the width", "%d", ui_str_cells(b, n));
    T_CHECK(strstr(b, "gemma-4-e2b") && strstr(b, "T0.7 k64 p0.95") && strstr(b, "ctx 312/2048 (15%)") &&
            strstr(b, "42.1 tok/s") && strstr(b, "idle") && strstr(b, "saved"), "status: every field", "%s", b);
    T_CHECK(strstr(b + right, "ctx") == b + right, "status: the right part starts with the context", "%s",
            b + right);
    s.state = UI_ST_PREFILL;
    s.prefill_done = 37;
    s.prefill_total = 100;
    s.eta_s = 44.2;
    ui_status_format(&s, 100, b, sizeof b, &right);
    T_CHECK(strstr(b, "prefill 37% \xc2\xb7 ETA 44s") != NULL, "status: prefill with percent and ETA", "%s", b);
    s.state = UI_ST_GEN;
    s.temp = 0;
    ui_status_format(&s, 100, b, sizeof b, &right);
    T_CHECK(strstr(b, "generating") && strstr(b, "greedy"), "status: generating, greedy", "%s", b);
    int exact = 1, state_kept = 1;
    for (int w = 2; w <= 160; w++) {
        n = ui_status_format(&s, w, b, sizeof b, &right);
        if (ui_str_cells(b, n) != w) exact = 0;
        if (w >= 40 && !strstr(b, "generating")) state_kept = 0;
    }
    T_CHECK(exact, "status: fills any width from 2 to 160", "");
    T_CHECK(state_kept, "status: the state survives narrow bars", "");
    n = ui_status_format(&s, 50, b, sizeof b, &right);
    T_CHECK(!strstr(b, "greedy") && strstr(b, "ctx"), "status: sampling goes first when narrow", "%s", b);
    s.notice = "Ctrl-C again or Ctrl-D to quit";
    n = ui_status_format(&s, 80, b, sizeof b, &right);
    T_CHECK(strstr(b, "Ctrl-C again or Ctrl-D to quit") && !strstr(b, "gemma-4"),
            "status: a notice replaces the left part", "%s", b);
    return t_exit();
}
