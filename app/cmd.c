/* Slash commands and messages.  One table (names, arguments, help) drives /help, completion and
 * dispatch; every command validates its argument before anything changes, so a bad line costs
 * nothing and never reaches the model. */
#include "app/cmd.h"
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "app/args.h"
#include "tokenizer/cf.h"

struct cmd {
    chat *c;
    long edit;                 /* transcript index of the message /edit chose, -1 if none */
};

enum {
    C_HELP, C_TEMP, C_TOP_K, C_TOP_P, C_MIN_P, C_SEED, C_MAX_NEW, C_SETTINGS, C_SYSTEM, C_THINK,
    C_STATS, C_CONTEXT, C_DUMP, C_RETRY, C_UNDO, C_EDIT, C_FORGET, C_SAVE, C_LOAD, C_SESSIONS, C_REPLAY,
    C_EXPORT, C_THEME, C_RAW, C_COPY, C_QUIT, C_COUNT
};

static const cmd_info table[C_COUNT] = {
    [C_HELP] = {"help", "[CMD]", "list the commands, or explain one"},
    [C_TEMP] = {"temp", "[T]", "sampling temperature, 0 = greedy (no T: show it)"},
    [C_TOP_K] = {"top-k", "[K]", "keep the K most likely tokens, 0 = off"},
    [C_TOP_P] = {"top-p", "[P]", "keep the most likely tokens up to probability P, 1 = off"},
    [C_MIN_P] = {"min-p", "[P]", "drop tokens below P times the top probability, 0 = off"},
    [C_SEED] = {"seed", "[N]", "restart the random stream from seed N"},
    [C_MAX_NEW] = {"max-new", "[N]", "cut replies after N tokens, 0 = no limit"},
    [C_SETTINGS] = {"settings", "", "show the effective settings and the model's defaults"},
    [C_SYSTEM] = {"system", "[TEXT|off]", "set the system prompt, or remove it (no TEXT: show it)"},
    [C_THINK] = {"think", "on|off", "thinking mode: the model reasons in a hidden channel first"},
    [C_STATS] = {"stats", "", "last 20 turns: prefill new / cached, reply tok/s"},
    [C_CONTEXT] = {"context", "", "what fills the context window"},
    [C_DUMP] = {"dump", "[FILE]", "the exact tokens in the model's cache: position, id, piece"},
    [C_RETRY] = {"retry", "", "a new reply to the last message (the old one is kept as an alternative)"},
    [C_UNDO] = {"undo", "", "remove the last exchange"},
    [C_EDIT] = {"edit", "[N]", "edit your message N (default: the last); the next message replaces it"},
    [C_FORGET] = {"forget", "", "drop the oldest exchange from the model's context"},
    [C_SAVE] = {"save", "FILE", "save the conversation (JSON)"},
    [C_LOAD] = {"load", "FILE|N", "load a saved conversation (N: number N of /sessions)"},
    [C_SESSIONS] = {"sessions", "", "list the saved chats, newest first"},
    [C_REPLAY] = {"replay", "FILE", "regenerate every reply of a saved chat and compare, token for token"},
    [C_EXPORT] = {"export", "FILE", "write the conversation as Markdown"},
    [C_THEME] = {"theme", "NAME", "colour theme (full-screen interface)"},
    [C_RAW] = {"raw", "[on|off]", "show replies as plain text instead of styled Markdown (no argument: toggle)"},
    [C_COPY] = {"copy", "[N]", "copy reply N (default: the last) to the clipboard"},
    [C_QUIT] = {"quit", "", "leave"},
};

const cmd_info *cmd_table(size_t *n) {
    *n = C_COUNT;
    return table;
}

const cmd_info *cmd_find(const char *name, size_t len) {
    for (size_t i = 0; i < C_COUNT; i++)
        if (strlen(table[i].name) == len && !memcmp(table[i].name, name, len)) return &table[i];
    return NULL;
}

int cmd_create(cmd **out, chat *c) {
    *out = calloc(1, sizeof **out);
    if (!*out) return -1;
    (*out)->c = c;
    (*out)->edit = -1;
    return 0;
}

