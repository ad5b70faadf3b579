/* tr.c — the transcript in memory: messages, their alternatives, the settings.  Every change that
 * matters after a crash is also handed to the journal (tr_journal.c) when one is attached. */
#include "app/tr_int.h"
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tr_grow(void *pbuf, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 8;
    while (c < need) {
        if (c > SIZE_MAX / 2 / elem) return -1;
        c *= 2;
    }
    void *p = realloc(*(void **)pbuf, c * elem);
    if (!p) return -1;
    *(void **)pbuf = p;
    *cap = c;
    return 0;
}

void tr_buf_put(tr_buf *b, const char *s, size_t n) {
    if (b->failed || tr_grow(&b->p, &b->cap, b->len + n + 1, 1)) {
        b->failed = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

/* A NUL-terminated malloc'd copy of n bytes (n may be 0). */
static char *dup_bytes(const char *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, p, n);
    s[n] = 0;
    return s;
}

static int32_t *dup_ids(const int32_t *ids, size_t n) {
    int32_t *d = malloc(n ? n * sizeof *d : 1);
    if (d && n) memcpy(d, ids, n * sizeof *d);
    return d;
}

void tr_gen_clear(tr_gen *g) {
    free(g->system);
    memset(g, 0, sizeof *g);
}

int tr_gen_copy(tr_gen *dst, const tr_gen *src) {
    char *sys = src->system ? strdup(src->system) : NULL;
    if (src->system && !sys) return -1;
    free(dst->system);
    *dst = *src;
    dst->system = sys;
    return 0;
}

static void alt_clear(tr_alt *a) {
    free(a->text);
    free(a->ids);
    tr_gen_clear(&a->gen);
    memset(a, 0, sizeof *a);
}

void tr_message_clear(tr_message *m) {
    free(m->text);
    free(m->ids);
    for (size_t k = 0; k < m->n_alts; k++) alt_clear(&m->alts[k]);
    free(m->alts);
    tr_gen_clear(&m->gen);
    memset(m, 0, sizeof *m);
}

static int message_copy(tr_message *dst, const tr_message *src) {
    *dst = *src;
    dst->text = dup_bytes(src->text, src->text ? src->len : 0);
    dst->len = src->text ? src->len : 0;
    dst->ids = dup_ids(src->ids, src->ids ? src->n_ids : 0);
    dst->n_ids = src->ids ? src->n_ids : 0;
    dst->alts = src->n_alts ? calloc(src->n_alts, sizeof *dst->alts) : NULL;
    dst->n_alts = 0;
    dst->stop[sizeof dst->stop - 1] = 0;
    dst->gen.system = NULL;
    if (!dst->text || !dst->ids || (src->n_alts && !dst->alts) || tr_gen_copy(&dst->gen, &src->gen)) goto fail;
    for (size_t k = 0; k < src->n_alts; k++) {
        const tr_alt *a = &src->alts[k];
        tr_alt *b = &dst->alts[k];
        *b = *a;
        b->text = dup_bytes(a->text, a->text ? a->len : 0);
        b->len = a->text ? a->len : 0;
        b->ids = dup_ids(a->ids, a->ids ? a->n_ids : 0);
        b->n_ids = a->ids ? a->n_ids : 0;
        b->stop[sizeof b->stop - 1] = 0;
        b->gen.system = NULL;
        dst->n_alts++;
        if (!b->text || !b->ids || tr_gen_copy(&b->gen, &a->gen)) goto fail;
    }
    return 0;
fail:
    tr_message_clear(dst);
    return -1;
}

void tr_settings_clear(tr_settings *s) {
    free(s->system);
    memset(s, 0, sizeof *s);
}

int tr_settings_copy(tr_settings *dst, const tr_settings *src) {
    char *sys = src->system ? strdup(src->system) : NULL;
    if (src->system && !sys) return -1;
    free(dst->system);
    *dst = *src;
    dst->system = sys;
    return 0;
}

int tr_settings_equal(const tr_settings *a, const tr_settings *b) {
    if ((a->system == NULL) != (b->system == NULL)) return 0;
    if (a->system && strcmp(a->system, b->system)) return 0;
    return !strcmp(a->model_dir, b->model_dir) && !strcmp(a->config_hash, b->config_hash) && a->temp == b->temp &&
           a->top_p == b->top_p && a->min_p == b->min_p && a->top_k == b->top_k && a->max_new == b->max_new &&
           a->think == b->think && a->seed == b->seed && a->state == b->state;
}

int tr_create(tr_transcript **out) {
    tr_transcript *t = calloc(1, sizeof *t);
    if (!t) return -1;
    t->settings.temp = 1.0;
    t->settings.top_p = 1.0;
    *out = t;
    return 0;
}

void tr_free(tr_transcript *t) {
    if (!t) return;
    tr_journal_close(t);
    for (size_t i = 0; i < t->n; i++) tr_message_clear(&t->msgs[i]);
    free(t->msgs);
    tr_settings_clear(&t->settings);
    free(t->note);
    free(t);
}

tr_settings *tr_settings_of(tr_transcript *t) { return &t->settings; }

int tr_set_system(tr_transcript *t, const char *s) {
    char *c = s ? strdup(s) : NULL;
    if (s && !c) return -1;
    free(t->settings.system);
    t->settings.system = c;
    return 0;
}

size_t tr_count(const tr_transcript *t) { return t->n; }

tr_message *tr_at(tr_transcript *t, size_t i) { return i < t->n ? &t->msgs[i] : NULL; }

const char *tr_load_note(const tr_transcript *t) { return t->note ? t->note : ""; }

int tr_take(tr_transcript *t, tr_message *m) {
    if (t->n >= (size_t)INT32_MAX || tr_grow(&t->msgs, &t->cap, t->n + 1, sizeof *t->msgs)) return -1;
    t->msgs[t->n] = *m;
    memset(m, 0, sizeof *m);
    return (int)t->n++;
}

int tr_append(tr_transcript *t, const tr_message *m) {
    tr_message c;
    if (message_copy(&c, m)) return -1;
    int i = tr_take(t, &c);
    if (i < 0) {
        tr_message_clear(&c);
        return -1;
    }
    tr_journal_log_append(t, (size_t)i);
    return i;
}

void tr_truncate(tr_transcript *t, size_t from) {
    if (from >= t->n) return;
    while (t->n > from) tr_message_clear(&t->msgs[--t->n]);
    tr_journal_log_truncate(t, from);
}

int tr_push_alt(tr_transcript *t, size_t i) {
    if (i >= t->n || t->msgs[i].role != TR_MODEL) return -1;
    tr_message *m = &t->msgs[i];
    char *empty_text = dup_bytes("", 0);
    int32_t *empty_ids = malloc(sizeof *empty_ids);
    size_t cap = m->n_alts;
    if (!empty_text || !empty_ids || tr_grow(&m->alts, &cap, m->n_alts + 1, sizeof *m->alts)) {
        free(empty_text);
        free(empty_ids);
        return -1;
    }
    m->alts[m->n_alts++] = (tr_alt){.text = m->text, .len = m->len, .ids = m->ids, .n_ids = m->n_ids,
                                    .thought_tokens = m->thought_tokens, .gen_ms = m->gen_ms, .gen = m->gen};
    memcpy(m->alts[m->n_alts - 1].stop, m->stop, sizeof m->stop);
    memset(&m->gen, 0, sizeof m->gen);
    m->text = empty_text;
    m->len = 0;
    m->ids = empty_ids;
    m->n_ids = 0;
    m->stop[0] = 0;
    m->thought_tokens = 0;
    m->gen_ms = 0;
    tr_journal_log_alt(t, "push_alt", i, 0);
    return 0;
}

int tr_select_alt(tr_transcript *t, size_t i, size_t k) {
    if (i >= t->n || k >= t->msgs[i].n_alts) return -1;
    tr_message *m = &t->msgs[i];
    tr_alt *a = &m->alts[k], cur = *a;
    a->text = m->text, a->len = m->len, a->ids = m->ids, a->n_ids = m->n_ids;
    memcpy(a->stop, m->stop, sizeof a->stop);
    a->thought_tokens = m->thought_tokens, a->gen_ms = m->gen_ms, a->gen = m->gen;
    m->text = cur.text, m->len = cur.len, m->ids = cur.ids, m->n_ids = cur.n_ids;
    memcpy(m->stop, cur.stop, sizeof m->stop);
    m->thought_tokens = cur.thought_tokens, m->gen_ms = cur.gen_ms, m->gen = cur.gen;
    tr_journal_log_alt(t, "select_alt", i, k);
    return 0;
}

int tr_extend(tr_transcript *t, const int32_t *ids, size_t n_ids, const char *text, size_t len) {
    if (!t->n) return -1;
    tr_message *m = &t->msgs[t->n - 1];
    /* the message keeps no capacities, so ask the allocator: appends stay amortised O(1) */
    size_t cap_ids = m->ids ? malloc_usable_size(m->ids) / sizeof *m->ids : 0;
    size_t cap_text = m->text ? malloc_usable_size(m->text) : 0;
    if (n_ids && tr_grow(&m->ids, &cap_ids, m->n_ids + n_ids, sizeof *m->ids)) return -1;
    if (len && tr_grow(&m->text, &cap_text, m->len + len + 1, 1)) return -1;
    if (n_ids) memcpy(m->ids + m->n_ids, ids, n_ids * sizeof *ids);
    if (len) memcpy(m->text + m->len, text, len);
    m->n_ids += n_ids;
    m->len += len;
    if (m->text) m->text[m->len] = 0;
    tr_journal_log_extend(t, ids, n_ids, text, len);
    return 0;
}

int tr_set_gen(tr_transcript *t, size_t i, const tr_gen *g) {
    return i < t->n && !tr_gen_copy(&t->msgs[i].gen, g) ? 0 : -1;
}

int tr_end(tr_transcript *t, const char *stop) {
    if (!t->n) return -1;
    tr_message *m = &t->msgs[t->n - 1];
    snprintf(m->stop, sizeof m->stop, "%s", stop ? stop : "");
    tr_journal_log_end(t);
    return 0;
}
