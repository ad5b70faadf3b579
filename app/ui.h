/* ui — the full-screen chat: transcript pane (word wrap, light Markdown), input line (GNU readline's
 * callback interface), status bar, themes.  gemmachat.c calls ui_run when stdin and stdout are
 * terminals; the declarations below the entry point are what the app/ui_*.c files share. */
#ifndef UI_H
#define UI_H
#include <stddef.h>
#include <stdint.h>
#include "app/chat.h"
#include "app/cmd.h"

typedef struct {
    const char *theme;       /* theme name (themes/NAME.theme) or a path; NULL: "dark" (monochrome
                                with NO_COLOR or a terminal without colours) */
    const char *model_name;  /* shown in the banner and status bar; NULL: "gemma" */
    int mouse;               /* 1: capture the mouse for wheel scrolling (off: native selection) */
} ui_opts;
void ui_opts_default(ui_opts *o);

/* 1 when stdin and stdout are terminals that can do full-screen output (not TERM=dumb). */
int ui_available(void);

/* Runs the chat until the user quits.  Returns the process exit status: 0 after /quit, Ctrl-D or a
 * double Ctrl-C, 128+N after signal N (SIGTERM, SIGHUP), 1 on error (message on stderr once the
 * terminal is restored). */
int ui_run(chat *c, const ui_opts *o);

/* ======== shared by app/ui_*.c (and their unit tests) ======== */

/* ---- text (ui_text.c) ---- */
int ui_locale_utf8(void);                                   /* LC_CTYPE to a UTF-8 locale; -1 if none */
int ui_utf8_next(const char *s, size_t n, int32_t *cp);     /* bytes used (>=1; 0 if n==0); *cp=-1: bad byte */
int ui_cp_cells(int32_t cp);                                /* cells as drawn (see ui_cp_display) */
size_t ui_cp_display(int32_t cp, char out[8]);              /* the bytes drawn for cp (0 for U+200D) */
int ui_str_cells(const char *s, size_t n);
size_t ui_fit_cells(const char *s, size_t n, int cells, int *used);  /* longest prefix within cells */

/* ---- styles (a theme gives each one colours and attributes) ---- */
enum {
    UI_S_TEXT, UI_S_BANNER, UI_S_USER, UI_S_MODEL, UI_S_THOUGHT, UI_S_INFO, UI_S_ERROR,
    UI_S_CODE, UI_S_CODEBLOCK, UI_S_FENCE, UI_S_H1, UI_S_H2, UI_S_H3, UI_S_BULLET, UI_S_QUOTE,
    UI_S_HR, UI_S_PROMPT, UI_S_INPUT, UI_S_PASTE, UI_S_STATUS, UI_S_STATUS_BUSY, UI_S_STATUS_WARN,
    UI_S_MARKER, UI_S_INTERRUPTED, UI_S_COUNT
};
#define UI_BOLD   0x100       /* or'ed into a style by Markdown emphasis */
#define UI_ITALIC 0x200
#define UI_STYLE(s) ((s) & 0xff)

/* ---- display text of one message (ui_disp.c) ---- */
enum { UI_L_PARA, UI_L_HEAD, UI_L_LIST, UI_L_QUOTE, UI_L_CODE, UI_L_FENCE, UI_L_FENCE_END, UI_L_HR };
typedef struct { uint32_t off; uint8_t kind, indent, hang; } ui_line;   /* hang: indent of wrapped rows */
typedef struct { uint32_t off; uint16_t style; } ui_span;               /* style from off on */
typedef struct {
    char *text; size_t len, cap;                 /* as drawn: no newlines, no Markdown markers */
    ui_span *spans; size_t n_spans, cap_spans;
    ui_line *lines; size_t n_lines, cap_lines;   /* line i is text[lines[i].off, lines[i+1].off) */
} ui_disp;
void ui_disp_free(ui_disp *d);
void ui_disp_clear(ui_disp *d);
int ui_disp_line(ui_disp *d, int kind, int indent, int hang);
int ui_disp_add(ui_disp *d, const char *s, size_t n, int style);
size_t ui_disp_span_at(const ui_disp *d, size_t off);

