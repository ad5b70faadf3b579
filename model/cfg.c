/* Reads a Gemma 4 config.json in either layout and derives the per-layer geometry the engine needs.
 * The core sizes are required; absent feature keys take transformers' Gemma4TextConfig defaults, so a
 * config means here what it means to the reference (spec gemma4-text.md §3.1). */
#include "model/cfg.h"
#include "app/args.h"
#include "model/cfg_json.h"
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFG_MAX_FILE (16u << 20)
#define CFG_DEPTH 32
#define CFG_MAX_DIM (1 << 24) /* no real width comes near; keeps every product of two in int64 */
#define CFG_MAX_HEADS 4096

typedef struct {
    const json_object *o;
    const char *where; /* "path" or "path (text_config)" */
    char *err;
    size_t errlen;
} cfg_src;

static int req_int(const cfg_src *s, const char *key, int64_t lo, int64_t hi, int *out) {
    int64_t v;
    int rc = cfg_json_int(s->o, key, lo, hi, &v, s->where, s->err, s->errlen);
    if (rc == 1) snprintf(s->err, s->errlen, "%s: missing required key %s", s->where, key);
    if (rc) return -1;
    *out = (int)v;
    return 0;
}

static int opt_int(const cfg_src *s, const char *key, int64_t lo, int64_t hi, int def, int *out) {
    int64_t v = def;
    if (cfg_json_int(s->o, key, lo, hi, &v, s->where, s->err, s->errlen) < 0) return -1;
    *out = (int)v;
    return 0;
}

static int opt_bool(const cfg_src *s, const char *key, int def, int *out) {
    *out = def;
    return cfg_json_bool(s->o, key, out, s->where, s->err, s->errlen) < 0 ? -1 : 0;
}

/* A number in [lo, hi] (open at lo when lo_open). */
static int opt_num(const cfg_src *s, const char *key, double lo, int lo_open, double hi, double def, double *out) {
    double v = def;
    if (cfg_json_num(s->o, key, &v, s->where, s->err, s->errlen) < 0) return -1;
    if (v < lo || (lo_open && v == lo) || v > hi) {
        snprintf(s->err, s->errlen, "%s: %s = %g is out of range %c%g, %g]", s->where, key, v, lo_open ? '(' : '[', lo,
                 hi);
        return -1;
    }
    *out = v;
    return 0;
}

static json_object *member(const json_object *o, const char *key) {
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? v : NULL; /* JSON null reads as NULL too */
}

/* eos_token_id: an id or a list of ids. */
static int parse_eos(cfg_model *c, const json_object *v, const char *where, char *err, size_t errlen) {
    int one = json_object_is_type(v, json_type_int);
    if (!one && !json_object_is_type(v, json_type_array)) {
        snprintf(err, errlen, "%s: eos_token_id must be an integer or a list of integers", where);
        return -1;
    }
    size_t n = one ? 1 : json_object_array_length(v);
    if (n > CFG_MAX_EOS) {
        snprintf(err, errlen, "%s: eos_token_id lists %zu ids (at most %d)", where, n, CFG_MAX_EOS);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *e = one ? (json_object *)v : json_object_array_get_idx(v, i);
        int64_t id = json_object_is_type(e, json_type_int) ? json_object_get_int64(e) : -1;
        if (id < 0 || id >= c->vocab) {
            snprintf(err, errlen, "%s: eos_token_id %s is not a token id in [0, %d)", where,
                     json_object_to_json_string(e), c->vocab);
            return -1;
        }
        c->eos_ids[i] = (int)id;
    }
    c->n_eos = (int)n;
    return 0;
}

static int parse_layer_types(cfg_model *c, const cfg_src *s) {
    json_object *lt = member(s->o, "layer_types");
    for (int l = 0; l < c->n_layers; l++) c->type[l] = l % 6 == 5 ? CFG_FULL : CFG_SLIDING;
    if (lt) {
        if (!json_object_is_type(lt, json_type_array) || (int)json_object_array_length(lt) != c->n_layers) {
            snprintf(s->err, s->errlen, "%s: layer_types must be a list of num_hidden_layers (%d) strings", s->where,
                     c->n_layers);
            return -1;
        }
        for (int l = 0; l < c->n_layers; l++) {
            json_object *e = json_object_array_get_idx(lt, (size_t)l);
            const char *t = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : "";
            if (strcmp(t, "sliding_attention") && strcmp(t, "full_attention")) {
                snprintf(s->err, s->errlen, "%s: layer_types[%d] = %s (want sliding_attention or full_attention)",
                         s->where, l, json_object_to_json_string(e));
                return -1;
            }
            c->type[l] = strcmp(t, "full_attention") ? CFG_SLIDING : CFG_FULL;
        }
    }
    c->type[c->n_layers - 1] = CFG_FULL; /* transformers forces this even over an explicit list */
    return 0;
}

