/* The chat core: the transcript is the truth, the KV cache a prefix of its rendering.  Every turn
 * re-renders the conversation, keeps the longest prefix the cache already holds and feeds the rest,
 * so edits, retries and thought stripping cost exactly the tokens that changed. */
#include "app/chat.h"
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "tokenizer/cf.h"

#ifndef GC_DEMO_DIR
#define GC_DEMO_DIR ""
#endif

enum {
    CHAT_REWIND = 1024,        /* positions kept beyond the sliding window for retry/undo */
    CHAT_MAX_CTX = 8192,       /* default context when the model allows more */
    CHAT_CHUNK_MIN = 8,        /* prefill chunk bounds; the size adapts to ~0.1 s of work */
    CHAT_CHUNK_MAX = 512,
};
#define CHAT_CHUNK_SECONDS 0.1
#define CHAT_WARN_FULL 0.9     /* warn once the context is this full */

struct chat {
    gm_model *m;
    gm_session *s;
    tok_tokenizer *tok;
    cf_variant variant;
    smp_sampler *smp;
    smp_params defaults;
    tr_transcript *tr;
    int32_t *fed;              /* the ids in the cache: n_fed == gm_session_pos */
    int n_fed;
    float *logits;             /* [vocab] scratch */
    float *saved;              /* logits after fed[0..saved_pos): a retry samples again for free */
    int saved_pos;             /* -1: none */
    int32_t stop[CFG_MAX_EOS + 1];
    int n_stop;
    int32_t id_open, id_close, id_turn_end;   /* -1 when the vocabulary lacks them */
    int ctx, vocab, max_new, think, warned;
    long interrupt_at;         /* >= 0: the reply stops after this many tokens (a replayed interruption) */
    int user_stopped;          /* the last reply was stopped by cb->cancelled */
    char *system;
    size_t first;              /* messages before this one are kept out of the context */
    chat_totals totals;
    char dir[PATH_MAX];
    char autosave[PATH_MAX];   /* "" when not autosaving */
    char config_hash[65];      /* of the model's config.json, recorded in every transcript */
};

void chat_opts_default(chat_opts *o) {
    memset(o, 0, sizeof *o);
    o->temp = o->top_p = o->min_p = NAN;
    o->top_k = -1;
    o->seed = -1;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* dir/name into out; -1 when it does not fit. */
static int path_join(char *out, size_t n, const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    if (a + 1 + b >= n) return -1;
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
    return 0;
}

static int dir_has_model(const char *dir) {
    char p[PATH_MAX];
    return path_join(p, sizeof p, dir, "config.json") == 0 && access(p, R_OK) == 0;
}

/* The bundled demo: the build's models/tiny-chat, else ../models/tiny-chat beside the executable. */
static void demo_dir(char *out, size_t n) {
    snprintf(out, n, "%s", GC_DEMO_DIR);
    if (*out && dir_has_model(out)) return;
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) return;
    exe[k] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    path_join(out, n, exe, "../models/tiny-chat");
}

static uint64_t random_seed(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32)) &
           0x7fffffffffffffffULL;
}

static void stop_add(chat *c, int id) {
    if (id < 0 || c->n_stop >= (int)(sizeof c->stop / sizeof *c->stop)) return;
    for (int i = 0; i < c->n_stop; i++)
        if (c->stop[i] == id) return;
    c->stop[c->n_stop++] = id;
}

static int is_stop(const chat *c, int id) {
    for (int i = 0; i < c->n_stop; i++)
        if (c->stop[i] == id) return 1;
    return 0;
}

/* Mirrors the settings into the transcript, which saves them with the conversation. */
static void sync_settings(chat *c) {
    tr_settings *t = tr_settings_of(c->tr);
    const smp_params *p = smp_get(c->smp);
    snprintf(t->model_dir, sizeof t->model_dir, "%s", c->dir);
    memcpy(t->config_hash, c->config_hash, sizeof t->config_hash);
    t->temp = p->temp;
    t->top_p = p->top_p;
    t->min_p = p->min_p;
    t->top_k = p->top_k;
    t->seed = p->seed;
    t->state = smp_state(c->smp);
    t->max_new = c->max_new;
    t->think = c->think;
    if ((t->system == NULL) != (c->system == NULL) || (c->system && strcmp(t->system, c->system)))
        tr_set_system(c->tr, c->system);   /* out of memory: the saved copy lags, the chat is unaffected */
}