void cmd_free(cmd *k) { free(k); }
long cmd_editing(const cmd *k) { return k->edit; }
void cmd_cancel_edit(cmd *k) { k->edit = -1; }

/* ---- output --------------------------------------------------------------------------------- */

static void vout(const cmd_io *io, int err, const char *fmt, va_list ap) {
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    if (n >= 0 && io->print) io->print(io->ud, s, (size_t)n, err);
    free(s);
}

static void say(const cmd_io *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const cmd_io *io, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vout(io, 0, fmt, ap);
    va_end(ap);
}

/* A one-line error; the command does nothing. */
static int bad(const cmd_io *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(const cmd_io *io, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vout(io, 1, fmt, ap);
    va_end(ap);
    return CMD_BAD;
}

/* ---- turns ---------------------------------------------------------------------------------- */

static const tr_message *last_message(chat *c) {
    tr_transcript *t = chat_transcript(c);
    return tr_count(t) ? tr_at(t, tr_count(t) - 1) : NULL;
}

static int turn_result(int rc, chat *c, const cmd_io *io) {
    if (rc == 0 && io->on_reply) io->on_reply(io->ud, last_message(c));
    return rc == 1 ? CMD_CANCELLED : rc;
}

static int send(cmd *k, const char *text, size_t len, const cmd_io *io, char *err, size_t errlen) {
    if (io->on_turn) io->on_turn(io->ud, text, len);
    int rc;
    if (k->edit >= 0) {
        rc = chat_edit(k->c, (size_t)k->edit, text, len, &io->chat, err, errlen);
        if (rc == 0) k->edit = -1;
    } else {
        rc = chat_send(k->c, text, len, &io->chat, err, errlen);
    }
    return turn_result(rc, k->c, io);
}

/* ---- the commands --------------------------------------------------------------------------- */

typedef int (*handler)(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen);

static int no_arg(const char *name, const char *arg, const cmd_io *io) {
    return *arg ? bad(io, "/%s takes no argument\n", name) : 0;
}

static int do_help(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    (void)k, (void)err, (void)errlen;
    if (*arg) {
        const char *name = *arg == '/' ? arg + 1 : arg;
        const cmd_info *ci = cmd_find(name, strlen(name));
        if (!ci) return bad(io, "/help: no command /%s (/help lists them)\n", name);
        say(io, "/%s%s%s: %s\n", ci->name, *ci->args ? " " : "", ci->args, ci->help);
        return CMD_DONE;
    }
    for (size_t i = 0; i < C_COUNT; i++) {
        char head[40];
        snprintf(head, sizeof head, "/%s %s", table[i].name, table[i].args);
        say(io, "  %-20s %s\n", head, table[i].help);
    }
    say(io, "  %-20s %s\n", "//TEXT", "send a message that starts with \"/\"");
    return CMD_DONE;
}

/* /temp /top-k /top-p /min-p: parse, range-check, then set. */
static int set_sampling(cmd *k, int which, const char *arg, const cmd_io *io) {
    smp_params p = *chat_sampling(k->c);
    const char *name = table[which].name;
    double v = 0, lo = 0, hi = 1;
    if (which == C_TEMP) hi = 100;
    if (which == C_TOP_K) hi = tok_vocab_size(chat_tokenizer(k->c));
    if (*arg) {
        long n;
        int ok = which == C_TOP_K ? args_long(arg, &n) == 0 && (v = (double)n, 1) : args_double(arg, &v) == 0;
        if (!ok || v < lo || v > hi || (which == C_TOP_P && v == 0))
            return bad(io, "/%s: expected a %s from %g to %g, got '%s'\n", name,
                       which == C_TOP_K ? "whole number" : "number", which == C_TOP_P ? 0.01 : lo, hi, arg);
        switch (which) {
        case C_TEMP: p.temp = (float)v; break;
        case C_TOP_K: p.top_k = (int)v; break;
        case C_TOP_P: p.top_p = (float)v; break;
        default: p.min_p = (float)v; break;
        }
        chat_set_sampling(k->c, &p, 0);
    }
    switch (which) {
    case C_TEMP: say(io, "temp %g%s\n", p.temp, p.temp <= 0 ? " (greedy)" : ""); break;
    case C_TOP_K: say(io, "top-k %d%s\n", p.top_k, p.top_k <= 0 ? " (off)" : ""); break;
    case C_TOP_P: say(io, "top-p %g%s\n", p.top_p, p.top_p >= 1 ? " (off)" : ""); break;
    default: say(io, "min-p %g%s\n", p.min_p, p.min_p <= 0 ? " (off)" : ""); break;
    }
    return CMD_DONE;
}

static int do_temp(cmd *k, const char *a, const cmd_io *io, char *e, size_t n) { (void)e, (void)n; return set_sampling(k, C_TEMP, a, io); }
static int do_top_k(cmd *k, const char *a, const cmd_io *io, char *e, size_t n) { (void)e, (void)n; return set_sampling(k, C_TOP_K, a, io); }
static int do_top_p(cmd *k, const char *a, const cmd_io *io, char *e, size_t n) { (void)e, (void)n; return set_sampling(k, C_TOP_P, a, io); }
static int do_min_p(cmd *k, const char *a, const cmd_io *io, char *e, size_t n) { (void)e, (void)n; return set_sampling(k, C_MIN_P, a, io); }

static int do_seed(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    (void)err, (void)errlen;
    smp_params p = *chat_sampling(k->c);
    if (*arg) {
        long v;
        if (args_long(arg, &v) < 0 || v < 0) return bad(io, "/seed: expected a whole number >= 0, got '%s'\n", arg);
        p.seed = (uint64_t)v;
        chat_set_sampling(k->c, &p, 1);
    }
    say(io, "seed %llu\n", (unsigned long long)p.seed);
    return CMD_DONE;
}

static int do_max_new(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    (void)err, (void)errlen;
    if (*arg) {
        long v;
        if (args_long(arg, &v) < 0 || v < 0 || v > 1000000000)
            return bad(io, "/max-new: expected a whole number >= 0, got '%s'\n", arg);
        chat_set_max_new(k->c, (int)v);
    }
    int v = chat_max_new(k->c);
    say(io, "max-new %d%s\n", v, v ? "" : " (no limit)");
    return CMD_DONE;
}

static int do_settings(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    (void)err, (void)errlen;
    if (no_arg("settings", arg, io)) return CMD_BAD;
    const smp_params *p = chat_sampling(k->c), *d = chat_default_sampling(k->c);
    const char *sys = chat_system(k->c);
    say(io, "temp     %g (model default %g)\n", p->temp, d->temp);
    say(io, "top-k    %d (model default %d)\n", p->top_k, d->top_k);
    say(io, "top-p    %g (model default %g)\n", p->top_p, d->top_p);
    say(io, "min-p    %g (model default %g)\n", p->min_p, d->min_p);
    say(io, "seed     %llu\n", (unsigned long long)p->seed);
    say(io, "max-new  %d%s\n", chat_max_new(k->c), chat_max_new(k->c) ? "" : " (no limit)");
    say(io, "think    %s\n", chat_think(k->c) ? "on" : "off");
    say(io, "system   %s\n", sys ? sys : "(none)");
    say(io, "context  %d tokens\n", chat_ctx_size(k->c));
    const int32_t *stop;
    int n = chat_stop_ids(k->c, &stop);
    char ids[256] = "";
    for (int i = 0, o = 0; i < n && o < (int)sizeof ids - 16; i++)
        o += snprintf(ids + o, sizeof ids - (size_t)o, "%s%d", i ? ", " : "", stop[i]);
    say(io, "stop ids %s\n", ids);
    say(io, "model    %s (%s)\n", chat_model_dir(k->c), chat_weights(k->c));
    return CMD_DONE;
}

static int do_system(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    if (!*arg) {
        const char *s = chat_system(k->c);
        say(io, "system %s\n", s ? s : "(none)");
        return CMD_DONE;
    }
    if (chat_set_system(k->c, strcmp(arg, "off") ? arg : NULL, err, errlen) < 0) return -1;
    say(io, "system prompt %s\n", strcmp(arg, "off") ? "set" : "removed");
    return CMD_DONE;
}

static int do_think(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    (void)err, (void)errlen;
    if (*arg && strcmp(arg, "on") && strcmp(arg, "off"))
        return bad(io, "/think: expected on or off, got '%s'\n", arg);
    if (*arg) chat_set_think(k->c, !strcmp(arg, "on"));
    say(io, "think %s\n", chat_think(k->c) ? "on" : "off");
    return CMD_DONE;
}

#define STATS_TURNS 20   /* /stats lists the last turns only: a long chat would scroll for pages */

static double per_s(double n, double ms) { return ms > 0 ? n * 1e3 / ms : 0; }

static int do_stats(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    (void)err, (void)errlen;
    if (no_arg("stats", arg, io)) return CMD_BAD;
    tr_transcript *t = chat_transcript(k->c);
    int turns = 0, turn = 0;
    for (size_t i = 0; i < tr_count(t); i++) turns += tr_at(t, i)->role == TR_MODEL;
    if (turns > STATS_TURNS) say(io, "(%d earlier turns not shown)\n", turns - STATS_TURNS);
    for (size_t i = 0; i < tr_count(t); i++) {
        const tr_message *m = tr_at(t, i);
        if (m->role != TR_MODEL || ++turn <= turns - STATS_TURNS) continue;
        char thought[48] = "";
        if (m->thought_tokens) snprintf(thought, sizeof thought, " (%d thinking)", m->thought_tokens);
        say(io, "turn %d: prefill %d new / %d cached, %.0f ms (%.0f tok/s); reply %zu tokens%s, %.2f s "
                "(%.1f tok/s), %s\n",
            turn, m->prefill_new, m->prefill_cached, m->prefill_ms, per_s(m->prefill_new, m->prefill_ms),
            m->n_ids, thought, m->gen_ms / 1e3, per_s((double)m->n_ids, m->gen_ms), m->stop);
    }
    chat_totals tot;
    chat_get_totals(k->c, &tot);
    int used = chat_ctx_used(k->c), size = chat_ctx_size(k->c);
    say(io, "session: prefill %lld new / %lld cached, %lld generated; context %d / %d (%.1f%%)\n",
        tot.prefill_new, tot.prefill_cached, tot.generated, used, size, 100.0 * used / size);
    return CMD_DONE;
}

static int do_context(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    if (no_arg("context", arg, io)) return CMD_BAD;
    chat_context x;
    if (chat_get_context(k->c, &x, err, errlen) < 0) return -1;
    say(io, "context %d / %d tokens (%.1f%%)\n", x.used, x.size, 100.0 * x.used / x.size);
    say(io, "  system      %6d\n", x.system);
    say(io, "  history     %6d  (%d exchange%s in context, %d dropped)\n", x.history, x.exchanges,
        x.exchanges == 1 ? "" : "s", x.dropped);
    say(io, "  last reply  %6d  (%d thinking, left out of later turns)\n", x.last_reply, x.thinking);
    int per = x.exchanges ? (x.used - x.system) / x.exchanges : 0;
    if (per > 0)
        say(io, "  free        %6d  (about %d more exchange%s of this size)\n", x.size - x.used,
            (x.size - x.used) / per, (x.size - x.used) / per == 1 ? "" : "s");
    else
        say(io, "  free        %6d\n", x.size - x.used);
    return CMD_DONE;
}

/* A vocabulary piece made printable on one line. */
static void escape_piece(const char *s, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n') o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (ch == '\t') o += (size_t)snprintf(out + o, cap - o, "\\t");
        else if (ch == '\\') o += (size_t)snprintf(out + o, cap - o, "\\\\");
        else if (ch < 0x20 || ch == 0x7f) o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
        else out[o++] = (char)ch;
    }
    out[o] = 0;
}

