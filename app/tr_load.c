/* tr_load.c — reading a snapshot back, refusing anything that is not exactly our format with a
 * message that names the file and the first problem, then replaying its journal. */
#include "app/tr_int.h"
#include "model/cfg_json.h"
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16   /* the format nests 4 deep; json-c's own limit is larger */

static int check_head(const json_object *root, const char *path, char id[17], char *err, size_t errlen) {
    json_object *v;
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(err, errlen, "%s: not a gemmachat transcript (the top level is not a JSON object)", path);
        return -1;
    }
    if (!json_object_object_get_ex(root, "format", &v) || !json_object_is_type(v, json_type_string) ||
        strcmp(json_object_get_string(v), TR_FORMAT)) {
        snprintf(err, errlen, "%s: not a gemmachat transcript (no \"format\": \"%s\")", path, TR_FORMAT);
        return -1;
    }
    int64_t ver = 0;
    int rc = cfg_json_int(root, "version", INT32_MIN, INT32_MAX, &ver, path, err, errlen);
    if (rc > 0) snprintf(err, errlen, "%s: the transcript has no version", path);
    if (rc) return -1;
    if (ver > TR_VERSION) {
        snprintf(err, errlen, "%s: transcript version %lld is newer than this gemmachat reads (%d); update gemmachat",
                 path, (long long)ver, TR_VERSION);
        return -1;
    }
    if (ver < 1) {
        snprintf(err, errlen, "%s: transcript version %lld is not valid", path, (long long)ver);
        return -1;
    }
    id[0] = 0;
    if (json_object_object_get_ex(root, "id", &v) && v) {
        const char *s = json_object_get_string(v);
        if (!json_object_is_type(v, json_type_string) || strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16) {
            snprintf(err, errlen, "%s: id must be 16 hex digits", path);
            return -1;
        }
        memcpy(id, s, 17);
    }
    return 0;
}

static int read_messages(tr_transcript *t, const json_object *root, const char *path, char *err, size_t errlen) {
    json_object *a = NULL;
    if (!json_object_object_get_ex(root, "messages", &a) || !json_object_is_type(a, json_type_array)) {
        snprintf(err, errlen, "%s: messages %s", path, a ? "must be an array" : "is missing");
        return -1;
    }
    size_t n = json_object_array_length(a);
    for (size_t i = 0; i < n; i++) {
        char where[4200];
        tr_message m;
        snprintf(where, sizeof where, "%s: messages[%zu]", path, i);
        if (tr_json_read_message(json_object_array_get_idx(a, i), &m, t->settings.system, where, err, errlen))
            return -1;
        if (tr_take(t, &m) < 0) {
            tr_message_clear(&m);
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
    }
    return 0;
}

static int parse(tr_transcript *t, const char *text, size_t len, const char *path, char id[17], char *err,
                 size_t errlen) {
    json_object *root = NULL;
    char *dup = NULL;
    size_t first = strspn(text, " \t\r\n");
    if (first == len) {
        snprintf(err, errlen, "%s: the file is empty", path);
        return -1;
    }
    if (text[first] != '{') {   /* say what it is not before how it fails to parse */
        snprintf(err, errlen, "%s: not a gemmachat transcript (not a JSON object)", path);
        return -1;
    }
    if (cfg_json_parse(&root, text, len, MAX_DEPTH, 1, path, err, errlen)) return -1;
    int rc = check_head(root, path, id, err, errlen);
    /* json-c keeps the last of two equal keys silently; a file with both was not written by us */
    if (!rc && cfg_json_members(text, len, &dup) != (size_t)json_object_object_length(root)) {
        snprintf(err, errlen, "%s: the key \"%s\" appears twice", path, dup ? dup : "?");
        rc = -1;
    }
    free(dup);
    if (!rc) {
        tr_settings_clear(&t->settings);
        rc = tr_json_read_settings(root, &t->settings, path, err, errlen);
    }
    if (!rc) rc = read_messages(t, root, path, err, errlen);
    json_object_put(root);
    return rc;
}

int tr_load(tr_transcript **out, const char *path, char *err, size_t errlen) {
    char *text = NULL, id[17];
    size_t len = 0;
    tr_transcript *t = NULL;
    *out = NULL;
    if (!path || !*path) {
        snprintf(err, errlen, "no file name given");
        return -1;
    }
    if (cfg_json_read(&text, &len, path, TR_MAX_FILE, 0, err, errlen)) return -1;
    if (tr_create(&t)) {
        free(text);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int rc = parse(t, text, len, path, id, err, errlen);
    free(text);
#ifdef __GLIBC__
    /* The parsed document (about 12 times the file) is freed now, in small blocks that glibc would keep:
     * without this a chat that loaded a 12 MB transcript stayed 150 MB bigger for good. */
    malloc_trim(0);
#endif
    if (rc) {
        tr_free(t);
        return -1;
    }
    if (id[0] && tr_journal_replay(t, path, id) < 0) {
        tr_free(t);
        snprintf(err, errlen, "%s: out of memory while replaying its journal", path);
        return -1;
    }
    tr_message *last = t->n ? &t->msgs[t->n - 1] : NULL;
    if (last && last->role == TR_MODEL && !last->stop[0]) strcpy(last->stop, "stopped_early");
    *out = t;
    return 0;
}