/* ---- streaming Markdown (ui_md.c) ---- */
typedef struct ui_md ui_md;
int ui_md_create(ui_md **out, int base_style, int raw);
void ui_md_free(ui_md *m);
void ui_md_reset(ui_md *m, int raw);
int ui_md_push(ui_md *m, ui_disp *d, const char *s, size_t n);
int ui_md_finish(ui_md *m, ui_disp *d);     /* end of message: decides what still waits */

/* ---- incremental word wrap (ui_wrap.c) ---- */
typedef struct { uint32_t off, end; uint32_t line : 31, cont : 1; } ui_row;   /* cont: not a line's first row */
typedef struct {
    ui_row *rows; size_t n, cap;
    int width;
    size_t line; uint32_t pos; int row_w;
    int in_space, have_brk, skipping;
    uint32_t brk_end, brk_start;
} ui_wrap;
void ui_wrap_reset(ui_wrap *w, int width);
void ui_wrap_free(ui_wrap *w);
int ui_wrap_advance(ui_wrap *w, const ui_disp *d);   /* wraps what was added to d since the last call */

/* ---- one message of the transcript pane (ui_block.c) ---- */
enum { UI_B_BANNER, UI_B_USER, UI_B_MODEL, UI_B_THOUGHT, UI_B_INFO, UI_B_ERROR };
enum { UI_VR_TEXT, UI_VR_TITLE, UI_VR_INTERRUPTED, UI_VR_GAP };
typedef struct {
    int role;
    char *raw; size_t len, cap;    /* the logical text, kept to lay out again */
    ui_disp disp;
    ui_md *md;
    ui_wrap wrap;
    int done, interrupted, folded, tokens;
    long msg;                      /* transcript index shown, -1: not a message, -2: not yet saved */
    uint64_t msg_hash;             /* a hash of that message's text when it was matched */
} ui_block;
int ui_block_create(ui_block **out, int role, int width, int raw_view);
void ui_block_free(ui_block *b);
int ui_block_append(ui_block *b, const char *s, size_t n);
int ui_block_finish(ui_block *b);
int ui_block_layout(ui_block *b, int width, int raw_view);
int ui_block_margin(const ui_block *b);
int ui_block_rows(const ui_block *b);                     /* screen rows, decorations included */
int ui_block_vrow(const ui_block *b, int i, size_t *row); /* what screen row i is (UI_VR_*) */
long ui_block_row_of(const ui_block *b, size_t off);      /* screen row showing display offset off */
size_t ui_block_off_of(const ui_block *b, int vrow);

/* ---- the transcript pane: blocks, scrolling, sticky follow (ui_pane.c) ---- */
typedef struct ui_pane ui_pane;
int ui_pane_create(ui_pane **out, int width, int height);
void ui_pane_free(ui_pane *p);
ui_block *ui_pane_add(ui_pane *p, int role);            /* NULL on allocation failure */
ui_block *ui_pane_insert(ui_pane *p, size_t at, int role);
int ui_pane_append(ui_pane *p, ui_block *b, const char *s, size_t n);
int ui_pane_finish(ui_pane *p, ui_block *b);
int ui_pane_text(ui_pane *p, int role, const char *s);  /* adds a finished block */
size_t ui_pane_count(const ui_pane *p);
ui_block *ui_pane_at(const ui_pane *p, size_t i);
void ui_pane_remove(ui_pane *p, size_t i);
int ui_pane_resize(ui_pane *p, int width, int height);  /* lays everything out again */
int ui_pane_set_raw(ui_pane *p, int raw);
int ui_pane_raw(const ui_pane *p);
void ui_pane_toggle_fold(ui_pane *p);
long ui_pane_total(const ui_pane *p);
long ui_pane_top(const ui_pane *p);                     /* first row shown */
void ui_pane_scroll(ui_pane *p, long rows);
void ui_pane_home(ui_pane *p);
void ui_pane_end(ui_pane *p);
int ui_pane_following(const ui_pane *p);
int ui_pane_fresh(const ui_pane *p);                    /* new output arrived below the view */
int ui_pane_width(const ui_pane *p);
int ui_pane_height(const ui_pane *p);
/* Block and block row of screen row `row` (absolute); -1 past the end. */
long ui_pane_locate(const ui_pane *p, long row, int *vrow);