static int do_dump(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    (void)err, (void)errlen;
    int n;
    const int32_t *ids = chat_cache_ids(k->c, &n);
    FILE *f = NULL;
    if (*arg && !(f = fopen(arg, "w"))) return bad(io, "/dump: cannot write %s: %s\n", arg, strerror(errno));
    const tok_tokenizer *tok = chat_tokenizer(k->c);
    if (!f) say(io, "%d tokens in the cache (position, id, piece):\n", n);
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        const char *piece = tok_piece(tok, ids[i], &len);
        char esc[256];
        escape_piece(piece ? piece : "?", piece ? len : 1, esc, sizeof esc);
        if (f) fprintf(f, "%d\t%d\t%s\n", i, ids[i], esc);
        else say(io, "%6d %7d  %s\n", i, ids[i], esc);
    }
    if (f) {
        int failed = ferror(f) | fclose(f);
        if (failed) return bad(io, "/dump: error writing %s\n", arg);
        say(io, "wrote %d tokens to %s\n", n, arg);
    }
    return CMD_DONE;
}

static int do_retry(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    if (no_arg("retry", arg, io)) return CMD_BAD;
    tr_transcript *t = chat_transcript(k->c);
    size_t n = tr_count(t);
    if (n < 2 || tr_at(t, n - 1)->role != TR_MODEL) return bad(io, "/retry: no reply to retry yet\n");
    const tr_message *u = tr_at(t, n - 2);
    if (io->on_turn) io->on_turn(io->ud, u->text, u->len);
    return turn_result(chat_retry(k->c, &io->chat, err, errlen), k->c, io);
}

