/* tr_journal.c — the autosave journal: one JSON record per line appended beside the snapshot, so a
 * kill -9 loses at most the reply tokens of the last second (or the last 16).  Its first line names
 * the snapshot it continues (the snapshot's random "id"); a snapshot saved over it starts it afresh.
 * Every record is written with one write() and made durable with fdatasync(); a failed write is cut
 * off again so that the file only ever holds whole records plus, after a crash, one torn tail. */
#include "app/tr_int.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH_TOKENS 16
#define BATCH_NS 1000000000LL

struct tr_journal {
    char *snap, *path;          /* the snapshot and path + ".journal" */
    int fd;
    dev_t dev;
    ino_t ino;                  /* the snapshot file this journal continues */
    off_t size;                 /* bytes of whole records */
    off_t snap_size;            /* bytes of the snapshot it continues */
    int stale;                  /* starting afresh failed: records would not match the snapshot */
    tr_settings logged;         /* settings as of the records written */
    int32_t *ids;               /* reply tokens waiting for the next flush */
    size_t n_ids, cap_ids, pieces;
    size_t tok_n;               /* the message they extend (it may have moved on since) */
    char *text;
    size_t len, cap_text;
    long long since;            /* when the oldest waiting token came (monotonic ns) */
    char err[512];
};

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Writes one record (consumes rec) and syncs it.  A record that cannot be written stops the journal
 * until the next snapshot starts it afresh, so the file never skips a change: the transcript in
 * memory still has everything and that snapshot saves it. */
static int put(tr_journal *j, json_object *rec) {
    size_t n;
    char *line = rec ? tr_json_line(rec, &n) : NULL;
    json_object_put(rec);
    int rc = line ? tr_io_write_all(j->fd, line, n) : ENOMEM;
    free(line);
    if (rc) {
        int cut = ftruncate(j->fd, j->size);   /* if the torn part stays, replay stops at it */
        (void)cut;
        j->stale = 1;
        snprintf(j->err, sizeof j->err, "%s: cannot write the journal: %s", j->path, strerror(rc));
        return -1;
    }
    j->size += (off_t)n;
    if (fdatasync(j->fd)) snprintf(j->err, sizeof j->err, "%s: cannot sync the journal: %s", j->path, strerror(errno));
    else j->err[0] = 0;
    return 0;
}

/* A record {"op": op, ...}; NULL when memory ran out. */
static json_object *rec_new(const char *op) {
    json_object *r = json_object_new_object();
    if (r && cfg_json_add(r, "op", json_object_new_string(op), 0)) json_object_put(r), r = NULL;
    return r;
}

static int add(json_object *r, const char *key, json_object *v) { return cfg_json_add(r, key, v, 0); }

static json_object *rec_n(const char *op, size_t n) {
    json_object *r = rec_new(op);
    if (r && add(r, "n", json_object_new_int64((int64_t)n))) json_object_put(r), r = NULL;
    return r;
}

static tr_journal *live(const tr_transcript *t) { return t->j && t->j->fd >= 0 && !t->j->stale ? t->j : NULL; }

static void flush_tokens(tr_journal *j) {
    if (!j->pieces) return;
    json_object *r = rec_n("tokens", j->tok_n);
    if (r && (add(r, "ids", tr_json_ids(j->ids, j->n_ids)) || tr_json_put_text(r, j->text, j->len)))
        json_object_put(r), r = NULL;
    put(j, r);
    j->n_ids = j->len = j->pieces = 0;
}

/* Before any other record: the waiting tokens, then the settings if they changed since the last. */
static tr_journal *begin(tr_transcript *t) {
    tr_journal *j = live(t);
    if (!j) return NULL;
    flush_tokens(j);
    if (live(t) && !tr_settings_equal(&j->logged, &t->settings)) {
        json_object *r = rec_new("settings");
        if (r && (add(r, "model", tr_json_model(&t->settings)) || add(r, "settings", tr_json_settings(&t->settings))))
            json_object_put(r), r = NULL;
        if (!put(j, r) && tr_settings_copy(&j->logged, &t->settings)) j->stale = 1;
    }
    return live(t);
}

void tr_journal_log_append(tr_transcript *t, size_t i) {
    tr_journal *j = begin(t);
    if (!j) return;
    json_object *r = rec_n("append", i);
    if (r && add(r, "message", tr_json_message(&t->msgs[i], t->settings.system))) json_object_put(r), r = NULL;
    put(j, r);
}

void tr_journal_log_extend(tr_transcript *t, const int32_t *ids, size_t n, const char *text, size_t len) {
    tr_journal *j = live(t);
    if (!j) return;
    if (tr_grow(&j->ids, &j->cap_ids, j->n_ids + n, sizeof *j->ids) ||
        tr_grow(&j->text, &j->cap_text, j->len + len + 1, 1)) {
        snprintf(j->err, sizeof j->err, "%s: out of memory", j->path);
        j->stale = 1;   /* a batch went missing: stop until the next snapshot */
        return;
    }
    if (!j->pieces) j->since = now_ns(), j->tok_n = t->n - 1;
    if (n) memcpy(j->ids + j->n_ids, ids, n * sizeof *ids);
    if (len) memcpy(j->text + j->len, text, len);
    j->n_ids += n;
    j->len += len;
    j->pieces += n ? n : 1;
    if (j->pieces >= BATCH_TOKENS || now_ns() - j->since >= BATCH_NS) begin(t);
}

