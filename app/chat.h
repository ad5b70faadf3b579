/* chat — one conversation driven through the model: renders turns in the Gemma 4 chat format,
 * feeds only what the KV cache does not already hold, samples and streams the reply.
 * The UI (TUI or plain mode) calls this and draws; nothing here prints.
 *
 * The conversation lives in the transcript (app/tr.h): TR_USER and TR_MODEL messages; the system
 * prompt is tr_settings.system.  A model message's text is the decoded reply including any
 * <|channel>…<channel|> thought span (the chat format strips it from later turns); on_text delivers
 * the same text without the markers and without the channel name "thought\n". */
#ifndef CHAT_H
#define CHAT_H
#include <stddef.h>
#include <stdint.h>
#include "app/tr.h"
#include "model/gm.h"
#include "model/smp.h"
#include "tokenizer/tok.h"

typedef struct chat chat;

typedef struct {
    const char *model_dir;   /* NULL: the bundled demo model */
    int threads;             /* 0: all cores */
    const char *quant;       /* NULL/"none", "q8", "q4" */
    int ctx;                 /* 0: min(model max, 8192) */
    /* sampling overrides; NaN / -1 keep the generation_config.json default */
    double temp, top_p, min_p;
    int top_k;
    long long seed;          /* -1: random */
    int max_new;             /* 0: until a stop id or the context is full */
    const char *system;      /* NULL: none */
    int think;
} chat_opts;
void chat_opts_default(chat_opts *o);

/* Callbacks, all optional; called on the calling thread between chunks / tokens. */
typedef struct {
    void *ud;
    /* New reply text (complete UTF-8 only).  thought: 1 inside the thought channel. */
    void (*on_text)(void *ud, const char *text, size_t len, int thought);
    /* Prefill progress: done of total new tokens. */
    void (*on_prefill)(void *ud, int done, int total);
    /* Polled often (at least every 0.1 s of work): non-zero stops the reply / cancels the prefill. */
    int (*cancelled)(void *ud);
    /* Something the user should know (e.g. "dropped the oldest exchange to fit the context"). */
    void (*on_notice)(void *ud, const char *msg);
} chat_cb;

int chat_create(chat **out, const chat_opts *o, char *err, size_t errlen);
void chat_free(chat *c);

/* Sends a user message and generates the reply.  Returns 0 (reply done, stopped or cut by length),
 * 1 if cancelled during prefill (cache rolled back, message not added), <0 on error. */
int chat_send(chat *c, const char *text, size_t len, const chat_cb *cb, char *err, size_t errlen);

/* Editing the conversation.  Each truncates the KV cache to the first token that changed, so nothing
 * still valid is computed again.  Return values as chat_send; <0 with a message when there is
 * nothing to act on. */
int chat_retry(chat *c, const chat_cb *cb, char *err, size_t errlen);    /* new reply to the last
                                                                               message; the old one
                                                                               becomes an alternative */
int chat_undo(chat *c, char *err, size_t errlen);                         /* drops the last exchange */
int chat_forget(chat *c, char *err, size_t errlen);  /* drops the oldest exchange from the context */
/* Replaces user message msg (a transcript index) by text, dropping everything after it, and
 * generates a new reply.  On a cancelled prefill the conversation is left as it was. */
int chat_edit(chat *c, size_t msg, const char *text, size_t len, const chat_cb *cb,
              char *err, size_t errlen);
/* Shows alternative k of reply msg instead of the current one (which becomes alternative k); the
 * cache keeps what the two share and the next turn feeds the rest. */
int chat_select_alt(chat *c, size_t msg, size_t k, char *err, size_t errlen);
/* Replaces the conversation by t (ownership passes to the chat, also on failure) and takes its
 * settings (chat_use_settings).  The cache is refilled by chat_warm, or else on the next turn. */
int chat_set_transcript(chat *c, tr_transcript *t, char *err, size_t errlen);
/* Takes the settings of s: sampling, reply limit, thinking, system prompt; the random stream goes on
 * from s->state, so a loaded chat continues exactly as it would have without the restart. */
int chat_use_settings(chat *c, const tr_settings *s, char *err, size_t errlen);
/* Rebuilds the KV cache for the conversation as it stands (after --resume, --load, /load), so the
 * next turn starts at once: a prefill with cb->on_prefill progress, cancellable through
 * cb->cancelled.  Returns 0, 1 when cancelled (what was computed stays; the next turn feeds the
 * rest), <0 on error. */