static int do_undo(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    if (no_arg("undo", arg, io)) return CMD_BAD;
    if (!tr_count(chat_transcript(k->c))) return bad(io, "/undo: nothing to undo\n");
    if (chat_undo(k->c, err, errlen) < 0) return -1;
    k->edit = -1;
    say(io, "removed the last exchange; context %d / %d\n", chat_ctx_used(k->c), chat_ctx_size(k->c));
    return CMD_DONE;
}

static int do_forget(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    if (no_arg("forget", arg, io)) return CMD_BAD;
    tr_transcript *t = chat_transcript(k->c);
    size_t first = chat_first_in_context(k->c), users = 0;
    for (size_t i = first; i < tr_count(t); i++) users += tr_at(t, i)->role == TR_USER;
    if (users < 2) return bad(io, "/forget: only the last exchange is in the context\n");
    if (chat_forget(k->c, err, errlen) < 0) return -1;
    say(io, "dropped the oldest exchange from the context (%zu messages out of it); context %d / %d\n",
        chat_first_in_context(k->c), chat_ctx_used(k->c), chat_ctx_size(k->c));
    return CMD_DONE;
}

/* The transcript index of the n-th (1-based) message of role, or of the last one when n is 0. */
static long nth_message(chat *c, tr_role role, long n) {
    tr_transcript *t = chat_transcript(c);
    long seen = 0, last = -1;
    for (size_t i = 0; i < tr_count(t); i++) {
        if (tr_at(t, i)->role != role) continue;
        if (++seen == n) return (long)i;
        last = (long)i;
    }
    return n == 0 ? last : -1;
}

