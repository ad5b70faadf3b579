/* tr_md.c — a transcript as Markdown for people to read: the settings, the system prompt, then each
 * turn under its own heading with notes on how replies ended.  Written atomically like a snapshot. */
#include "app/tr_int.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void putf(tr_buf *b, const char *fmt, ...) {
    char s[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    if (n > 0) tr_buf_put(b, s, (size_t)n < sizeof s ? (size_t)n : sizeof s - 1);
}

/* Text as readable UTF-8: a NUL shows as U+2400, a bad byte as U+FFFD; ends with a newline. */
static void put_text(tr_buf *b, const char *p, size_t n) {
    for (size_t i = 0, k; i < n; i += k) {
        k = tr_utf8_len((const unsigned char *)p + i, n - i);
        if (k && p[i]) tr_buf_put(b, p + i, k);
        else tr_buf_put(b, p[i] ? "\xef\xbf\xbd" : "\xe2\x90\x80", 3), k = 1;
    }
    if (!n || p[n - 1] != '\n') tr_buf_put(b, "\n", 1);
}

static void put_stop(tr_buf *b, const char *stop) {
    if (!strcmp(stop, "stop_id")) return;
    if (!strcmp(stop, "stopped_early")) putf(b, "\n*(interrupted: the reply was stopped early)*\n");
    else if (!strcmp(stop, "length")) putf(b, "\n*(cut off at the length limit)*\n");
    else if (!stop[0]) putf(b, "\n*(unfinished)*\n");
    else putf(b, "\n*(ended: %s)*\n", stop);
}

static void put_num(tr_buf *b, const char *name, double x, const char *sep) {
    if (isfinite(x)) putf(b, "%s %g%s", name, x, sep);
    else putf(b, "%s default%s", name, sep);
}

static void put_settings(tr_buf *b, const tr_settings *s) {
    putf(b, "# Chat\n\n");
    if (s->model_dir[0]) {
        tr_buf_put(b, "- Model: `", 10);
        tr_buf_put(b, s->model_dir, strlen(s->model_dir));
        tr_buf_put(b, "`\n", 2);
    }
    if (s->config_hash[0]) putf(b, "- Config sha256: `%s`\n", s->config_hash);
    tr_buf_put(b, "- Sampling: ", 12);
    put_num(b, "temperature", s->temp, ", ");
    putf(b, "top-k %d, ", s->top_k);
    put_num(b, "top-p", s->top_p, ", ");
    put_num(b, "min-p", s->min_p, ", ");
    putf(b, "seed %llu\n", (unsigned long long)s->seed);
    putf(b, "- Reply limit: %s", s->max_new > 0 ? "" : "none");
    if (s->max_new > 0) putf(b, "%d tokens", s->max_new);
    putf(b, "\n- Thinking: %s\n", s->think ? "on" : "off");
    if (s->system) {
        putf(b, "\n## System prompt\n\n");
        put_text(b, s->system, strlen(s->system));
    }
}

static void put_message(tr_buf *b, const tr_message *m, int turn) {
    if (m->role == TR_SYSTEM) putf(b, "\n## System\n\n");
    else putf(b, "\n## %d. %s\n\n", turn, m->role == TR_USER ? "You" : "Gemma");
    put_text(b, m->text, m->text ? m->len : 0);
    if (m->role != TR_MODEL) return;
    put_stop(b, m->stop);
    if (m->thought_tokens) putf(b, "\n*(%d thinking tokens)*\n", m->thought_tokens);
    for (size_t k = 0; k < m->n_alts; k++) {
        putf(b, "\n### Earlier reply %zu of %zu\n\n", k + 1, m->n_alts);
        put_text(b, m->alts[k].text, m->alts[k].text ? m->alts[k].len : 0);
        put_stop(b, m->alts[k].stop);
    }
}

int tr_export_md(const tr_transcript *t, const char *path, char *err, size_t errlen) {
    tr_buf b = {0};
    int turn = 0;
    put_settings(&b, &t->settings);
    for (size_t i = 0; i < t->n; i++) {
        if (t->msgs[i].role == TR_USER || (t->msgs[i].role == TR_MODEL && !turn)) turn++;
        put_message(&b, &t->msgs[i], turn);
    }
    if (b.failed) {
        free(b.p);
        snprintf(err, errlen, "%s: out of memory while exporting", path ? path : "(no file)");
        return -1;
    }
    dev_t dev;
    ino_t o, n;
    int rc = tr_io_save(path, b.p, b.len, &dev, &o, &n, err, errlen);
    free(b.p);
    return rc;
}