/* ---- the pane's messages against the transcript (ui_conv.c) ---- */
void ui_conv_bind(ui_pane *p, tr_transcript *t);   /* provisional blocks (msg -2) to the last exchange */
int ui_conv_sync(ui_pane *p, tr_transcript *t);    /* redraws what no longer matches */

/* ---- themes (ui_theme.c) ---- */
#define UI_A_BOLD 1
#define UI_A_DIM 2
#define UI_A_ITALIC 4
#define UI_A_UNDERLINE 8
#define UI_A_REVERSE 16
typedef struct { int16_t fg, bg; uint16_t attrs; } ui_style_def;   /* colour -1: terminal default */
typedef struct { char name[64]; ui_style_def s[UI_S_COUNT]; } ui_theme;
void ui_theme_base(ui_theme *t);                     /* built in: attributes only */
int ui_theme_parse(ui_theme *t, const char *text, size_t len, const char *file, char *err, size_t errlen);
int ui_theme_load(ui_theme *t, const char *name, char *err, size_t errlen);
void ui_theme_strip_colour(ui_theme *t);
int ui_theme_colour_wanted(void);                    /* 0 with NO_COLOR or TERM=dumb */
int ui_theme_list(char *out, size_t n);              /* names found, space-separated */

/* ---- status bar text (ui_status.c) ---- */
enum { UI_ST_IDLE, UI_ST_PREFILL, UI_ST_GEN };
enum { UI_SAVE_NONE, UI_SAVE_OK, UI_SAVE_FAIL };
typedef struct {
    const char *model;
    double temp, top_p, min_p; int top_k;
    int ctx_used, ctx_size;
    double tok_s;                  /* < 0: nothing measured yet */
    int state, prefill_done, prefill_total;
    double eta_s;                  /* < 0: unknown */
    int saved;
    const char *notice;            /* a transient message shown in place of the left part */
} ui_status;
/* Formats the bar into exactly `width` cells.  *right: byte offset where the right-aligned part
 * begins.  Returns the byte length. */
size_t ui_status_format(const ui_status *s, int width, char *out, size_t outlen, size_t *right);

/* ---- key decoding (ui_keys.c) ---- */
enum { UI_K_BYTES, UI_K_PASTE, UI_K_INTR, UI_K_NEWLINE, UI_K_PGUP, UI_K_PGDN, UI_K_HOME, UI_K_END,
       UI_K_TOP, UI_K_BOTTOM, UI_K_FOLD, UI_K_REDRAW, UI_K_SUSPEND, UI_K_ALT_LEFT, UI_K_ALT_RIGHT,
       UI_K_WHEEL_UP, UI_K_WHEEL_DOWN, UI_K_RAW };
typedef struct ui_keys ui_keys;
typedef void (*ui_key_fn)(void *ud, int key, const char *s, size_t n);
int ui_keys_create(ui_keys **out);
void ui_keys_free(ui_keys *k);
int ui_keys_feed(ui_keys *k, const char *s, size_t n, ui_key_fn fn, void *ud);
int ui_keys_waiting(const ui_keys *k);                /* an escape sequence is incomplete */
void ui_keys_timeout(ui_keys *k, ui_key_fn fn, void *ud);  /* gives up waiting: passes it on as bytes */

/* ---- input line display (ui_inline.c) ---- */
typedef struct { char *text; size_t len; } ui_paste;
/* Display form of the input: each paste still present is collapsed to "[pasted N lines, X KB]".
 * Returns a malloc'd string (NULL on failure); *dpoint: the cursor in it. */
char *ui_input_display(const char *buf, size_t len, size_t point, const ui_paste *ps, size_t n_ps,
                       size_t *dlen, size_t *dpoint);
/* Breaks display text into rows of `width` cells (at newlines and where a row is full).  starts[]:
 * up to max row starts; returns the row count; *crow, *ccol: the cursor's row and cell. */
int ui_input_rows(const char *d, size_t n, size_t point, int width, size_t *starts, int max,
                  int *crow, int *ccol);
int ui_paste_label(const char *s, size_t n, char *out, size_t outlen);
int ui_paste_collapses(const char *s, size_t n);        /* big enough to show collapsed */

