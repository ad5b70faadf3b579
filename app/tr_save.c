/* tr_save.c — the snapshot: the whole transcript as one JSON file, a message per line so that it
 * reads and diffs well, written atomically (tr_io.c). */
#include "app/tr_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Appends o compactly (it is consumed), then the text after it. */
static void put_obj(tr_buf *b, json_object *o, const char *after) {
    size_t n;
    char *line = o ? tr_json_line(o, &n) : NULL;
    json_object_put(o);
    if (!line) {
        b->failed = 1;
        return;
    }
    tr_buf_put(b, line, n - 1);
    tr_buf_put(b, after, strlen(after));
    free(line);
}

static int serialize(const tr_transcript *t, const char *id, tr_buf *b) {
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    json_object *head = json_object_new_object();
    if (!head || cfg_json_add(head, "format", json_object_new_string(TR_FORMAT), 0) ||
        cfg_json_add(head, "version", json_object_new_int(TR_VERSION), 0) ||
        cfg_json_add(head, "id", json_object_new_string(id), 0) ||
        cfg_json_add(head, "saved", json_object_new_string(when), 0)) {
        json_object_put(head);
        return -1;
    }
    size_t n;
    char *line = tr_json_line(head, &n);
    json_object_put(head);
    if (!line) return -1;
    tr_buf_put(b, line, n - 2);   /* drops "}\n": the object goes on below */
    free(line);
    tr_buf_put(b, ",\n\"model\": ", 11);
    put_obj(b, tr_json_model(&t->settings), ",\n\"settings\": ");
    put_obj(b, tr_json_settings(&t->settings), ",\n\"messages\": [");
    for (size_t i = 0; i < t->n; i++) {
        tr_buf_put(b, "\n", 1);
        put_obj(b, tr_json_message(&t->msgs[i], t->settings.system), i + 1 < t->n ? "," : "");
    }
    tr_buf_put(b, "\n]}\n", 4);
    return b->failed ? -1 : 0;
}

int tr_save_file(const tr_transcript *t, const char *path, char id[17], dev_t *dev, ino_t *old_ino, ino_t *new_ino,
                 char *err, size_t errlen) {
    tr_buf b = {0};
    tr_io_new_id(id);
    if (serialize(t, id, &b)) {
        free(b.p);
        snprintf(err, errlen, "%s: out of memory while saving", path ? path : "(no file)");
        return -1;
    }
    int rc = tr_io_save(path, b.p, b.len, dev, old_ino, new_ino, err, errlen);
    free(b.p);
    return rc;
}

int tr_save(const tr_transcript *t, const char *path, char *err, size_t errlen) {
    char id[17];
    dev_t dev;
    ino_t old_ino, new_ino;
    if (tr_save_file(t, path, id, &dev, &old_ino, &new_ino, err, errlen)) return -1;
    if (t->j) tr_journal_saved(t->j, t, id, dev, old_ino, new_ino);
    return 0;
}
