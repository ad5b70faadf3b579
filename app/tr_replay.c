/* tr_replay.c — applying a journal to the snapshot it continues (see tr_journal.c).  A journal is
 * a recovery aid, not the record: whatever goes wrong in it ends the replay at that point with a
 * note for the user, never the load. */
#include "app/tr_int.h"
#include "model/cfg_json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Index member "n" of a record, which must lie in [lo, hi]. */
static int rec_index(const json_object *r, const char *key, size_t lo, size_t hi, size_t *out, const char *where,
                     char *err, size_t errlen) {
    int64_t v;
    int rc = cfg_json_int(r, key, 0, INT32_MAX, &v, where, err, errlen);
    if (rc > 0) snprintf(err, errlen, "%s: %s is missing", where, key);
    if (rc) return -1;
    if ((size_t)v < lo || (size_t)v > hi) {
        snprintf(err, errlen, "%s: %s = %lld does not fit the %zu messages", where, key, (long long)v, hi);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static int apply_tokens(tr_transcript *t, const json_object *r, const char *where, char *err, size_t errlen) {
    int32_t *ids = NULL;
    char *text = NULL;
    size_t n_ids = 0, len = 0;
    int rc = tr_json_read_ids(r, "ids", &ids, &n_ids, where, err, errlen) ||
             tr_json_read_text(r, &text, &len, where, err, errlen);
    if (!rc && tr_extend(t, ids, n_ids, text, len)) {
        snprintf(err, errlen, "%s: out of memory", where);
        rc = -1;
    }
    free(ids);
    free(text);
    return rc ? -1 : 0;
}

static int apply(tr_transcript *t, const json_object *r, const char *where, char *err, size_t errlen) {
    json_object *v;
    size_t n, k;
    if (!json_object_object_get_ex(r, "op", &v) || !json_object_is_type(v, json_type_string)) {
        snprintf(err, errlen, "%s: the record has no op", where);
        return -1;
    }
    const char *op = json_object_get_string(v);
    size_t last = t->n ? t->n - 1 : 0;
    if (!strcmp(op, "settings")) {
        tr_settings s;
        if (tr_json_read_settings(r, &s, where, err, errlen)) {
            tr_settings_clear(&s);
            return -1;
        }
        tr_settings_clear(&t->settings);
        t->settings = s;
        return 0;
    }
    if (!strcmp(op, "append")) {
        tr_message m;
        if (rec_index(r, "n", t->n, t->n, &n, where, err, errlen)) return -1;
        if (!json_object_object_get_ex(r, "message", &v)) {
            snprintf(err, errlen, "%s: message is missing", where);
            return -1;
        }
        if (tr_json_read_message(v, &m, t->settings.system, where, err, errlen)) return -1;
        if (tr_take(t, &m) < 0) {
            tr_message_clear(&m);
            snprintf(err, errlen, "%s: out of memory", where);
            return -1;
        }
        return 0;
    }
    if (!strcmp(op, "truncate")) {
        if (rec_index(r, "from", 0, t->n, &n, where, err, errlen)) return -1;
        tr_truncate(t, n);
        return 0;
    }
    /* the rest act on an existing message */
    if (!t->n) {
        snprintf(err, errlen, "%s: \"%s\" with no message to act on", where, op);
        return -1;
    }
    if (!strcmp(op, "tokens") || !strcmp(op, "end")) {
        if (rec_index(r, "n", last, last, &n, where, err, errlen)) return -1;
        if (!strcmp(op, "tokens")) return apply_tokens(t, r, where, err, errlen);
        tr_message m = t->msgs[last];   /* all the stats or none */
        tr_gen g = {0};
        if (tr_json_read_stats(r, &m, where, err, errlen) ||
            tr_json_read_gen(r, &g, t->settings.system, where, err, errlen))
            return -1;
        tr_gen_clear(&t->msgs[last].gen);   /* the record holds the whole generation record: none, or all */
        m.gen = g;
        t->msgs[last] = m;
        return 0;
    }
    if (!strcmp(op, "push_alt")) {
        if (rec_index(r, "n", 0, last, &n, where, err, errlen)) return -1;
        if (tr_push_alt(t, n)) {
            snprintf(err, errlen, "%s: push_alt does not apply to message %zu", where, n);
            return -1;
        }
        return 0;
    }
    if (!strcmp(op, "select_alt")) {
        if (rec_index(r, "n", 0, last, &n, where, err, errlen)) return -1;
        if (!t->msgs[n].n_alts) {
            snprintf(err, errlen, "%s: message %zu has no alternatives to select", where, n);
            return -1;
        }
        if (rec_index(r, "k", 0, t->msgs[n].n_alts - 1, &k, where, err, errlen)) return -1;
        return tr_select_alt(t, n, k);
    }
    snprintf(err, errlen, "%s: unknown op \"%s\"", where, op);
    return -1;
}

/* The journal's first line: does it continue snapshot id?  1 yes, 0 no (stale or foreign). */
static int head_matches(const json_object *h, const char *id) {
    json_object *v;
    int64_t ver;
    char e[8];
    return json_object_object_get_ex(h, "format", &v) && json_object_is_type(v, json_type_string) &&
           !strcmp(json_object_get_string(v), TR_JOURNAL_FORMAT) &&
           cfg_json_int(h, "version", 1, TR_JOURNAL_VERSION, &ver, "", e, sizeof e) == 0 && json_object_object_get_ex(h, "base", &v) &&
           json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), id);
}