/* per_layer_config: {"<layer>": {"head_dim": d, "num_key_value_heads": k}}, keys decimal, maybe zero-padded. */
static int parse_per_layer(const cfg_model *c, const cfg_src *s, int *hd, int *kv) {
    json_object *plc = member(s->o, "per_layer_config");
    if (!plc) return 0;
    if (!json_object_is_type(plc, json_type_object)) {
        snprintf(s->err, s->errlen, "%s: per_layer_config must be an object", s->where);
        return -1;
    }
    const char *seen[CFG_MAX_LAYERS] = {0};
    json_object_object_foreach(plc, key, val) {
        long l;
        if (!isdigit((unsigned char)key[0]) || args_long(key, &l) < 0 || l < 0 || l >= c->n_layers) {
            snprintf(s->err, s->errlen, "%s: per_layer_config key '%s' is not a layer index in [0, %d)", s->where, key,
                     c->n_layers);
            return -1;
        }
        if (seen[l]) {
            snprintf(s->err, s->errlen, "%s: per_layer_config names layer %ld twice ('%s' and '%s')", s->where, l,
                     seen[l], key);
            return -1;
        }
        seen[l] = key;
        char where[1100]; /* room for the 1024-byte outer label */
        snprintf(where, sizeof where, "%s: per_layer_config[\"%s\"]", s->where, key);
        if (!json_object_is_type(val, json_type_object)) {
            snprintf(s->err, s->errlen, "%s must be an object", where);
            return -1;
        }
        cfg_src ls = {val, where, s->err, s->errlen};
        if (opt_int(&ls, "head_dim", 2, 65536, 0, &hd[l]) < 0 ||
            opt_int(&ls, "num_key_value_heads", 1, CFG_MAX_HEADS, 0, &kv[l]) < 0)
            return -1;
        json_object_object_foreach(val, k, v) { /* an override we do not apply must not pass silently */
            if (v && strcmp(k, "head_dim") && strcmp(k, "num_key_value_heads")) {
                snprintf(s->err, s->errlen, "%s: unsupported per-layer key '%s'", where, k);
                return -1;
            }
        }
    }
    return 1;
}

static int parse_rope(cfg_model *c, const cfg_src *s) {
    static const char *const names[2] = {"sliding_attention", "full_attention"};
    static const cfg_rope defaults[2] = {{"default", 1e4, 1.0}, {"proportional", 1e6, 0.25}};
    json_object *rp = member(s->o, "rope_parameters");
    c->rope[0] = defaults[0];
    c->rope[1] = defaults[1];
    if (!rp) return 0;
    if (!json_object_is_type(rp, json_type_object) ||
        (json_object_object_length(rp) && !member(rp, names[0]) && !member(rp, names[1]))) {
        snprintf(s->err, s->errlen, "%s: rope_parameters must map sliding_attention / full_attention to settings",
                 s->where);
        return -1;
    }
    for (int t = 0; t < 2; t++) {
        json_object *r = member(rp, names[t]);
        if (!r) continue;
        char where[1100]; /* room for the 1024-byte outer label */
        snprintf(where, sizeof where, "%s: rope_parameters.%s", s->where, names[t]);
        if (!json_object_is_type(r, json_type_object)) {
            snprintf(s->err, s->errlen, "%s must be an object", where);
            return -1;
        }
        cfg_src rs = {r, where, s->err, s->errlen};
        json_object *ty = member(r, "rope_type");
        const char *type = ty ? json_object_get_string(ty) : "default";
        if ((ty && !json_object_is_type(ty, json_type_string)) ||
            (strcmp(type, "default") && strcmp(type, "proportional"))) {
            snprintf(s->err, s->errlen, "%s: unsupported rope_type %s (supported: default, proportional)", where,
                     json_object_to_json_string(ty));
            return -1;
        }
        cfg_rope *out = &c->rope[t];
        snprintf(out->rope_type, sizeof out->rope_type, "%s", type);
        if (opt_num(&rs, "rope_theta", 0, 1, 1e300, defaults[t].theta, &out->theta) < 0) return -1;
        out->partial_rotary = 1.0;
        if (!strcmp(type, "proportional") &&
            opt_num(&rs, "partial_rotary_factor", 0, 1, 1, 1.0, &out->partial_rotary) < 0)
            return -1;
    }
    return 0;
}

