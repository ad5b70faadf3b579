/* Which chat format a model directory uses: its chat_template.jinja, else the chat_template inside
 * tokenizer_config.json (a string, or a list of {name, template} where "default" wins). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/cf.h"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            char *nb = cap < (64u << 20) ? realloc(buf, (cap = cap ? cap * 2 : 1 << 16) + 1) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got);
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

static json_object *config_template(json_object *t) {
    if (!json_object_is_type(t, json_type_array)) return t;
    json_object *pick = NULL;
    for (size_t i = 0; i < json_object_array_length(t); i++) {
        json_object *e = json_object_array_get_idx(t, i), *name, *tpl;
        if (!json_object_object_get_ex(e, "template", &tpl)) continue;
        if (json_object_object_get_ex(e, "name", &name) && json_object_is_type(name, json_type_string) &&
            !strcmp(json_object_get_string(name), "default"))
            return tpl;
        if (!pick) pick = tpl;
    }
    return pick;
}

static int detect_path(const char *path, cf_variant *v) {
    size_t len;
    char *text = slurp(path, &len);
    if (!text) return -1;
    *v = cf_detect(text, len);
    free(text);
    return 0;
}

int cf_detect_file(const char *path, cf_variant *v, char *err, size_t errlen) {
    if (!detect_path(path, v)) return 0;
    snprintf(err, errlen, "%s: cannot read the chat template", path);
    return -1;
}

cf_variant cf_detect_dir(const char *dir) {
    char path[4096];
    size_t len;
    cf_variant v = CF_SMALL;
    snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
    if (!detect_path(path, &v)) return v;
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    char *text = slurp(path, &len);
    if (!text) return v;
    json_object *root = json_tokener_parse(text), *t;
    free(text);
    if (root && json_object_object_get_ex(root, "chat_template", &t) && (t = config_template(t)) &&
        json_object_is_type(t, json_type_string))
        v = cf_detect(json_object_get_string(t), (size_t)json_object_get_string_len(t));
    json_object_put(root);
    return v;
}