static int parse_index(const char *name, const char *arg, const cmd_io *io, long *n) {
    *n = 0;
    if (*arg && (args_long(arg, n) < 0 || *n < 1))
        return bad(io, "/%s: expected a message number >= 1, got '%s'\n", name, arg);
    return 0;
}

static int do_edit(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    (void)err, (void)errlen;
    long n, i;
    if (parse_index("edit", arg, io, &n)) return CMD_BAD;
    if ((i = nth_message(k->c, TR_USER, n)) < 0)
        return bad(io, n ? "/edit: there is no message %ld\n" : "/edit: no message to edit yet\n", n);
    const tr_message *m = tr_at(chat_transcript(k->c), (size_t)i);
    k->edit = i;
    if (io->edit) {
        io->edit(io->ud, m->text, m->len);
    } else {
        say(io, "editing your message (the next message replaces it and everything after it):\n");
        if (io->print) io->print(io->ud, m->text, m->len, 0);
        say(io, "\n");
    }
    return CMD_DONE;
}

static int do_copy(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    long n, i;
    if (parse_index("copy", arg, io, &n)) return CMD_BAD;
    if (!io->copy) return bad(io, "/copy: no clipboard here (plain mode writes replies to stdout)\n");
    if ((i = nth_message(k->c, TR_MODEL, n)) < 0)
        return bad(io, n ? "/copy: there is no reply %ld\n" : "/copy: no reply yet\n", n);
    const tr_message *m = tr_at(chat_transcript(k->c), (size_t)i);
    size_t len;
    char *text = cf_strip_thinking(m->text ? m->text : "", m->len, &len);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = io->copy(io->ud, text, len, err, errlen);
    free(text);
    if (rc < 0) return bad(io, "/copy: %s\n", err);
    say(io, "copied %zu bytes\n", len);
    return CMD_DONE;
}