static int parse_moe(cfg_model *c, const cfg_src *s) {
    if (opt_bool(s, "enable_moe_block", 0, &c->moe) < 0) return -1;
    if (!c->moe) return 0;
    if (req_int(s, "num_experts", 1, 65536, &c->n_experts) < 0 ||
        req_int(s, "top_k_experts", 1, c->n_experts, &c->top_k_experts) < 0)
        return -1;
    const char *key = member(s->o, "moe_intermediate_size") ? "moe_intermediate_size" : "expert_intermediate_size";
    return req_int(s, key, 1, CFG_MAX_DIM, &c->moe_inter);
}

/* Per-layer head dim, KV heads, MLP width and KV source (spec §3.1 "Loader rule that covers both"). */
static int derive_layers(cfg_model *c, const cfg_src *s, const int *pl_hd, const int *pl_kv, int has_plc, int ghd,
                         int gkv) {
    c->first_shared = c->n_layers - c->n_kv_shared;
    for (int l = 0; l < c->n_layers; l++) {
        int full = c->type[l] == CFG_FULL;
        /* Without per_layer_config, transformers builds one from global_head_dim (default 512) and, with
         * K=V, num_global_key_value_heads; with it, both flat keys are ignored. */
        int d = pl_hd[l] ? pl_hd[l] : full && !has_plc ? (ghd ? ghd : 512) : c->head_dim;
        int kv = pl_kv[l] ? pl_kv[l] : full && !has_plc && c->k_eq_v && gkv ? gkv : c->n_kv_heads;
        if (d % 2 || c->n_heads % kv) {
            snprintf(s->err, s->errlen, "%s: layer %d: head dim %d must be even and %d KV heads must divide %d heads",
                     s->where, l, d, kv, c->n_heads);
            return -1;
        }
        c->layer_head_dim[l] = d;
        c->layer_kv_heads[l] = kv;
        int shared = l >= c->first_shared;
        c->layer_inter[l] = c->inter * (c->double_wide_mlp && c->first_shared > 0 && shared ? 2 : 1);
        c->kv_source[l] = l;
        if (!shared) continue;
        c->kv_source[l] = -1;
        for (int j = c->first_shared - 1; j >= 0 && c->kv_source[l] < 0; j--)
            if (c->type[j] == c->type[l]) c->kv_source[l] = j;
        if (c->kv_source[l] < 0) {
            snprintf(s->err, s->errlen, "%s: layer %d shares KV but no earlier layer below %d has its type (%s)",
                     s->where, l, c->first_shared, full ? "full_attention" : "sliding_attention");
            return -1;
        }
    }
    return 0;
}

/* Settings that would change the math in ways the engine does not implement. */
static int check_supported(const cfg_src *s) {
    json_object *act = member(s->o, "hidden_activation"), *bidi = member(s->o, "use_bidirectional_attention");
    int bias = 0;
    if (act &&
        (!json_object_is_type(act, json_type_string) || strcmp(json_object_get_string(act), "gelu_pytorch_tanh"))) {
        snprintf(s->err, s->errlen, "%s: unsupported hidden_activation %s (want gelu_pytorch_tanh)", s->where,
                 json_object_to_json_string(act));
        return -1;
    }
    /* "vision" only changes masks inside image-token blocks; "all" makes text attention bidirectional */
    if (bidi && (!json_object_is_type(bidi, json_type_string) || strcmp(json_object_get_string(bidi), "vision"))) {
        snprintf(s->err, s->errlen, "%s: unsupported use_bidirectional_attention %s", s->where,
                 json_object_to_json_string(bidi));
        return -1;
    }
    if (opt_bool(s, "attention_bias", 0, &bias) < 0) return -1;
    if (bias) {
        snprintf(s->err, s->errlen, "%s: unsupported attention_bias true", s->where);
        return -1;
    }
    return 0;
}

