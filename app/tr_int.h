/* Internals shared by the tr*.c files (transcript layout, JSON mapping, file writing, journal).
 * Not part of the public API. */
#ifndef TR_INT_H
#define TR_INT_H
#include <json-c/json.h>
#include <sys/types.h>
#include "app/tr.h"
#include "model/cfg_json.h"

#define TR_FORMAT "gemmachat-transcript"
#define TR_VERSION 2        /* 2 added settings.state and generation records; 1 is still read */
#define TR_JOURNAL_FORMAT "gemmachat-journal"
#define TR_JOURNAL_VERSION 2
#define TR_MAX_FILE ((size_t)1 << 30)     /* larger files are refused, not read */

typedef struct tr_journal tr_journal;

struct tr_transcript {
    tr_settings settings;
    tr_message *msgs;
    size_t n, cap;
    tr_journal *j;          /* NULL while not journaling */
    char *note;             /* what tr_load recovered from the journal (malloc'd) or NULL */
};

/* tr.c */
void tr_message_clear(tr_message *m);
void tr_settings_clear(tr_settings *s);
void tr_gen_clear(tr_gen *g);
int tr_gen_copy(tr_gen *dst, const tr_gen *src);
int tr_settings_copy(tr_settings *dst, const tr_settings *src);
int tr_settings_equal(const tr_settings *a, const tr_settings *b);
/* Appends m itself (its buffers move into the transcript); -1 on allocation failure (m untouched). */
int tr_take(tr_transcript *t, tr_message *m);
int tr_grow(void *pbuf, size_t *cap, size_t need, size_t elem);
/* A growing text; failed sticks after an allocation failure. */
typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} tr_buf;
void tr_buf_put(tr_buf *b, const char *s, size_t n);

/* tr_json.c: the JSON mapping of settings and messages, shared by the snapshot and the journal.
 * Readers leave *out cleared on failure; `where` starts each message ("FILE: messages[3]"). */
/* Length of the valid UTF-8 sequence at p (n bytes left); 0 if invalid. */
size_t tr_utf8_len(const unsigned char *p, size_t n);
json_object *tr_json_model(const tr_settings *s);      /* "model": {dir, config_sha256} */
json_object *tr_json_settings(const tr_settings *s);   /* "settings": {temp, ...} */
/* A message; its generation records name their system prompt only where it differs from `system`
 * (the transcript's, as the reader will know it). */
json_object *tr_json_message(const tr_message *m, const char *system);
/* Adds "generation" for a recorded g (nothing when g->set is 0). */
int tr_json_put_gen(json_object *o, const tr_gen *g, const char *system);
json_object *tr_json_ids(const int32_t *ids, size_t n);
int tr_json_put_text(json_object *o, const char *p, size_t n);
int tr_json_read_settings(const json_object *o, tr_settings *out, const char *where, char *err, size_t errlen);
int tr_json_read_message(const json_object *o, tr_message *out, const char *system, const char *where, char *err,
                         size_t errlen);
/* Member "generation" into *g (absent keeps it; its system prompt defaults to `system`). */
int tr_json_read_gen(const json_object *o, tr_gen *g, const char *system, const char *where, char *err,
                     size_t errlen);
int tr_json_read_ids(const json_object *o, const char *key, int32_t **ids, size_t *n, const char *where,
                     char *err, size_t errlen);
int tr_json_read_text(const json_object *o, char **text, size_t *len, const char *where, char *err, size_t errlen);
int tr_json_read_stop(const json_object *o, char stop[16], const char *where, char *err, size_t errlen);
/* The stop reason and statistics of a message (absent members keep their value). */
int tr_json_put_stats(json_object *o, const tr_message *m);
int tr_json_read_stats(const json_object *o, tr_message *m, const char *where, char *err, size_t errlen);
/* Compact one-line text of o (malloc'd). */
char *tr_json_line(json_object *o, size_t *len);

/* tr_save.c: tr_save without the journal step; id receives the snapshot's id. */
int tr_save_file(const tr_transcript *t, const char *path, char id[17], dev_t *dev, ino_t *old_ino, ino_t *new_ino,
                 char *err, size_t errlen);

/* tr_io.c */
/* Writes all of p, with SIGXFSZ held off so a file-size limit is the error EFBIG; 0 or an errno. */
int tr_io_write_all(int fd, const void *p, size_t n);
/* Atomic replace of path by data (see tr_save).  *old_ino / *new_ino receive the inode numbers of
 * the file replaced and the file written (0 when none), so the journal can tell its own snapshot. */
int tr_io_save(const char *path, const char *data, size_t len, dev_t *dev, ino_t *old_ino, ino_t *new_ino,
               char *err, size_t errlen);
int tr_io_sync_dir(const char *path);
/* A fresh random id (16 hex digits). */
void tr_io_new_id(char id[17]);

/* tr_journal.c */
void tr_journal_saved(tr_journal *j, const tr_transcript *t, const char *id, dev_t dev, ino_t old_ino,
                      ino_t new_ino);
void tr_journal_log_append(tr_transcript *t, size_t i);
void tr_journal_log_extend(tr_transcript *t, const int32_t *ids, size_t n, const char *text, size_t len);
void tr_journal_log_end(tr_transcript *t);
void tr_journal_log_truncate(tr_transcript *t, size_t from);
void tr_journal_log_alt(tr_transcript *t, const char *op, size_t i, size_t k);
/* Applies path + ".journal" to t when its header names snapshot id; fills t->note.  -1 when memory
 * ran out (the journal may hold more than was applied). */
int tr_journal_replay(tr_transcript *t, const char *path, const char *id);
#endif