/* ---- history file (ui_hist.c) ---- */
#define UI_HIST_MAX_ENTRIES 1000
#define UI_HIST_MAX_BYTES (1 << 20)
int ui_hist_path(char *out, size_t n);              /* $XDG_STATE_HOME/gemmachat/history */
/* Calls add for each entry, oldest first; trims the file to the caps. A missing file is no error. */
int ui_hist_load(const char *path, void (*add)(void *ud, const char *entry), void *ud, char *err, size_t errlen);
int ui_hist_append(const char *path, const char *entry, char *err, size_t errlen);

/* ---- the input line: readline through its callback interface (ui_input.c) ---- */
int ui_in_open(char *err, size_t errlen);
void ui_in_close(void);
void ui_in_feed(const char *s, size_t n);          /* key bytes for readline */
void ui_in_insert(const char *s, size_t n);        /* text at the cursor */
void ui_in_paste(const char *s, size_t n);         /* a bracketed paste (shown collapsed if big) */
void ui_in_paste_mark(const char *s, size_t n);    /* show this text collapsed while present */
int ui_in_take(char **line);                       /* 1: a line (caller frees), -1: Ctrl-D, 0: none */
int ui_in_queued(void);                            /* what ui_in_take would return, taking nothing */
void ui_in_set(const char *s, size_t n);           /* replaces the line, cursor at its end */
void ui_in_clear(void);
const char *ui_in_buf(size_t *len, size_t *point, const ui_paste **ps, size_t *n_ps);
const char *ui_in_prompt(void);                    /* readline's search prompt, NULL if none */
const char *ui_in_matches(void);                   /* completion candidates to show, "" if none */
int ui_in_dirty(void);                             /* changed since the last call */
void ui_in_history_add(const char *s);

/* ---- the terminal and signals (ui_term.c) ---- */
enum { UI_SIG_RESIZE = 1, UI_SIG_INT = 2, UI_SIG_TERM = 4 };
int ui_term_open(int mouse, char *err, size_t errlen);
void ui_term_close(void);
int ui_term_wake_fd(void);                         /* readable when a signal arrived */
int ui_term_signals(void);                         /* UI_SIG_* received since the last call */
int ui_term_signal_number(void);                   /* the terminating signal, 0 if none */
void ui_term_size(int *rows, int *cols);
void ui_term_suspend(void);                        /* Ctrl-Z */
int ui_term_osc52(const char *s, size_t n);        /* to the clipboard, through the terminal */

/* ---- drawing (ui_paint.c) ---- */
typedef struct {
    ui_pane *pane;
    ui_status status;
    const char *hint;                              /* shown on the separator row, NULL: none */
} ui_frame;
void ui_paint_theme(const ui_theme *t, int colour);
void ui_paint(const ui_frame *f);                  /* sets the pane's size to what is left for it */

/* ---- the running chat: event loop (ui_main.c) and turns (ui_turn.c) ---- */
/* The one running chat; everything the two files share. */
typedef struct ui_app {
    chat *c;
    cmd *k;
    const ui_opts *o;
    ui_pane *pane;
    ui_keys *keys;
    ui_theme theme;
    int colour;
    char hist[4096];
    cmd_io io;
    /* the turn in progress */
    int busy, state, prefill_done, prefill_total;
    double t_turn, t_gen, tok_s;
    long gen_tokens;
    ui_block *thought, *reply, *info;
    int save_failed;
    /* requests from keys and signals */
    int cancel, quit, quit_armed, status, queued;
    long alt_pos;        /* Alt-<-/->: steps taken through the last reply's alternatives */
    int saved;
    char notice[160];
    int dirty;
    double last_poll, last_paint;
} ui_app;
double ui_now(void);                               /* monotonic seconds */
void ui_app_notice(ui_app *a, const char *s);      /* a status-bar message until the next key */
void ui_app_paint(ui_app *a);
void ui_app_pump(ui_app *a);                       /* input and screen, from inside the model's work */
void ui_turn_io(ui_app *a, cmd_io *io);            /* the command module's callbacks into the screen */
void ui_turn_submit(ui_app *a, char *line);
void ui_turn_warm(ui_app *a);                      /* rebuilds a loaded chat's cache, with progress */
void ui_turn_flip(ui_app *a, int dir);             /* Alt-Left / Alt-Right: the last reply's alternatives */
#endif