int chat_warm(chat *c, const chat_cb *cb, char *err, size_t errlen);

/* Autosave: saves the conversation to path now, journals every change beside it and saves it again
 * after a reply once the journal has grown enough to be worth it (tr_checkpoint_due: after every
 * reply of a short chat).  A later chat_set_transcript continues in a new file in the same directory. */
int chat_autosave(chat *c, const char *path, char *err, size_t errlen);
const char *chat_autosave_path(const chat *c);   /* NULL: not autosaving */
/* Saves everything now: a snapshot over the autosave file, which also covers the journal's waiting
 * tokens (if the snapshot fails, the journal is flushed instead).  For SIGTERM/SIGHUP and every other
 * exit.  Not async-signal-safe: a signal handler only sets a flag; cb->cancelled reports it so a
 * reply or prefill in progress stops (the reply is kept, stopped early), and the main loop calls
 * this afterwards.  0 when saved or not autosaving; <0 with err. */
int chat_emergency_save(chat *c, char *err, size_t errlen);

/* Replay: what replaces the settings each reply was saved with (NaN / -1 / NULL: as saved). */
typedef struct {
    double temp, top_p, min_p;
    int top_k, max_new, think;
    long long seed;          /* >= 0: one random stream from this seed instead of the saved states */
    const char *system;
} chat_replay_opts;
void chat_replay_opts_default(chat_replay_opts *o);
/* Sends user message i of src again and regenerates its reply as it was made: the sampler settings
 * and random state, reply limit, thinking mode, system prompt and context start recorded with the
 * saved reply (tr_gen; none recorded: the settings in force) are put in place first, the earlier
 * replies of the turn (its alternatives) are regenerated too, in their order and without on_text,
 * and a reply the user had interrupted is interrupted after as many tokens.  With the same model
 * the new replies are then identical token for token.  Returns 0, 1 if cancelled during prefill,
 * 2 if cb->cancelled stopped a reply (kept, stopped early), <0 on error. */
int chat_replay(chat *c, tr_transcript *src, size_t i, const chat_replay_opts *o, const chat_cb *cb, char *err,
                size_t errlen);

/* Settings, applied from the next turn on (and recorded in the transcript's settings). */
void chat_set_sampling(chat *c, const smp_params *p, int reseed);
const smp_params *chat_sampling(const chat *c);
const smp_params *chat_default_sampling(const chat *c);   /* from generation_config.json */
void chat_set_max_new(chat *c, int max_new);              /* 0: no limit */
int chat_max_new(const chat *c);
void chat_set_think(chat *c, int on);
int chat_think(const chat *c);
int chat_set_system(chat *c, const char *text, char *err, size_t errlen);   /* NULL: none */
const char *chat_system(const chat *c);                   /* NULL: none */

/* What the model sees and what it cost. */
typedef struct {
    long long prefill_new;       /* tokens computed by prefill, whole session */
    long long prefill_cached;    /* prompt tokens found already in the cache, whole session */
    long long generated;         /* tokens sampled, whole session */
} chat_totals;
void chat_get_totals(const chat *c, chat_totals *t);
typedef struct {
    int used, size;              /* tokens in the cache / the context length */
    int system;                  /* <bos> and the system turn */
    int last_reply;              /* the last reply as the cache holds it (thinking included) */
    int thinking;                /* its thought tokens: in the cache until the next turn re-renders */
    int history;                 /* everything else */
    int exchanges, dropped;      /* exchanges in the context / kept out of it (context full, /forget) */
} chat_context;
int chat_get_context(chat *c, chat_context *out, char *err, size_t errlen);
size_t chat_first_in_context(const chat *c);              /* index of the first message the model sees */
const int32_t *chat_cache_ids(const chat *c, int *n);     /* the ids held in the KV cache, in order */
/* The ids that end a reply: generation_config.json's eos_token_id and <turn|>. */
int chat_stop_ids(const chat *c, const int32_t **ids);
const char *chat_model_dir(const chat *c);
/* 1 when t was saved with another model configuration (both config hashes known and different):
 * its replies will not replay the same. */
int chat_other_model(const chat *c, tr_transcript *t);
const char *chat_weights(const chat *c);                  /* "bf16", "q8", ... */

tr_transcript *chat_transcript(chat *c);
const cfg_model *chat_config(const chat *c);
const tok_tokenizer *chat_tokenizer(const chat *c);
smp_sampler *chat_sampler(chat *c);
int chat_ctx_used(const chat *c);
int chat_ctx_size(const chat *c);
#endif
