/* tr — conversations on disk: a versioned JSON transcript (json-c), saved atomically, plus an
 * append-only journal beside it so a crash loses at most about a second of a reply.
 * The transcript is the conversation's single store: the chat core keeps its messages here.
 * The format and the journal are described in docs/transcript.md.  Not thread-safe: one thread
 * owns a transcript. */
#ifndef TR_H
#define TR_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef enum { TR_SYSTEM = 0, TR_USER, TR_MODEL } tr_role;

/* How a reply was generated, so that a replay can generate it again token for token even when
 * settings changed mid-chat or earlier replies were retried.  system is malloc'd (NULL: none) and
 * owned by the message. */
typedef struct {
    int set;                        /* 0: not recorded (a version-1 file, or not generated here) */
    double temp, top_p, min_p;      /* the sampler's settings (NaN: the model's default) */
    int top_k, max_new, think;
    uint64_t seed;                  /* the seed the random stream was last started from */
    uint64_t state;                 /* the sampler's random state when the reply began */
    int context_from;               /* index of the first message the model saw (older ones dropped) */
    char *system;                   /* the system prompt in force */
} tr_gen;

typedef struct {
    char *text;  size_t len;        /* reply text (as shown), malloc'd, NUL-terminated */
    int32_t *ids; size_t n_ids;     /* ids the model produced (stop id included if any) */
    char stop[16];                  /* "stop_id", "length", "stopped_early" */
    int thought_tokens;
    double gen_ms;
    tr_gen gen;
} tr_alt;

/* text, ids and alts are malloc'd and owned by the transcript (tr_free releases them); in a message
 * held by a transcript, text and ids are never NULL. */
typedef struct {
    tr_role role;
    char *text;  size_t len;        /* UTF-8, may hold any bytes; NUL-terminated too */
    int32_t *ids; size_t n_ids;     /* user: the ids fed for this turn; model: ids produced */
    char stop[16];                  /* model turns: "stop_id", "length", "stopped_early"; else "" */
    int prefill_new, prefill_cached;/* tokens prefilled for this turn / found already in the cache */
    int thought_tokens;             /* model turns: tokens inside the thought channel */
    double prefill_ms, gen_ms;
    tr_alt *alts; size_t n_alts;    /* earlier replies replaced by /retry (model turns) */
    tr_gen gen;                     /* model turns: how the reply was generated */
} tr_message;

typedef struct {
    char model_dir[4096];
    char config_hash[65];           /* hex sha256 of config.json ("" when unknown) */
    double temp, top_p, min_p;
    int top_k, max_new, think;      /* think: 0 or 1 */
    uint64_t seed;
    uint64_t state;                 /* the sampler's random state now: where the next reply's stream
                                       starts (tr_create and a file without one: the seed) */
    char *system;                   /* system prompt or NULL; malloc'd, owned by the transcript */
} tr_settings;

typedef struct tr_transcript tr_transcript;

int tr_create(tr_transcript **out);
void tr_free(tr_transcript *t);     /* flushes and closes an attached journal */
tr_settings *tr_settings_of(tr_transcript *t);
/* Replaces the system prompt with a copy of s (NULL: none). */
int tr_set_system(tr_transcript *t, const char *s);
size_t tr_count(const tr_transcript *t);
tr_message *tr_at(tr_transcript *t, size_t i);
/* Appends a copy of m (deep copy); returns its index or -1 on allocation failure. */
int tr_append(tr_transcript *t, const tr_message *m);
/* Removes messages [from, count). */
void tr_truncate(tr_transcript *t, size_t from);
/* Moves the reply of message i into its alternatives (for /retry); message i is left an empty,
 * open reply that tr_extend/tr_end fill when it is the last message. */
int tr_push_alt(tr_transcript *t, size_t i);
/* Swaps the reply of message i with its alternative k (for flipping between replies). */
int tr_select_alt(tr_transcript *t, size_t i, size_t k);

/* Streaming a reply: tr_append an empty model message, then tr_extend it as tokens come (text is
 * what those tokens added to the shown reply; either part may be empty), then tr_end it.  Set the
 * stat fields (prefill_*, thought_tokens, *_ms) and gen (tr_set_gen) before tr_end: the journal
 * records them with the stop reason.  Both act on the last message; -1 when there is none or memory
 * ran out. */