static int parse_text(cfg_model *c, const cfg_src *s) {
    int pl_hd[CFG_MAX_LAYERS] = {0}, pl_kv[CFG_MAX_LAYERS] = {0}, ghd = 0, gkv = 0;
    if (req_int(s, "vocab_size", 1, CFG_MAX_DIM, &c->vocab) < 0 ||
        req_int(s, "hidden_size", 1, CFG_MAX_DIM, &c->hidden) < 0 ||
        req_int(s, "num_hidden_layers", 1, CFG_MAX_LAYERS, &c->n_layers) < 0 ||
        req_int(s, "num_attention_heads", 1, CFG_MAX_HEADS, &c->n_heads) < 0 ||
        req_int(s, "num_key_value_heads", 1, CFG_MAX_HEADS, &c->n_kv_heads) < 0 ||
        req_int(s, "head_dim", 2, 65536, &c->head_dim) < 0 ||
        req_int(s, "intermediate_size", 1, CFG_MAX_DIM, &c->inter) < 0 ||
        req_int(s, "sliding_window", 1, INT32_MAX, &c->sliding_window) < 0 ||
        opt_int(s, "num_kv_shared_layers", 0, c->n_layers, 0, &c->n_kv_shared) < 0 ||
        opt_bool(s, "use_double_wide_mlp", 0, &c->double_wide_mlp) < 0 ||
        opt_int(s, "hidden_size_per_layer_input", 0, CFG_MAX_DIM, 256, &c->ple_dim) < 0 ||
        opt_int(s, "vocab_size_per_layer_input", 1, CFG_MAX_DIM, 262144, &c->ple_vocab) < 0 ||
        opt_bool(s, "attention_k_eq_v", 0, &c->k_eq_v) < 0 || parse_moe(c, s) < 0 || check_supported(s) < 0 ||
        opt_num(s, "final_logit_softcapping", 0, 0, 1e30, 0, &c->final_softcap) < 0 ||
        opt_num(s, "rms_norm_eps", 0, 1, 1, 1e-6, &c->eps) < 0 ||
        opt_int(s, "max_position_embeddings", 1, INT32_MAX, 131072, &c->max_pos) < 0 ||
        opt_bool(s, "tie_word_embeddings", 1, &c->tie_embeddings) < 0 ||
        opt_int(s, "global_head_dim", 2, 65536, 0, &ghd) < 0 ||
        opt_int(s, "num_global_key_value_heads", 1, CFG_MAX_HEADS, 0, &gkv) < 0 || parse_layer_types(c, s) < 0 ||
        parse_rope(c, s) < 0)
        return -1;
    int has_plc = parse_per_layer(c, s, pl_hd, pl_kv);
    if (has_plc < 0) return -1;
    return derive_layers(c, s, pl_hd, pl_kv, has_plc, ghd, gkv);
}

/* bos/pad/eos: the wrapper's values win over text_config's in the published layout. */
static int parse_special(cfg_model *c, const json_object *root, const json_object *text, const char *file, char *err,
                         size_t errlen) {
    const json_object *srcs[2] = {root, text};
    static const char *const keys[2] = {"bos_token_id", "pad_token_id"};
    int *outs[2] = {&c->bos_id, &c->pad_id};
    c->bos_id = 2; /* Gemma4TextConfig's defaults */
    c->pad_id = 0;
    c->eos_ids[0] = 1;
    c->n_eos = 1;
    for (int k = 0; k < 2; k++)
        for (int i = 1; i >= 0; i--) { /* text first, so the wrapper overrides it */
            int64_t v;
            int rc = cfg_json_int(srcs[i], keys[k], 0, c->vocab - 1, &v, file, err, errlen);
            if (rc < 0) return -1;
            if (rc == 0) *outs[k] = (int)v;
        }
    json_object *eos = member(root, "eos_token_id");
    if (!eos) eos = member(text, "eos_token_id");
    if (eos && parse_eos(c, eos, file, err, errlen) < 0) return -1;
    int bos = c->bos_id >= c->vocab;   /* only a default can be: a given id was checked against vocab_size */
    if (bos || (!eos && c->eos_ids[0] >= c->vocab)) {
        snprintf(err, errlen, "%s: vocab_size %d has no token %d for the default %s (give %s_token_id)", file,
                 c->vocab, bos ? c->bos_id : c->eos_ids[0], bos ? "bos" : "eos", bos ? "bos" : "eos");
        return -1;
    }
    return 0;
}