static int do_theme(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    (void)k;
    if (!*arg) return bad(io, "/theme: needs a theme name\n");
    if (!io->theme) {
        say(io, "themes have no effect in plain mode\n");
        return CMD_DONE;
    }
    if (io->theme(io->ud, arg, err, errlen) < 0) return bad(io, "/theme: %s\n", err);
    return CMD_DONE;
}

static int do_raw(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    (void)k, (void)err, (void)errlen;
    int on = -1;
    if (!strcmp(arg, "on")) on = 1;
    else if (!strcmp(arg, "off")) on = 0;
    else if (*arg) return bad(io, "/raw: expected on or off, got '%s'\n", arg);
    if (!io->raw) {
        say(io, "plain mode always shows raw text\n");
        return CMD_DONE;
    }
    say(io, "raw text %s\n", io->raw(io->ud, on) ? "on" : "off");
    return CMD_DONE;
}

static int do_save(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    if (!*arg) return bad(io, "/save: needs a file name\n");
    if (tr_save(chat_transcript(k->c), arg, err, errlen) < 0) return bad(io, "/save: %s\n", err);
    say(io, "saved %s\n", arg);
    return CMD_DONE;
}

/* The saved chats, newest first; *n = 0 and a message when there are none or no directory. */
static int sessions(tr_session **list, size_t *n, char *dir, size_t dirlen, const cmd_io *io, const char *name) {
    char err[512];
    *list = NULL, *n = 0;
    if (tr_chats_dir(dir, dirlen, 0, err, sizeof err) < 0 || tr_sessions(dir, list, n, err, sizeof err) < 0)
        return bad(io, "/%s: %s\n", name, err);
    return 0;
}

static void other_model(cmd *k, tr_transcript *t, const char *path, const cmd_io *io) {
    if (!chat_other_model(k->c, t) || !io->chat.on_notice) return;
    char *msg;
    if (asprintf(&msg, "note: %s was saved with another model configuration (%s); replies will differ", path,
                 tr_settings_of(t)->model_dir) < 0)
        return;
    io->chat.on_notice(io->chat.ud, msg);
    free(msg);
}

/* A /load argument: a file, or the number of a chat in the /sessions list when no such file exists. */
static int load_path(const char *arg, char *path, size_t cap, const cmd_io *io) {
    long n;
    if (args_long(arg, &n) < 0 || access(arg, F_OK) == 0) {
        snprintf(path, cap, "%s", arg);
        return 0;
    }
    tr_session *list;
    size_t count;
    char dir[4096];
    if (sessions(&list, &count, dir, sizeof dir, io, "load")) return CMD_BAD;
    int rc = 0;
    if (n < 1 || (size_t)n > count)
        rc = bad(io, "/load: no file %s, and no saved chat number %ld (/sessions lists %zu)\n", arg, n, count);
    else
        snprintf(path, cap, "%s", list[n - 1].path);
    free(list);
    return rc;
}

static int do_load(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    if (!*arg) return bad(io, "/load: needs a file name\n");
    char path[4096];
    if (load_path(arg, path, sizeof path, io)) return CMD_BAD;
    tr_transcript *t;
    if (tr_load(&t, path, err, errlen) < 0) return bad(io, "/load: %s (the current chat is kept)\n", err);
    if (*tr_load_note(t)) say(io, "%s\n", tr_load_note(t));
    other_model(k, t, path, io);
    if (chat_set_transcript(k->c, t, err, errlen) < 0) return -1;
    k->edit = -1;
    say(io, "loaded %s: %zu messages\n", path, tr_count(chat_transcript(k->c)));
    int rc = chat_warm(k->c, &io->chat, err, errlen);
    if (rc < 0) return -1;
    if (rc == 1) say(io, "restoring the context was cancelled: the next turn computes the rest\n");
    return CMD_DONE;
}