void tr_journal_log_end(tr_transcript *t) {
    tr_journal *j = begin(t);
    if (!j) return;
    json_object *r = rec_n("end", t->n - 1);
    const tr_message *m = &t->msgs[t->n - 1];
    if (r && (tr_json_put_stats(r, m) || tr_json_put_gen(r, &m->gen, t->settings.system)))
        json_object_put(r), r = NULL;
    put(j, r);
}

void tr_journal_log_truncate(tr_transcript *t, size_t from) {
    tr_journal *j = begin(t);
    json_object *r = j ? rec_new("truncate") : NULL;
    if (r && add(r, "from", json_object_new_int64((int64_t)from))) json_object_put(r), r = NULL;
    if (j) put(j, r);
}

void tr_journal_log_alt(tr_transcript *t, const char *op, size_t i, size_t k) {
    tr_journal *j = begin(t);
    if (!j) return;
    json_object *r = rec_n(op, i);
    if (r && !strcmp(op, "select_alt") && add(r, "k", json_object_new_int64((int64_t)k))) json_object_put(r), r = NULL;
    put(j, r);
}

/* Empties the journal and writes its first line, naming snapshot id. */
static int restart(tr_journal *j, const tr_transcript *t, const char *id) {
    json_object *r = rec_new("journal");
    if (r && (add(r, "format", json_object_new_string(TR_JOURNAL_FORMAT)) ||
              add(r, "version", json_object_new_int(TR_JOURNAL_VERSION)) || add(r, "base", json_object_new_string(id))))
        json_object_put(r), r = NULL;
    j->n_ids = j->len = j->pieces = 0;
    j->stale = 1;
    if (ftruncate(j->fd, 0)) {
        json_object_put(r);
        snprintf(j->err, sizeof j->err, "%s: cannot start the journal afresh: %s", j->path, strerror(errno));
        return -1;
    }
    j->size = 0;
    struct stat sb;
    j->snap_size = stat(j->snap, &sb) == 0 ? sb.st_size : 0;
    if (put(j, r)) return -1;
    if (tr_settings_copy(&j->logged, &t->settings)) {
        snprintf(j->err, sizeof j->err, "%s: out of memory", j->path);
        return -1;
    }
    j->stale = 0;
    return 0;
}

void tr_journal_saved(tr_journal *j, const tr_transcript *t, const char *id, dev_t dev, ino_t old_ino,
                      ino_t new_ino) {
    if (j->fd < 0 || !old_ino || old_ino != j->ino || dev != j->dev) return;
    j->ino = new_ino;
    restart(j, t, id);
}

int tr_journal_open(tr_transcript *t, const char *path, char *err, size_t errlen) {
    char id[17];
    tr_journal_close(t);
    tr_journal *j = calloc(1, sizeof *j);
    size_t pl = path ? strlen(path) : 0;
    if (!j || !(j->snap = strdup(path ? path : "")) || !(j->path = malloc(pl + 9))) {
        snprintf(err, errlen, "%s: out of memory", path ? path : "(no file)");
        goto fail;
    }
    j->fd = -1;
    snprintf(j->path, pl + 9, "%s.journal", path);
    if (tr_save_file(t, path, id, &j->dev, &(ino_t){0}, &j->ino, err, errlen)) goto fail;
    if (!j->ino) {
        snprintf(err, errlen, "%s: the autosave must be a regular file", path);
        goto fail;
    }
    j->fd = open(j->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        snprintf(err, errlen, "%s: cannot open the journal: %s", j->path, strerror(errno));
        goto fail;
    }
    if (restart(j, t, id)) {
        snprintf(err, errlen, "%s", j->err);
        goto fail;
    }
    tr_io_sync_dir(j->path);
    t->j = j;
    return 0;
fail:
    if (j && j->fd >= 0) close(j->fd);
    if (j) tr_settings_clear(&j->logged), free(j->snap), free(j->path);
    free(j);
    return -1;
}

int tr_checkpoint(tr_transcript *t, char *err, size_t errlen) {
    tr_journal *j = t->j;
    char id[17];
    ino_t old_ino;
    if (!j) {
        snprintf(err, errlen, "no autosave file is open");
        return -1;
    }
    /* restarted even if something else replaced the file meanwhile: the journal follows the path */
    if (tr_save_file(t, j->snap, id, &j->dev, &old_ino, &j->ino, err, errlen)) return -1;
    if (j->fd >= 0 && restart(j, t, id)) {
        snprintf(err, errlen, "%s", j->err);
        return -1;
    }
    return 0;
}

int tr_checkpoint_due(const tr_transcript *t) {
    const tr_journal *j = t->j;
    return j && (j->stale || j->err[0] || j->size * 4 >= j->snap_size);
}

int tr_journal_flush(tr_transcript *t, char *err, size_t errlen) {
    if (!t->j) return 0;
    begin(t);
    if (t->j->err[0]) {
        snprintf(err, errlen, "%s", t->j->err);
        return -1;
    }
    return 0;
}

void tr_journal_close(tr_transcript *t) {
    tr_journal *j = t->j;
    if (!j) return;
    begin(t);
    close(j->fd);
    tr_settings_clear(&j->logged);
    free(j->ids);
    free(j->text);
    free(j->snap);
    free(j->path);
    free(j);
    t->j = NULL;
}

const char *tr_journal_error(const tr_transcript *t) {
    if (!t->j) return NULL;
    if (t->j->err[0]) return t->j->err;
    return t->j->stale ? "the journal is paused until the next save succeeds" : NULL;
}