int chat_create(chat **out, const chat_opts *o, char *err, size_t errlen) {
    *out = NULL;
    chat *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char given[PATH_MAX];
    if (o->model_dir && *o->model_dir)
        snprintf(given, sizeof given, "%s", o->model_dir);
    else
        demo_dir(given, sizeof given);
    if (!realpath(given, c->dir)) snprintf(c->dir, sizeof c->dir, "%s", given);   /* the load names it */
    c->saved_pos = -1;
    c->interrupt_at = -1;
    c->id_open = c->id_close = c->id_turn_end = -1;
    gm_load_opts lo = {.threads = o->threads, .quant = o->quant};
    if (gm_load(&c->m, c->dir, &lo, err, errlen) < 0) goto fail;
    const cfg_model *cfg = gm_config(c->m);
    char p[PATH_MAX];
    if (path_join(p, sizeof p, c->dir, "tokenizer.json") < 0) {
        snprintf(err, errlen, "%s: path too long", c->dir);
        goto fail;
    }
    if (tok_load(&c->tok, p, err, errlen) < 0) goto fail;
    c->variant = cf_detect_dir(c->dir);
    c->vocab = cfg->vocab;
    c->ctx = o->ctx > 0 ? o->ctx : (cfg->max_pos > 0 && cfg->max_pos < CHAT_MAX_CTX ? cfg->max_pos : CHAT_MAX_CTX);
    if (gm_session_create(&c->s, c->m, c->ctx, CHAT_REWIND, err, errlen) < 0) goto fail;

    c->defaults = (smp_params){
        .temp = cfg->do_sample ? (float)cfg->temperature : 0.0f,
        .top_k = cfg->top_k,
        .top_p = cfg->top_p > 0 ? (float)cfg->top_p : 1.0f,
        .min_p = (float)cfg->min_p,
    };
    smp_params sp = c->defaults;
    if (!isnan(o->temp)) sp.temp = (float)o->temp;
    if (!isnan(o->top_p)) sp.top_p = (float)o->top_p;
    if (!isnan(o->min_p)) sp.min_p = (float)o->min_p;
    if (o->top_k >= 0) sp.top_k = o->top_k;
    sp.seed = o->seed >= 0 ? (uint64_t)o->seed : random_seed();
    c->max_new = o->max_new > 0 ? o->max_new : 0;
    c->think = o->think != 0;

    for (int i = 0; i < cfg->n_eos; i++) stop_add(c, cfg->eos_ids[i]);
    c->id_turn_end = tok_id(c->tok, "<turn|>");
    stop_add(c, c->id_turn_end);
    c->id_open = tok_id(c->tok, "<|channel>");
    c->id_close = tok_id(c->tok, "<channel|>");

    c->fed = malloc((size_t)c->ctx * sizeof *c->fed);
    c->logits = malloc((size_t)c->vocab * sizeof *c->logits);
    c->saved = malloc((size_t)c->vocab * sizeof *c->saved);
    if (!c->fed || !c->logits || !c->saved || smp_create(&c->smp, &sp, c->vocab) < 0 ||
        tr_create(&c->tr) < 0 || (o->system && !(c->system = strdup(o->system)))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (path_join(p, sizeof p, c->dir, "config.json") < 0 || tr_sha256_file(p, c->config_hash, err, errlen) < 0)
        c->config_hash[0] = 0;   /* unknown: a loaded chat is then not checked against it */
    sync_settings(c);
    *out = c;
    return 0;
fail:
    chat_free(c);
    return -1;
}

void chat_free(chat *c) {
    if (!c) return;
    tr_free(c->tr);
    smp_free(c->smp);
    gm_session_free(c->s);
    tok_free(c->tok);
    gm_free(c->m);
    free(c->fed);
    free(c->logits);
    free(c->saved);
    free(c->system);
    free(c);
}

/* ---- the cache as a prefix of the rendered conversation ------------------------------------ */

/* Renders the system prompt and messages [c->first, upto) to ids. */
static int render(chat *c, size_t upto, int gen_prompt, int32_t **ids, size_t *n, char *err, size_t errlen) {
    cf_message *msgs = calloc(upto - c->first + 1, sizeof *msgs);
    if (!msgs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t k = 0;
    if (c->system) msgs[k++] = (cf_message){"system", c->system, strlen(c->system)};
    for (size_t i = c->first; i < upto; i++) {
        const tr_message *m = tr_at(c->tr, i);
        if (m->role == TR_SYSTEM) continue;
        msgs[k++] = (cf_message){m->role == TR_USER ? "user" : "assistant", m->text ? m->text : "",
                                 m->text ? m->len : 0};
    }
    char *text = NULL;
    size_t len = 0;
    int rc = cf_render(c->variant, msgs, k, gen_prompt, c->think, &text, &len, err, errlen);
    free(msgs);
    if (rc < 0) return -1;
    rc = tok_encode(c->tok, text, len, ids, n, err, errlen);
    free(text);
    return rc < 0 ? -1 : 0;
}

static int cache_truncate(chat *c, int pos) {
    if (pos >= c->n_fed) return c->n_fed;
    c->n_fed = gm_session_truncate(c->s, pos);
    if (c->saved_pos > c->n_fed) c->saved_pos = -1;
    return c->n_fed;
}

static int common_prefix(const chat *c, const int32_t *ids, size_t n) {
    int k = 0;
    while (k < c->n_fed && (size_t)k < n && c->fed[k] == ids[k]) k++;
    return k;
}

static int cache_feed(chat *c, const int32_t *ids, int n, float *logits, char *err, size_t errlen) {
    if (gm_session_feed(c->s, ids, n, logits, 0, err, errlen) < 0) return -1;
    memcpy(c->fed + c->n_fed, ids, (size_t)n * sizeof *ids);
    c->n_fed += n;
    return 0;
}

/* Truncates the cache to what the conversation (without a generation prompt) still shares with it. */
static int cache_sync(chat *c, char *err, size_t errlen) {
    int32_t *ids;
    size_t n;
    if (render(c, tr_count(c->tr), 0, &ids, &n, err, errlen) < 0) return -1;
    cache_truncate(c, common_prefix(c, ids, n));
    free(ids);
    return 0;
}

/* The first user message after message i, or upto if none: where the next exchange starts. */
static size_t next_exchange(chat *c, size_t i, size_t upto) {
    for (size_t j = i + 1; j < upto; j++)
        if (tr_at(c->tr, j)->role == TR_USER) return j;
    return upto;
}

static void notice(const chat_cb *cb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notice(const chat_cb *cb, const char *fmt, ...) {
    if (!cb || !cb->on_notice) return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cb->on_notice(cb->ud, msg);
}

/* Room a reply needs beside its prompt. */
static int reply_reserve(const chat *c) {
    int r = c->max_new > 0 ? c->max_new : c->ctx / 8;
    if (r < 64) r = 64;
    return r < c->ctx / 2 ? r : c->ctx / 2;
}

/* Renders messages [from, at), from becoming c->first (gen_prompt 1: with the generation prompt);
 * fits: the prompt and a reply's room fit the context. */
static int render_from(chat *c, size_t from, size_t at, int gen_prompt, int32_t **ids, size_t *n, int *fits,
                       char *err, size_t errlen) {
    c->first = from;
    if (render(c, at, gen_prompt, ids, n, err, errlen) < 0) return -1;
    *fits = (long long)*n + reply_reserve(c) <= c->ctx;
    return 0;
}

/* Renders the prompt for a reply at message index `at` (gen_prompt 0: the conversation up to there,
 * as a resumed chat's cache holds it), dropping the oldest whole exchanges until prompt and reply fit
 * the context.  Which exchange to start from is found by bisection, so a long chat costs a few
 * renders, not one per dropped exchange. */
static int fit_prompt(chat *c, size_t at, int gen_prompt, const chat_cb *cb, int32_t **ids, size_t *n, char *err,
                      size_t errlen) {
    size_t old = c->first, k = 0, *starts = NULL;
    int fits;
    if (render_from(c, old, at, gen_prompt, ids, n, &fits, err, errlen) < 0) return -1;
    if (fits) return 0;
    /* the later exchanges that could open the context, oldest first */
    for (size_t j = next_exchange(c, old, at); j < at; j = next_exchange(c, j, at)) {
        size_t *more = realloc(starts, (k + 1) * sizeof *starts);
        if (!more) {
            free(starts);
            free(*ids);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        starts = more;
        starts[k++] = j;
    }
    if (!k) {   /* only the current exchange: no room to spare, but a reply can start */
        if ((long long)*n < c->ctx) return 0;
        snprintf(err, errlen, "the message is too long: %zu tokens, the context holds %d (see --ctx)", *n, c->ctx);
        free(*ids);
        return -1;
    }
    free(*ids);
    size_t lo = 0, hi = k - 1;   /* the earliest start that fits; the last one when none does */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (render_from(c, starts[mid], at, gen_prompt, ids, n, &fits, err, errlen) < 0) goto fail;
        free(*ids);
        if (fits) hi = mid;
        else lo = mid + 1;
    }
    if (render_from(c, starts[lo], at, gen_prompt, ids, n, &fits, err, errlen) < 0) goto fail;
    free(starts);
    if (!fits && (long long)*n >= c->ctx) {
        snprintf(err, errlen, "the message is too long: %zu tokens, the context holds %d (see --ctx)", *n, c->ctx);
        free(*ids);
        return -1;
    }
    notice(cb, "context full: dropped the oldest %zu exchange%s (%zu messages now out of context)", lo + 1,
           lo ? "s" : "", c->first);
    return 0;
fail:
    free(starts);
    return -1;
}

/* Feeds prompt[from..n) in chunks sized to about CHAT_CHUNK_SECONDS, polling cancel between them;
 * the last chunk leaves the logits of the prompt's last token in c->logits.  1: cancelled. */
static int prefill(chat *c, const int32_t *prompt, int from, int n, const chat_cb *cb, char *err, size_t errlen) {
    int chunk = CHAT_CHUNK_MIN * 2, done = 0, total = n - from;
    if (cb && cb->on_prefill) cb->on_prefill(cb->ud, 0, total);
    while (from < n) {
        if (cb && cb->cancelled && cb->cancelled(cb->ud)) return 1;
        int k = n - from < chunk ? n - from : chunk;
        double t0 = now_ms();
        if (cache_feed(c, prompt + from, k, from + k == n ? c->logits : NULL, err, errlen) < 0) return -1;
        double rate = k / ((now_ms() - t0) / 1e3 + 1e-6);
        chunk = (int)(rate * CHAT_CHUNK_SECONDS);
        chunk = chunk < CHAT_CHUNK_MIN ? CHAT_CHUNK_MIN : chunk > CHAT_CHUNK_MAX ? CHAT_CHUNK_MAX : chunk;
        from += k;
        done += k;
        if (cb && cb->on_prefill) cb->on_prefill(cb->ud, done, total);
    }
    return 0;
}

/* ---- one reply ------------------------------------------------------------------------------ */

/* The shown side of a reply: complete UTF-8 goes to on_text, without the channel markers and the
 * channel name "thought\n" that opens a thought. */
typedef struct {
    const chat_cb *cb;
    int thought;
    char head[8];              /* the start of a thought, held until it is known not to be the name */
    size_t nhead;
    int in_head;
} shown;

static const char thought_name[] = "thought\n";

static void out_text(shown *sh, const char *s, size_t n) {
    if (n && sh->cb && sh->cb->on_text) sh->cb->on_text(sh->cb->ud, s, n, sh->thought);
}

static void show(shown *sh, const char *s, size_t n) {
    size_t i = 0;
    while (sh->in_head && i < n) {
        if (s[i] == thought_name[sh->nhead]) {
            sh->head[sh->nhead++] = s[i++];
            if (sh->nhead == sizeof sh->head) sh->in_head = 0, sh->nhead = 0;   /* the name: dropped */
        } else {
            out_text(sh, sh->head, sh->nhead);   /* ASCII, so it ends on a character boundary */
            sh->in_head = 0, sh->nhead = 0;
        }
    }
    out_text(sh, s + i, n - i);
}

static void show_end_head(shown *sh) {
    if (sh->in_head) out_text(sh, sh->head, sh->nhead);
    sh->in_head = 0, sh->nhead = 0;
}

/* Closes the open reply; its statistics are set first, so that the journal's end record has them. */
static void end_reply(tr_transcript *t, int thought_tokens, double t0, const char *stop) {
    tr_message *m = tr_at(t, tr_count(t) - 1);
    m->thought_tokens = thought_tokens;
    m->gen_ms = now_ms() - t0;
    tr_end(t, stop);   /* cannot fail: the message exists */
}

/* Samples the reply from c->logits into the open last message of the transcript (tr_extend, tr_end),
 * streaming it through cb.  The decoded text keeps the channel markers, so the chat format can strip
 * the thought from later turns. */
static int decode(chat *c, const chat_cb *cb, char *err, size_t errlen) {
    tr_transcript *t = c->tr;
    shown sh = {.cb = cb};
    tok_stream *ts;
    const char *stop = "length";
    int n_out = 0, thought_tokens = 0;
    double t0 = now_ms();
    c->user_stopped = 0;
    if (tok_stream_create(&ts, c->tok, 0) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (;;) {
        if ((c->interrupt_at >= 0 && n_out >= c->interrupt_at) ||
            (cb && cb->cancelled && (c->user_stopped = cb->cancelled(cb->ud) != 0))) {
            stop = "stopped_early";
            break;
        }
        int32_t id = smp_next(c->smp, c->logits);
        n_out++;
        c->totals.generated++;
        if (is_stop(c, id)) {
            if (tr_extend(t, &id, 1, NULL, 0) < 0) goto oom;
            stop = "stop_id";
            break;
        }
        size_t n;
        const char *s = tok_stream_push(ts, id, &n);
        if (tr_extend(t, &id, 1, s, n) < 0) goto oom;
        if (id == c->id_open || id == c->id_close) {
            size_t mlen = 0;
            const char *marker = tok_piece(c->tok, id, &mlen);
            int ends = marker && n >= mlen && !memcmp(s + n - mlen, marker, mlen);
            show(&sh, s, ends ? n - mlen : n);
            show_end_head(&sh);
            sh.thought = sh.in_head = id == c->id_open;
            thought_tokens++;
        } else {
            thought_tokens += sh.thought;
            show(&sh, s, n);
        }
        int last = c->max_new > 0 && n_out >= c->max_new;
        if (c->n_fed >= c->ctx) {
            notice(cb, "context full (%d tokens): the reply was cut; the next turn drops the oldest exchange",
                   c->ctx);
            break;
        }
        if (cache_feed(c, &id, 1, last ? NULL : c->logits, err, errlen) < 0) {
            stop = "stopped_early";
            goto end;
        }
        if (last) break;
    }
    size_t n;
    /* A reply cut inside a character keeps the exact decode (U+FFFD per stray byte) in the transcript,
     * but the screen only ever shows complete characters. */
    const char *s = tok_stream_flush(ts, &n);
    if (tr_extend(t, NULL, 0, s, n) < 0) goto oom;
    show_end_head(&sh);
    /* An interrupted reply stays in the context, closed as the model would have closed it. */
    if (!strcmp(stop, "stopped_early") && c->id_turn_end >= 0 && c->n_fed < c->ctx &&
        cache_feed(c, &c->id_turn_end, 1, NULL, err, errlen) < 0)
        goto end;
    end_reply(t, thought_tokens, t0, stop);
    tok_stream_free(ts);
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    stop = "stopped_early";
end:
    end_reply(t, thought_tokens, t0, stop);
    tok_stream_free(ts);
    return -1;
}

/* Opens the reply at message index `at` with its prefill statistics and generation record (head):
 * a new last message, whose journal record then holds them already, or (retry) the last message
 * with its old reply kept as an alternative. */
static int open_reply(chat *c, size_t at, const tr_message *head) {
    if (at == tr_count(c->tr)) return tr_append(c->tr, head) < 0 ? -1 : 0;
    if (tr_push_alt(c->tr, at) < 0 || tr_set_gen(c->tr, at, &head->gen) < 0) return -1;
    tr_message *m = tr_at(c->tr, at);
    m->prefill_new = head->prefill_new;
    m->prefill_cached = head->prefill_cached;
    m->prefill_ms = head->prefill_ms;
    return 0;
}

/* Generates the reply to messages [first, at) and stores it as message `at` (appended, or replacing
 * the last message, whose old reply becomes an alternative).  1: cancelled during prefill, nothing
 * changed. */
static int respond(chat *c, size_t at, const chat_cb *cb, char *err, size_t errlen) {
    size_t old_first = c->first;
    int32_t *prompt;
    size_t n;
    sync_settings(c);
    if (fit_prompt(c, at, 1, cb, &prompt, &n, err, errlen) < 0) {
        c->first = old_first;
        return -1;
    }
    double t0 = now_ms();
    /* The whole prompt cached: its saved logits serve, else its last token is fed again for them. */
    int keep = common_prefix(c, prompt, n);
    int from = cache_truncate(c, keep == (int)n && c->saved_pos != (int)n ? keep - 1 : keep);
    if (from == (int)n) {
        memcpy(c->logits, c->saved, (size_t)c->vocab * sizeof *c->logits);
    } else {
        int rc = prefill(c, prompt, from, (int)n, cb, err, errlen);
        if (rc != 0) {
            cache_truncate(c, from);
            c->first = old_first;
            free(prompt);
            return rc;
        }
        memcpy(c->saved, c->logits, (size_t)c->vocab * sizeof *c->saved);
        c->saved_pos = (int)n;
    }
    double prefill_ms = now_ms() - t0;
    c->totals.prefill_new += (int)n - from;
    c->totals.prefill_cached += from;
    tr_message *user = tr_at(c->tr, at - 1);
    if (!user->n_ids) {   /* first answer to it: record what its turn fed (a retry keeps that) */
        int32_t *fed = malloc(((size_t)n - from + 1) * sizeof *fed);
        if (!fed) {
            free(prompt);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        memcpy(fed, prompt + from, ((size_t)n - from) * sizeof *fed);
        free(user->ids);
        user->ids = fed, user->n_ids = (size_t)n - from;
    }
    free(prompt);
    const smp_params *p = smp_get(c->smp);
    tr_message head = {
        .role = TR_MODEL, .prefill_new = (int)n - from, .prefill_cached = from, .prefill_ms = prefill_ms,
        .gen = {.set = 1, .temp = p->temp, .top_k = p->top_k, .top_p = p->top_p, .min_p = p->min_p,
                .seed = p->seed, .state = smp_state(c->smp), .max_new = c->max_new, .think = c->think,
                .context_from = (int)c->first, .system = c->system}};
    if (open_reply(c, at, &head) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = decode(c, cb, err, errlen);
    sync_settings(c);   /* the random state moved on */
    if (rc < 0) return -1;
    char serr[1024];
    if (*c->autosave && tr_checkpoint_due(c->tr) && tr_checkpoint(c->tr, serr, sizeof serr) < 0)
        notice(cb, "autosave failed: %s", serr);
    if (c->n_fed >= CHAT_WARN_FULL * c->ctx && !c->warned) {
        notice(cb, "context %d%% full: the oldest exchanges will be dropped to make room",
               (int)(100.0 * c->n_fed / c->ctx));
        c->warned = 1;
    } else if (c->n_fed < CHAT_WARN_FULL * c->ctx) {
        c->warned = 0;
    }
    return 0;
}

static int append_user(chat *c, const char *text, size_t len, char *err, size_t errlen) {
    char *copy = malloc(len + 1);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(copy, text, len);
    copy[len] = 0;
    tr_message u = {.role = TR_USER, .text = copy, .len = len};
    int rc = tr_append(c->tr, &u);
    free(copy);
    if (rc < 0) snprintf(err, errlen, "out of memory");
    return rc < 0 ? -1 : 0;
}

int chat_send(chat *c, const char *text, size_t len, const chat_cb *cb, char *err, size_t errlen) {
    size_t at = tr_count(c->tr);
    if (append_user(c, text, len, err, errlen) < 0) return -1;
    int rc = respond(c, at + 1, cb, err, errlen);
    if (rc != 0) tr_truncate(c->tr, at);
    return rc;
}

int chat_retry(chat *c, const chat_cb *cb, char *err, size_t errlen) {
    size_t n = tr_count(c->tr);
    if (n < 2 || tr_at(c->tr, n - 1)->role != TR_MODEL || tr_at(c->tr, n - 2)->role != TR_USER ||
        n - 2 < c->first) {
        snprintf(err, errlen, "nothing to retry: the last message is not a reply");
        return -1;
    }
    return respond(c, n - 1, cb, err, errlen);
}

int chat_undo(chat *c, char *err, size_t errlen) {
    size_t n = tr_count(c->tr), u = n;
    while (u > 0 && tr_at(c->tr, u - 1)->role != TR_USER) u--;
    if (u == 0) {
        snprintf(err, errlen, "nothing to undo");
        return -1;
    }
    tr_truncate(c->tr, u - 1);
    if (c->first > u - 1) c->first = u - 1;
    return cache_sync(c, err, errlen);
}

int chat_forget(chat *c, char *err, size_t errlen) {
    size_t n = tr_count(c->tr), next = next_exchange(c, c->first, n);
    if (c->first >= n || next >= n) {
        snprintf(err, errlen, "nothing to forget: only the last exchange is in the context");
        return -1;
    }
    c->first = next;
    return cache_sync(c, err, errlen);
}

int chat_edit(chat *c, size_t msg, const char *text, size_t len, const chat_cb *cb, char *err, size_t errlen) {
    size_t n = tr_count(c->tr);
    if (msg >= n || tr_at(c->tr, msg)->role != TR_USER) {
        snprintf(err, errlen, "message %zu is not a user message", msg + 1);
        return -1;
    }
    /* The replaced tail is kept aside until the new reply has started. */
    tr_transcript *tail;
    if (tr_create(&tail) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = msg; i < n; i++)
        if (tr_append(tail, tr_at(c->tr, i)) < 0) {
            tr_free(tail);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    size_t old_first = c->first;
    tr_truncate(c->tr, msg);
    if (c->first > msg) c->first = msg;
    int rc = chat_send(c, text, len, cb, err, errlen);
    if (rc != 0) {
        for (size_t i = 0; i < tr_count(tail); i++) tr_append(c->tr, tr_at(tail, i));
        c->first = old_first;
    }
    tr_free(tail);
    return rc;
}

int chat_select_alt(chat *c, size_t msg, size_t k, char *err, size_t errlen) {
    if (tr_select_alt(c->tr, msg, k) < 0) {
        snprintf(err, errlen, "message %zu has no alternative %zu", msg + 1, k + 1);
        return -1;
    }
    return cache_sync(c, err, errlen);
}

int chat_autosave(chat *c, const char *path, char *err, size_t errlen) {
    if (strlen(path) >= sizeof c->autosave) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    if (tr_journal_open(c->tr, path, err, errlen) < 0) return -1;
    snprintf(c->autosave, sizeof c->autosave, "%s", path);
    return 0;
}

const char *chat_autosave_path(const chat *c) { return *c->autosave ? c->autosave : NULL; }

/* Sampler settings as saved; NaN (a file's null) is the model's default. */
static smp_params saved_params(const chat *c, double temp, int top_k, double top_p, double min_p, uint64_t seed) {
    smp_params p = c->defaults;
    if (!isnan(temp)) p.temp = (float)temp;
    if (!isnan(top_p)) p.top_p = (float)top_p;
    if (!isnan(min_p)) p.min_p = (float)min_p;
    p.top_k = top_k;
    p.seed = seed;
    return p;
}

/* Puts a system prompt, reply limit and thinking mode in place; the system prompt is kept when
 * memory runs out for its copy. */
static int use_prompt_settings(chat *c, const char *system, int max_new, int think, char *err, size_t errlen) {
    c->max_new = max_new > 0 ? max_new : 0;
    c->think = think != 0;
    return chat_set_system(c, system, err, errlen);
}

int chat_use_settings(chat *c, const tr_settings *s, char *err, size_t errlen) {
    smp_params p = saved_params(c, s->temp, s->top_k, s->top_p, s->min_p, s->seed);
    smp_set(c->smp, &p, 1);
    smp_set_state(c->smp, s->state);
    return use_prompt_settings(c, s->system, s->max_new, s->think, err, errlen);
}

int chat_set_transcript(chat *c, tr_transcript *t, char *err, size_t errlen) {
    tr_free(c->tr);
    c->tr = t;
    c->first = 0;
    /* the settings are copied out of t before sync_settings writes them back */
    tr_settings s = *tr_settings_of(t);
    s.system = NULL;
    if (tr_settings_of(t)->system && !(s.system = strdup(tr_settings_of(t)->system))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = chat_use_settings(c, &s, err, errlen);
    free(s.system);
    if (rc < 0) return -1;
    if (!*c->autosave) return 0;
    /* the loaded chat is autosaved beside the previous one, which stays as it was */
    char dir[PATH_MAX], path[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", c->autosave);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    *c->autosave = 0;
    if (tr_autosave_path(dir, time(NULL), path, sizeof path, err, errlen) < 0) return -1;
    return chat_autosave(c, path, err, errlen);
}

int chat_warm(chat *c, const chat_cb *cb, char *err, size_t errlen) {
    int32_t *ids;
    size_t n, old_first = c->first;
    if (!tr_count(c->tr)) return 0;
    if (fit_prompt(c, tr_count(c->tr), 0, cb, &ids, &n, err, errlen) < 0) {
        c->first = old_first;
        return -1;
    }
    int from = cache_truncate(c, common_prefix(c, ids, n));
    /* a cancel keeps what was computed: it is a prefix of the conversation all the same */
    int rc = from < (int)n ? prefill(c, ids, from, (int)n, cb, err, errlen) : 0;
    c->totals.prefill_new += c->n_fed - from;
    c->totals.prefill_cached += from;
    free(ids);
    return rc;
}

int chat_emergency_save(chat *c, char *err, size_t errlen) {
    if (!*c->autosave) return 0;
    sync_settings(c);
    if (tr_checkpoint(c->tr, err, errlen) == 0) return 0;
    char jerr[256];
    tr_journal_flush(c->tr, jerr, sizeof jerr);   /* the journal may still hold what the snapshot could not */
    return -1;
}

/* ---- replay --------------------------------------------------------------------------------- */

void chat_replay_opts_default(chat_replay_opts *o) {
    memset(o, 0, sizeof *o);
    o->temp = o->top_p = o->min_p = NAN;
    o->top_k = o->max_new = o->think = -1;
    o->seed = -1;
}

/* Puts in place what reply g was generated with (none recorded: the settings as they are), then the
 * overrides of o. */
static int replay_setup(chat *c, const tr_gen *g, const chat_replay_opts *o, size_t at, char *err, size_t errlen) {
    smp_params p = *smp_get(c->smp);
    if (g && g->set) {
        p = saved_params(c, g->temp, g->top_k, g->top_p, g->min_p, g->seed);
        if (use_prompt_settings(c, g->system, g->max_new, g->think, err, errlen) < 0) return -1;
        c->first = (size_t)g->context_from < at ? (size_t)g->context_from : at;
    }
    if (!isnan(o->temp)) p.temp = (float)o->temp;
    if (!isnan(o->top_p)) p.top_p = (float)o->top_p;
    if (!isnan(o->min_p)) p.min_p = (float)o->min_p;
    if (o->top_k >= 0) p.top_k = o->top_k;
    if (o->seed >= 0) p.seed = (uint64_t)o->seed;
    if (o->max_new >= 0) c->max_new = o->max_new;
    if (o->think >= 0) c->think = o->think != 0;
    if (o->system && chat_set_system(c, o->system, err, errlen) < 0) return -1;
    smp_set(c->smp, &p, 0);
    if (g && g->set && o->seed < 0) smp_set_state(c->smp, g->state);
    sync_settings(c);
    return 0;
}

int chat_replay(chat *c, tr_transcript *src, size_t i, const chat_replay_opts *o, const chat_cb *cb, char *err,
                size_t errlen) {
    const tr_message *u = tr_at(src, i), *saved = tr_at(src, i + 1);
    if (!u || u->role != TR_USER) {
        snprintf(err, errlen, "message %zu is not a user message", i + 1);
        return -1;
    }
    if (saved && saved->role != TR_MODEL) saved = NULL;
    size_t n_alts = saved ? saved->n_alts : 0;
    chat_cb quiet = cb ? *cb : (chat_cb){0};
    quiet.on_text = NULL;
    /* the alternatives first, then the reply shown: tr_push_alt keeps them in the saved order */
    for (size_t k = 0; k <= n_alts; k++) {
        const tr_gen *g = !saved ? NULL : k < n_alts ? &saved->alts[k].gen : &saved->gen;
        const char *stop = !saved ? "" : k < n_alts ? saved->alts[k].stop : saved->stop;
        size_t n_ids = !saved ? 0 : k < n_alts ? saved->alts[k].n_ids : saved->n_ids;
        if (replay_setup(c, g, o, tr_count(c->tr) - (k ? 2 : 0), err, errlen) < 0) return -1;
        c->interrupt_at = !strcmp(stop, "stopped_early") ? (long)n_ids : -1;
        const chat_cb *use = k < n_alts ? &quiet : cb;
        c->user_stopped = 0;
        int rc = k == 0 ? chat_send(c, u->text, u->len, use, err, errlen) : chat_retry(c, use, err, errlen);
        c->interrupt_at = -1;
        if (rc != 0) return rc;
        if (c->user_stopped) return 2;
    }
    return 0;
}

/* ---- settings and accessors ----------------------------------------------------------------- */

/* A setting the user changed: into the transcript and, when autosaving, at once into the journal
 * (a failure shows in tr_journal_error), so a crash right after does not lose it. */
static void settings_changed(chat *c) {
    char err[256];
    sync_settings(c);
    tr_journal_flush(c->tr, err, sizeof err);
}

void chat_set_sampling(chat *c, const smp_params *p, int reseed) {
    smp_set(c->smp, p, reseed);
    settings_changed(c);
}
const smp_params *chat_sampling(const chat *c) { return smp_get(c->smp); }
const smp_params *chat_default_sampling(const chat *c) { return &c->defaults; }
void chat_set_max_new(chat *c, int max_new) {
    c->max_new = max_new > 0 ? max_new : 0;
    settings_changed(c);
}
int chat_max_new(const chat *c) { return c->max_new; }
void chat_set_think(chat *c, int on) {
    c->think = on != 0;
    settings_changed(c);
}
int chat_think(const chat *c) { return c->think; }

int chat_set_system(chat *c, const char *text, char *err, size_t errlen) {
    char *copy = NULL;
    if (text && !(copy = strdup(text))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(c->system);
    c->system = copy;
    settings_changed(c);
    return 0;
}
const char *chat_system(const chat *c) { return c->system; }

void chat_get_totals(const chat *c, chat_totals *t) { *t = c->totals; }

static int count_exchanges(chat *c, size_t from, size_t to) {
    int n = 0;
    for (size_t i = from; i < to; i++) n += tr_at(c->tr, i)->role == TR_USER;
    return n;
}

int chat_get_context(chat *c, chat_context *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    out->used = c->n_fed;
    out->size = c->ctx;
    int32_t *ids;
    size_t n, count = tr_count(c->tr);
    if (render(c, c->first, 0, &ids, &n, err, errlen) < 0) return -1;
    free(ids);
    out->system = (int)n < c->n_fed ? (int)n : c->n_fed;
    const tr_message *last = count > c->first ? tr_at(c->tr, count - 1) : NULL;
    int reply = last ? (int)last->n_ids - !strcmp(last->stop, "stop_id") : 0;   /* a stop id is not fed */
    if (last && last->role == TR_MODEL && reply <= c->n_fed - out->system) {
        out->last_reply = reply;
        out->thinking = last->thought_tokens;
    }
    out->history = out->used - out->system - out->last_reply;
    out->exchanges = count_exchanges(c, c->first, count);
    out->dropped = count_exchanges(c, 0, c->first);
    return 0;
}
size_t chat_first_in_context(const chat *c) { return c->first; }
const int32_t *chat_cache_ids(const chat *c, int *n) {
    *n = c->n_fed;
    return c->fed;
}
int chat_stop_ids(const chat *c, const int32_t **ids) {
    *ids = c->stop;
    return c->n_stop;
}
const char *chat_model_dir(const chat *c) { return c->dir; }
int chat_other_model(const chat *c, tr_transcript *t) {
    const char *h = tr_settings_of(t)->config_hash;
    return *h && *c->config_hash && strcmp(h, c->config_hash) != 0;
}
const char *chat_weights(const chat *c) { return gm_weights_name(c->m); }
tr_transcript *chat_transcript(chat *c) { return c->tr; }
const cfg_model *chat_config(const chat *c) { return gm_config(c->m); }
const tok_tokenizer *chat_tokenizer(const chat *c) { return c->tok; }
smp_sampler *chat_sampler(chat *c) { return c->smp; }
int chat_ctx_used(const chat *c) { return c->n_fed; }
int chat_ctx_size(const chat *c) { return c->ctx; }