static int do_sessions(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    (void)err, (void)errlen;
    if (no_arg("sessions", arg, io)) return CMD_BAD;
    tr_session *list;
    size_t n;
    char dir[4096];
    if (sessions(&list, &n, dir, sizeof dir, io, "sessions")) return CMD_BAD;
    if (!n) say(io, "no saved chats in %s yet\n", dir);
    else say(io, "saved chats in %s, newest first (/load N opens one):\n", dir);
    const char *mine = chat_autosave_path(k->c);
    for (size_t i = 0; i < n; i++) {
        char when[32];
        struct tm tm;
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime_r(&list[i].mtime, &tm));
        const char *here = mine && !strcmp(mine, list[i].path) ? "  (this chat)" : "";
        if (list[i].turns < 0)
            say(io, "%4zu  %s  %s  cannot be loaded: %s%s\n", i + 1, when, list[i].name, list[i].first, here);
        else
            say(io, "%4zu  %s  %s  %d turn%s  %s%s\n", i + 1, when, list[i].name, list[i].turns,
                list[i].turns == 1 ? "" : "s", list[i].first, here);
    }
    free(list);
    return CMD_DONE;
}

/* ---- replay --------------------------------------------------------------------------------- */

/* Reports where a regenerated reply departs from the saved one; 1 when it does. */
static int compare(const cmd_io *io, int turn, size_t alt, size_t n_alts, const int32_t *was, size_t n_was,
                   const int32_t *now, size_t n_now) {
    size_t d = 0;
    while (d < n_was && d < n_now && was[d] == now[d]) d++;
    if (d == n_was && d == n_now) return 0;
    char which[64] = "", a[24] = "the end", b[24] = "the end";
    if (alt < n_alts) snprintf(which, sizeof which, ", earlier reply %zu", alt + 1);
    if (d < n_was) snprintf(a, sizeof a, "id %d", was[d]);
    if (d < n_now) snprintf(b, sizeof b, "id %d", now[d]);
    bad(io, "replay turn %d%s: the reply differs from the saved one at token %zu (saved: %s, now: %s)\n", turn,
        which, d, a, b);
    return 1;
}