int cfg_parse(cfg_model *c, const char *json, size_t len, const char *file, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    json_object *root;
    if (cfg_json_parse(&root, json, len, CFG_DEPTH, 0, file, err, errlen) < 0) return -1;
    int rc = -1;
    char where[1024];
    json_object *mt = member(root, "model_type"), *text = root;
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(err, errlen, "%s: not a JSON object", file);
        goto out;
    }
    const char *type = json_object_is_type(mt, json_type_string) ? json_object_get_string(mt) : NULL;
    if (!type) {
        snprintf(err, errlen, "%s: missing model_type (want gemma4_text or gemma4)", file);
        goto out;
    }
    if (!strcmp(type, "gemma4")) {
        text = member(root, "text_config");
        json_object *tmt = member(text, "model_type");
        if (!json_object_is_type(text, json_type_object)) {
            snprintf(err, errlen, "%s: model_type gemma4 without a text_config object", file);
            goto out;
        }
        if (tmt &&
            (!json_object_is_type(tmt, json_type_string) || strcmp(json_object_get_string(tmt), "gemma4_text"))) {
            snprintf(err, errlen, "%s: text_config has model_type %s, not gemma4_text", file,
                     json_object_to_json_string(tmt));
            goto out;
        }
        c->nested = 1;
    } else if (strcmp(type, "gemma4_text")) {
        snprintf(err, errlen, "%s: unsupported model_type '%s' (want gemma4_text or gemma4)", file, type);
        goto out;
    }
    snprintf(where, sizeof where, c->nested ? "%s (text_config)" : "%s", file);
    cfg_src s = {text, where, err, errlen};
    if (parse_text(c, &s) < 0) goto out;
    if (c->nested) { /* the wrapper's tie_word_embeddings is the one the published model uses */
        cfg_src ws = {root, file, err, errlen};
        if (opt_bool(&ws, "tie_word_embeddings", c->tie_embeddings, &c->tie_embeddings) < 0) goto out;
    }
    if (parse_special(c, root, text, file, err, errlen) < 0) goto out;
    c->do_sample = 0;
    c->temperature = 1.0;
    c->top_k = 0;
    c->top_p = 1.0;
    c->min_p = 0.0;
    rc = 0;
out:
    json_object_put(root);
    return rc;
}

int cfg_parse_generation(cfg_model *c, const char *json, size_t len, const char *file, char *err, size_t errlen) {
    json_object *root;
    if (cfg_json_parse(&root, json, len, CFG_DEPTH, 0, file, err, errlen) < 0) return -1;
    int rc = -1;
    cfg_model g = *c; /* filled in a copy so a bad file leaves *c as it was */
    cfg_src s = {root, file, err, errlen};
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(err, errlen, "%s: not a JSON object", file);
        goto out;
    }
    if (opt_bool(&s, "do_sample", g.do_sample, &g.do_sample) < 0 ||
        opt_num(&s, "temperature", 0, 0, 1e6, g.temperature, &g.temperature) < 0 ||
        opt_int(&s, "top_k", 0, INT32_MAX, g.top_k, &g.top_k) < 0 ||
        opt_num(&s, "top_p", 0, 0, 1, g.top_p, &g.top_p) < 0 || opt_num(&s, "min_p", 0, 0, 1, g.min_p, &g.min_p) < 0 ||
        opt_int(&s, "bos_token_id", 0, g.vocab - 1, g.bos_id, &g.bos_id) < 0 ||
        opt_int(&s, "pad_token_id", 0, g.vocab - 1, g.pad_id, &g.pad_id) < 0)
        goto out;
    json_object *eos = member(root, "eos_token_id");
    if (eos && parse_eos(&g, eos, file, err, errlen) < 0) goto out;
    *c = g;
    rc = 0;
out:
    json_object_put(root);
    return rc;
}

int cfg_load(cfg_model *c, const char *dir, char *err, size_t errlen) {
    size_t dl = strlen(dir), len;
    char *path = malloc(dl + 32), *text = NULL;
    if (!path) {
        snprintf(err, errlen, "%s: out of memory", dir);
        return -1;
    }
    sprintf(path, "%s/config.json", dir);
    int rc = cfg_json_read(&text, &len, path, CFG_MAX_FILE, 0, err, errlen);
    if (rc == 0) rc = cfg_parse(c, text, len, path, err, errlen);
    free(text);
    text = NULL;
    if (rc == 0) {
        sprintf(path, "%s/generation_config.json", dir);
        rc = cfg_json_read(&text, &len, path, CFG_MAX_FILE, 1, err, errlen);
        if (rc == 0)
            rc = cfg_parse_generation(c, text, len, path, err, errlen);
        else if (rc == -2)
            rc = 0;
        free(text);
    }
    free(path);
    return rc < 0 ? -1 : 0;
}
