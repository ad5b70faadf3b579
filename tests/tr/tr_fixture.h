/* Shared by tests/test_tr*.c: a sample transcript that exercises every field, a deep comparison,
 * and scratch directories. */
#ifndef TR_FIXTURE_H
#define TR_FIXTURE_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "app/tr.h"

#define FX_LIT(s) s, sizeof(s) - 1

static inline int fx_msg(tr_transcript *t, tr_role role, const char *text, size_t len, int n_ids, const char *stop) {
    int32_t ids[64];
    for (int i = 0; i < n_ids && i < 64; i++) ids[i] = 1000 + i * 7 + (int)role;
    tr_message m = {.role = role, .text = (char *)text, .len = len, .ids = ids, .n_ids = (size_t)n_ids};
    snprintf(m.stop, sizeof m.stop, "%s", stop);
    m.prefill_new = 17, m.prefill_cached = 230, m.thought_tokens = role == TR_MODEL ? 3 : 0;
    /* a timing that happens to be exactly a float, whose float-shortest text ("4.66926") would read
     * back as another double: timings must keep all their digits (a flaky CI run found this) */
    m.prefill_ms = 12.25, m.gen_ms = (double)4.66926f;
    return tr_append(t, &m);
}

/* Every kind of content: NUL bytes, bad UTF-8, emoji, alternatives, a system message, odd numbers. */
static inline tr_transcript *fx_sample(void) {
    tr_transcript *t;
    if (tr_create(&t)) return NULL;
    tr_settings *s = tr_settings_of(t);
    snprintf(s->model_dir, sizeof s->model_dir, "/models/gemma-4-e2b \"quoted\" \\ dir");
    memset(s->config_hash, 'a', 64), s->config_hash[64] = 0;
    s->temp = 0.7, s->top_p = 0.95, s->min_p = NAN, s->top_k = 64, s->max_new = 512, s->think = 1;
    s->seed = UINT64_C(9223372036854775813);
    s->state = UINT64_C(18446744073709551557);
    tr_set_system(t, "You are terse.\nAnswer in \"English\" \xe6\xbc\xa2\xe5\xad\x97 \xf0\x9f\x98\x80");
    fx_msg(t, TR_SYSTEM, FX_LIT("system note"), 0, "");
    fx_msg(t, TR_USER, FX_LIT("hello\0world\n\t\x01 \xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x9a\x80"), 5, "");
    int r = fx_msg(t, TR_MODEL, FX_LIT("first reply"), 9, "stop_id");
    /* generation records: one under an earlier system prompt, one under the transcript's, one with none */
    tr_gen g = {.set = 1, .temp = 0.5, .top_p = 0.9, .min_p = NAN, .top_k = 40, .max_new = 64, .think = 1,
                .seed = 7, .state = UINT64_C(0xfedcba9876543210), .context_from = 1, .system = "an earlier prompt"};
    tr_set_gen(t, (size_t)r, &g);
    tr_push_alt(t, (size_t)r);
    g.system = s->system, g.state++, g.temp = 0, g.context_from = 0;
    tr_set_gen(t, (size_t)r, &g);
    tr_extend(t, (const int32_t[]){5, 6, 7}, 3, "second ", 7);
    tr_extend(t, (const int32_t[]){8}, 1, "reply\0!", 7);
    tr_end(t, "length");
    fx_msg(t, TR_USER, FX_LIT("bad bytes \xff\xfe\xc0\x80 and a lone \xed\xa0\x80 surrogate"), 3, "");
    r = fx_msg(t, TR_MODEL, FX_LIT("partial"), 2, "stopped_early");
    g.system = NULL, g.think = 0, g.seed = UINT64_MAX, g.state = 0;
    tr_set_gen(t, (size_t)r, &g);
    return t;
}