int tr_extend(tr_transcript *t, const int32_t *ids, size_t n_ids, const char *text, size_t len);
int tr_end(tr_transcript *t, const char *stop);
/* Replaces the generation record of message i by a copy of g; -1 on a bad index or no memory. */
int tr_set_gen(tr_transcript *t, size_t i, const tr_gen *g);

/* Atomic save: temp file in the same dir, fsync, rename, fsync of the dir.  On any failure the old
 * file is untouched and the transcript in memory is unchanged.  A path that exists and is not a
 * regular file (/dev/full, /dev/stdout) is written in place.  Saving over the journal's snapshot
 * starts the journal afresh. */
int tr_save(const tr_transcript *t, const char *path, char *err, size_t errlen);
/* Loads a transcript and replays its journal (path + ".journal") when the journal belongs to this
 * snapshot (the snapshot's "id").  A torn last journal record is ignored; an unfinished reply comes
 * back with stop "stopped_early".  Any damage to the snapshot itself is an error naming the file. */
int tr_load(tr_transcript **out, const char *path, char *err, size_t errlen);
/* What tr_load recovered from the journal ("" when nothing): for a notice to the user. */
const char *tr_load_note(const tr_transcript *t);
/* Readable Markdown. */
int tr_export_md(const tr_transcript *t, const char *path, char *err, size_t errlen);

/* Journal (autosave): saves the transcript to path, then logs every change to path + ".journal":
 * tr_append, tr_truncate, tr_push_alt, tr_select_alt and tr_end at once (write + fdatasync), and
 * tr_extend tokens in batches, when 16 tokens are waiting or the oldest waiting one is 1 s old.
 * A journal that cannot be written does not fail those calls: see tr_journal_error. */
int tr_journal_open(tr_transcript *t, const char *path, char *err, size_t errlen);
/* Saves the snapshot at the journal's path (the autosave after each turn); starts the journal afresh. */
int tr_checkpoint(tr_transcript *t, char *err, size_t errlen);
/* Whether a checkpoint is worth its cost now: the journal has grown to a quarter of the snapshot, or
 * it is paused by a failure.  Until then every change is safe in the journal alone, and a long
 * chat does not rewrite its whole snapshot after every turn. */
int tr_checkpoint_due(const tr_transcript *t);
/* Writes waiting tokens now (e.g. when the reply stalls). */
int tr_journal_flush(tr_transcript *t, char *err, size_t errlen);
/* Flushes and detaches the journal (tr_free does this too). */
void tr_journal_close(tr_transcript *t);
/* The last journal failure, or NULL while it works (for the status bar). */
const char *tr_journal_error(const tr_transcript *t);

/* Hex sha256 of a file's bytes (the config hash). */
int tr_sha256_file(const char *path, char hex[65], char *err, size_t errlen);

/* Chats on disk: $XDG_DATA_HOME/gemmachat/chats (default ~/.local/share/gemmachat/chats); made
 * (mode 0700) when create is set. */
int tr_chats_dir(char *out, size_t outlen, int create, char *err, size_t errlen);
/* A new autosave path in dir named after the local time now ("chat-20250131-142501.json", with
 * "-2", "-3"... when taken). */
int tr_autosave_path(const char *dir, time_t now, char *out, size_t outlen, char *err, size_t errlen);

typedef struct {
    char path[4096];
    char name[256];                 /* file name without ".json" */
    time_t mtime;                   /* the newer of the snapshot and its journal */
    char first[128];                /* first line of the first user message, shortened */
    int turns;                      /* user messages; -1 when the file cannot be loaded (first: why) */
} tr_session;
/* The saved chats (*.json) in dir, newest first; *out is malloc'd (free it).  A missing dir is
 * an empty list. */
int tr_sessions(const char *dir, tr_session **out, size_t *n, char *err, size_t errlen);
/* The newest chat in dir (for --resume); 1 when there is none. */
int tr_last_chat(const char *dir, char *out, size_t outlen, char *err, size_t errlen);
#endif
