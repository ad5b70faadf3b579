/* cfg_json — the JSON plumbing shared by cfg.c, st.c and the writers of JSON files: whole-file reads with a size cap, parsing
 * with a depth limit and precise error messages, and typed member access that names the file and key. */
#ifndef CFG_JSON_H
#define CFG_JSON_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

/* Reads the whole file into a NUL-terminated malloc'd buffer.  Returns -2 (err unset) when the file
 * does not exist and missing_ok, so optional files can be told apart from unreadable ones. */
int cfg_json_read(char **text, size_t *len, const char *path, size_t max, int missing_ok, char *err, size_t errlen);
/* Parses exactly one JSON value (trailing whitespace allowed) nested at most `depth` deep; strict
 * rejects json-c's extensions (comments, single quotes, ...) and invalid UTF-8. */
int cfg_json_parse(json_object **out, const char *text, size_t len, int depth, int strict, const char *file, char *err,
                   size_t errlen);
/* Counts the members written in the top-level object `text` (already parsed successfully), so a
 * caller can detect duplicate keys, which json-c silently merges.  *dup receives one duplicated key
 * (malloc'd, or NULL when none was found verbatim). */
size_t cfg_json_members(const char *text, size_t len, char **dup);

/* Builders that take ownership of v: added under key / appended, or freed on failure (-1).  A NULL v
 * counts as an allocation failure, unless nullable (it is then written as JSON null), so a document
 * built under memory pressure is whole or refused, never missing a member. */
int cfg_json_add(json_object *o, const char *key, json_object *v, int nullable);
int cfg_json_push(json_object *a, json_object *v);

/* o as plain JSON text (owned by o), or NULL when out of memory.  json-c does not report every
 * allocation that fails while it prints (a member or part of a string is then left out), so the text
 * is parsed back and compared with o before anyone writes it to a file. */
const char *cfg_json_print(json_object *o, size_t *len);

/* Typed members: 0 found, 1 absent or null (out untouched), -1 wrong type / out of range (err set). */
int cfg_json_int(const json_object *o, const char *key, int64_t lo, int64_t hi, int64_t *out, const char *file,
                 char *err, size_t errlen);
int cfg_json_num(const json_object *o, const char *key, double *out, const char *file, char *err, size_t errlen);
int cfg_json_bool(const json_object *o, const char *key, int *out, const char *file, char *err, size_t errlen);
#endif