/* "" when a and b are the same generation record, else which part differs. */
static inline const char *fx_gen_diff(const tr_gen *a, const tr_gen *b) {
    if (a->set != b->set) return "gen set";
    if (!a->set) return "";
    if (!(isnan(a->temp) ? isnan(b->temp) : a->temp == b->temp) ||
        !(isnan(a->top_p) ? isnan(b->top_p) : a->top_p == b->top_p) ||
        !(isnan(a->min_p) ? isnan(b->min_p) : a->min_p == b->min_p))
        return "gen numbers";
    if (a->top_k != b->top_k || a->max_new != b->max_new || a->think != b->think || a->seed != b->seed ||
        a->state != b->state || a->context_from != b->context_from)
        return "gen integers";
    if ((a->system == NULL) != (b->system == NULL) || (a->system && strcmp(a->system, b->system)))
        return "gen system";
    return "";
}

/* "" when a and b hold the same conversation, else what differs. */
static inline const char *fx_diff(tr_transcript *a, tr_transcript *b) {
    static char why[256];
    const tr_settings *x = tr_settings_of(a), *y = tr_settings_of(b);
#define FX_SAME_D(f) (isnan(x->f) ? isnan(y->f) : x->f == y->f)
    if (strcmp(x->model_dir, y->model_dir) || strcmp(x->config_hash, y->config_hash)) return "model";
    if (!FX_SAME_D(temp) || !FX_SAME_D(top_p) || !FX_SAME_D(min_p)) return "sampling numbers";
    if (x->top_k != y->top_k || x->max_new != y->max_new || x->think != y->think || x->seed != y->seed ||
        x->state != y->state)
        return "sampling integers";
    if ((x->system == NULL) != (y->system == NULL) || (x->system && strcmp(x->system, y->system))) return "system";
    if (tr_count(a) != tr_count(b)) return "message count";
    for (size_t i = 0; i < tr_count(a); i++) {
        tr_message *m = tr_at(a, i), *n = tr_at(b, i);
        snprintf(why, sizeof why, "message %zu", i);
        if (m->role != n->role || m->len != n->len || memcmp(m->text, n->text, m->len) || m->text[m->len] ||
            n->text[n->len] || m->n_ids != n->n_ids || (m->n_ids && memcmp(m->ids, n->ids, m->n_ids * 4)) ||
            strcmp(m->stop, n->stop) || m->prefill_new != n->prefill_new || m->prefill_cached != n->prefill_cached ||
            m->thought_tokens != n->thought_tokens || m->prefill_ms != n->prefill_ms || m->gen_ms != n->gen_ms ||
            m->n_alts != n->n_alts || *fx_gen_diff(&m->gen, &n->gen))
            return why;
        for (size_t k = 0; k < m->n_alts; k++) {
            tr_alt *p = &m->alts[k], *q = &n->alts[k];
            snprintf(why, sizeof why, "message %zu alternative %zu", i, k);
            if (p->len != q->len || memcmp(p->text, q->text, p->len) || p->n_ids != q->n_ids ||
                (p->n_ids && memcmp(p->ids, q->ids, p->n_ids * 4)) || strcmp(p->stop, q->stop) ||
                p->thought_tokens != q->thought_tokens || p->gen_ms != q->gen_ms || *fx_gen_diff(&p->gen, &q->gen))
                return why;
        }
    }
    return "";
#undef FX_SAME_D
}

/* A fresh scratch directory (removed by fx_rmdir). */
static inline char *fx_tmpdir(char *buf, size_t n) {
    const char *base = getenv("TMPDIR");
    snprintf(buf, n, "%s/trtestXXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(buf);
}

static inline void fx_rmdir(const char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
}

/* Whole file into a malloc'd buffer (NULL if unreadable). */
static inline char *fx_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    for (size_t r; b && (r = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (cap - n < 2) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
        }
    }
    fclose(f);
    if (b) b[n] = 0;
    if (len) *len = n;
    return b;
}

static inline int fx_write(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) || w != len ? -1 : 0;
}
#endif