int cmd_replay(cmd *k, tr_transcript *src, const chat_replay_opts *o, const cmd_io *io, cmd_replay_result *res,
               char *err, size_t errlen) {
    memset(res, 0, sizeof *res);
    tr_transcript *fresh;
    if (tr_create(&fresh) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* replies without a generation record (version-1 files) come from one stream from the seed */
    tr_settings *fs = tr_settings_of(fresh);
    const tr_settings *ss = tr_settings_of(src);
    *fs = *ss;
    fs->system = NULL;
    fs->state = o->seed >= 0 ? (uint64_t)o->seed : ss->seed;
    if (tr_set_system(fresh, ss->system) < 0) {
        tr_free(fresh);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (chat_set_transcript(k->c, fresh, err, errlen) < 0) return -1;
    k->edit = -1;
    for (size_t i = 0; i < tr_count(src); i++) {
        const tr_message *u = tr_at(src, i), *saved = tr_at(src, i + 1);
        if (u->role == TR_SYSTEM && tr_append(chat_transcript(k->c), u) < 0) {   /* keeps the indices */
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (u->role != TR_USER) continue;
        res->turns++;
        if (io->on_turn) io->on_turn(io->ud, u->text, u->len);
        int r = chat_replay(k->c, src, i, o, &io->chat, err, errlen);
        if (r < 0) return -1;
        if (r == 1) return CMD_CANCELLED;
        const tr_message *now = last_message(k->c);
        if (io->on_reply) io->on_reply(io->ud, now);
        if (r == 2) return CMD_CANCELLED;
        if (!saved || saved->role != TR_MODEL) continue;
        for (size_t a = 0; a <= saved->n_alts && a <= now->n_alts; a++) {
            int differs = a < saved->n_alts
                              ? compare(io, res->turns, a, saved->n_alts, saved->alts[a].ids, saved->alts[a].n_ids,
                                        now->alts[a].ids, now->alts[a].n_ids)
                              : compare(io, res->turns, a, saved->n_alts, saved->ids, saved->n_ids, now->ids,
                                        now->n_ids);
            res->replies++;
            res->differ += differs;
        }
    }
    return CMD_DONE;
}

static int do_replay(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    if (!*arg) return bad(io, "/replay: needs a file name\n");
    tr_transcript *src;
    if (tr_load(&src, arg, err, errlen) < 0) return bad(io, "/replay: %s (the current chat is kept)\n", err);
    other_model(k, src, arg, io);
    chat_replay_opts o;
    chat_replay_opts_default(&o);
    cmd_replay_result r;
    int rc = cmd_replay(k, src, &o, io, &r, err, errlen);
    tr_free(src);
    if (rc == CMD_CANCELLED) say(io, "replay stopped at turn %d\n", r.turns);
    else if (rc == CMD_DONE && !r.differ)
        say(io, "replayed %d turn%s: all %d repl%s identical to the saved ones, token for token\n", r.turns,
            r.turns == 1 ? "" : "s", r.replies, r.replies == 1 ? "y" : "ies");
    else if (rc == CMD_DONE)
        say(io, "replayed %d turn%s: %d of %d repl%s differ from the saved ones\n", r.turns, r.turns == 1 ? "" : "s",
            r.differ, r.replies, r.replies == 1 ? "y" : "ies");
    return rc;
}

static int do_export(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    if (!*arg) return bad(io, "/export: needs a file name\n");
    if (tr_export_md(chat_transcript(k->c), arg, err, errlen) < 0) return bad(io, "/export: %s\n", err);
    say(io, "exported %s\n", arg);
    return CMD_DONE;
}

static int do_quit(cmd *k, const char *arg, const cmd_io *io, char *err, size_t errlen) {
    (void)k, (void)err, (void)errlen;
    return no_arg("quit", arg, io) ? CMD_BAD : CMD_QUIT;
}

static const handler handlers[C_COUNT] = {
    [C_HELP] = do_help, [C_TEMP] = do_temp, [C_TOP_K] = do_top_k, [C_TOP_P] = do_top_p,
    [C_MIN_P] = do_min_p, [C_SEED] = do_seed, [C_MAX_NEW] = do_max_new, [C_SETTINGS] = do_settings,
    [C_SYSTEM] = do_system, [C_THINK] = do_think, [C_STATS] = do_stats, [C_CONTEXT] = do_context,
    [C_DUMP] = do_dump, [C_RETRY] = do_retry, [C_UNDO] = do_undo, [C_EDIT] = do_edit,
    [C_FORGET] = do_forget, [C_SAVE] = do_save, [C_LOAD] = do_load, [C_SESSIONS] = do_sessions,
    [C_REPLAY] = do_replay, [C_EXPORT] = do_export,
    [C_THEME] = do_theme, [C_RAW] = do_raw, [C_COPY] = do_copy, [C_QUIT] = do_quit,
};

int cmd_submit(cmd *k, const char *input, size_t len, const cmd_io *io, char *err, size_t errlen) {
    if (len >= 2 && input[0] == '/' && input[1] == '/') return send(k, input + 1, len - 1, io, err, errlen);
    if (!len || input[0] != '/') {
        size_t i = 0;
        while (i < len && isspace((unsigned char)input[i])) i++;
        return i == len ? CMD_DONE : send(k, input, len, io, err, errlen);
    }
    /* "/name args": the argument is the rest of the line, trimmed */
    size_t e = 1;
    while (e < len && !isspace((unsigned char)input[e])) e++;
    const cmd_info *ci = cmd_find(input + 1, e - 1);
    if (!ci) return bad(io, "unknown command /%.*s (/help lists the commands; //%.*s sends it as a message)\n",
                        (int)(e - 1), input + 1, (int)(e - 1), input + 1);
    while (e < len && isspace((unsigned char)input[e])) e++;
    while (len > e && isspace((unsigned char)input[len - 1])) len--;
    char *arg = strndup(input + e, len - e);
    if (!arg) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = handlers[ci - table](k, arg, io, err, errlen);
    free(arg);
    return rc;
}