int tr_journal_replay(tr_transcript *t, const char *path, const char *id) {
    size_t pl = strlen(path), len, applied = 0, line = 0;
    char *jp = malloc(pl + 9), *text = NULL, err[4800], where[4200], problem[5000] = "";
    if (!jp) return -1;
    snprintf(jp, pl + 9, "%s.journal", path);
    int rc = cfg_json_read(&text, &len, jp, TR_MAX_FILE, 1, err, sizeof err);
    if (rc == -1) snprintf(problem, sizeof problem, "the journal was not replayed: %s", err);
    for (size_t at = 0; rc == 0 && at < len; line++) {
        const char *nl = memchr(text + at, '\n', len - at);
        if (!nl) break;   /* the torn tail of a crash mid-write */
        json_object *r = NULL;
        size_t end = (size_t)(nl - text);
        snprintf(where, sizeof where, "%s: line %zu", jp, line + 1);
        int bad = cfg_json_parse(&r, text + at, end - at, 8, 1, where, err, sizeof err);
        if (line == 0) {
            if (bad && strstr(err, "out of memory")) snprintf(problem, sizeof problem, "%s", err);
            if (bad || !head_matches(r, id)) rc = 1;   /* belongs to another snapshot: nothing to do */
        } else if (bad || apply(t, r, where, err, sizeof err)) {
            size_t rest = 0;
            for (const char *p = nl; (p = memchr(p + 1, '\n', len - (size_t)(p + 1 - text)));) rest++;
            snprintf(problem, sizeof problem, "%s; that record and the %zu after it were not replayed", err, rest);
            rc = 1;
        } else {
            applied++;
        }
        json_object_put(r);
        at = end + 1;
    }
    free(t->note);
    t->note = NULL;
    /* what could not be replayed for want of memory is not a damaged journal: the load fails */
    int oom = strstr(problem, "out of memory") != NULL;
    if (!oom && (applied || problem[0])) {
        int n = applied ? asprintf(&t->note, "%zu unsaved change%s recovered from %s%s%s", applied,
                                   applied == 1 ? "" : "s", jp, problem[0] ? "; " : "", problem)
                        : asprintf(&t->note, "%s", problem);
        if (n < 0) t->note = NULL, oom = 1;
    }
    free(text);
    free(jp);
    return oom ? -1 : 0;
}
