/* Synthetic checkpoints: the shapes of spec/gemma4-text.md §3.1, their config.json, and the tensor table
 * of §4 derived from the parsed config, so the tensors follow exactly the rules the loader applies. */
#include "model/synth_int.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *name;
    int vocab, hidden, layers, inter, heads, kv_heads;
    int global_kv;          /* num_global_key_value_heads, 0 = null */
    int head_dim, global_head_dim;
    int full_every;         /* layer l is full attention when l % full_every == full_every - 1 */
    int window, kv_shared, double_wide, ple_dim, k_eq_v;
    int experts, top_k, moe_inter;   /* 0 = no MoE block */
    int max_pos;
    int vision_bidir;       /* use_bidirectional_attention "vision" (26B, 31B) rather than null */
} shape;

/* The released text configs (§3.1) and two small ones for the tests that keep every feature and every
 * matrix width a multiple of 32 (so q8/q4 apply). */
static const shape shapes[] = {
    {"e2b", 262144, 1536, 35, 6144, 8, 1, 0, 256, 512, 5, 512, 20, 1, 256, 0, 0, 0, 0, 131072, 0},
    {"e4b", 262144, 2560, 42, 10240, 8, 2, 0, 256, 512, 6, 512, 18, 0, 256, 0, 0, 0, 0, 131072, 0},
    {"26b-a4b", 262144, 2816, 30, 2112, 16, 8, 2, 256, 512, 6, 1024, 0, 0, 0, 1, 128, 8, 704, 262144, 1},
    {"31b", 262144, 5376, 60, 21504, 32, 16, 4, 256, 512, 6, 1024, 0, 0, 0, 1, 0, 0, 0, 262144, 1},
    {"tiny", 4096, 64, 6, 128, 4, 1, 0, 16, 32, 3, 8, 2, 1, 32, 0, 0, 0, 0, 4096, 0},
    {"tiny-moe", 4096, 64, 6, 64, 4, 2, 1, 16, 32, 3, 8, 0, 0, 0, 1, 8, 2, 32, 4096, 1},
};

static const shape *find_shape(const char *name) {
    for (size_t i = 0; name && i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(shapes[i].name, name)) return &shapes[i];
    return NULL;
}

static void null_or_int(FILE *f, const char *key, int v, const char *tail) {
    if (v) fprintf(f, "    \"%s\": %d%s\n", key, v, tail);
    else fprintf(f, "    \"%s\": null%s\n", key, tail);
}

/* config.json in the published layout (Gemma4ForConditionalGeneration wrapper, text_config with the flat
 * global_head_dim / num_global_key_value_heads of transformers 5.5), text part only. */
static char *config_json(const shape *s, st_dtype dt, size_t *len) {
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f) return NULL;
    const char *dtype = dt == ST_F32 ? "float32" : "bfloat16";
    fprintf(f, "{\n  \"architectures\": [\"Gemma4ForConditionalGeneration\"],\n  \"audio_config\": null,\n"
               "  \"audio_token_id\": 258881,\n  \"boa_token_id\": 256000,\n  \"boi_token_id\": 255999,\n"
               "  \"dtype\": \"%s\",\n  \"eoa_token_id\": 258883,\n  \"eoa_token_index\": 258883,\n"
               "  \"eoi_token_id\": 258882,\n  \"eos_token_id\": [1, 106],\n  \"image_token_id\": 258880,\n"
               "  \"initializer_range\": 0.02,\n  \"model_type\": \"gemma4\",\n  \"text_config\": {\n",
            dtype);
    fprintf(f, "    \"attention_bias\": false,\n    \"attention_dropout\": 0.0,\n    \"attention_k_eq_v\": %s,\n"
               "    \"bos_token_id\": 2,\n    \"dtype\": \"%s\",\n    \"enable_moe_block\": %s,\n"
               "    \"eos_token_id\": 1,\n    \"final_logit_softcapping\": 30.0,\n    \"global_head_dim\": %d,\n"
               "    \"head_dim\": %d,\n    \"hidden_activation\": \"gelu_pytorch_tanh\",\n    \"hidden_size\": %d,\n"
               "    \"hidden_size_per_layer_input\": %d,\n    \"initializer_range\": 0.02,\n"
               "    \"intermediate_size\": %d,\n    \"layer_types\": [\n",
            s->k_eq_v ? "true" : "false", dtype, s->experts ? "true" : "false", s->global_head_dim, s->head_dim,
            s->hidden, s->ple_dim, s->inter);
    for (int l = 0; l < s->layers; l++)
        fprintf(f, "      \"%s\"%s\n", l % s->full_every == s->full_every - 1 ? "full_attention" : "sliding_attention",
                l + 1 < s->layers ? "," : "");
    fprintf(f, "    ],\n    \"max_position_embeddings\": %d,\n    \"model_type\": \"gemma4_text\",\n", s->max_pos);
    null_or_int(f, "moe_intermediate_size", s->moe_inter, ",");
    fprintf(f, "    \"num_attention_heads\": %d,\n", s->heads);
    null_or_int(f, "num_experts", s->experts, ",");
    null_or_int(f, "num_global_key_value_heads", s->global_kv, ",");
    fprintf(f, "    \"num_hidden_layers\": %d,\n    \"num_key_value_heads\": %d,\n    \"num_kv_shared_layers\": %d,\n"
               "    \"pad_token_id\": 0,\n    \"rms_norm_eps\": 1e-06,\n    \"rope_parameters\": {\n"
               "      \"full_attention\": {\"partial_rotary_factor\": 0.25, \"rope_theta\": 1000000.0, "
               "\"rope_type\": \"proportional\"},\n"
               "      \"sliding_attention\": {\"rope_theta\": 10000.0, \"rope_type\": \"default\"}\n    },\n"
               "    \"sliding_window\": %d,\n    \"tie_word_embeddings\": true,\n",
            s->layers, s->kv_heads, s->kv_shared, s->window);
    null_or_int(f, "top_k_experts", s->top_k, ",");
    fprintf(f, "    \"use_bidirectional_attention\": %s,\n    \"use_cache\": true,\n    \"use_double_wide_mlp\": %s,\n"
               "    \"vocab_size\": %d,\n    \"vocab_size_per_layer_input\": %d\n  },\n",
            s->vision_bidir ? "\"vision\"" : "null", s->double_wide ? "true" : "false", s->vocab, s->vocab);
    fprintf(f, "  \"tie_word_embeddings\": true,\n  \"transformers_version\": \"5.5.0\",\n"
               "  \"video_token_id\": 258884,\n  \"vision_config\": null,\n  \"vision_soft_tokens_per_image\": 280\n}\n");
    if (fclose(f)) {
        free(text);
        return NULL;
    }
    return text;
}

/* generation_config.json of the -it models (spec §6). */
static const char generation_json[] =
    "{\n  \"bos_token_id\": 2,\n  \"do_sample\": true,\n  \"eos_token_id\": [1, 106, 50],\n  \"pad_token_id\": 0,\n"
    "  \"temperature\": 1.0,\n  \"top_k\": 64,\n  \"top_p\": 0.95,\n  \"transformers_version\": \"5.5.0\"\n}\n";

/* ---- the tensor table ------------------------------------------------------------------------- */

typedef struct {
    syn_visit_fn fn;
    void *arg;
} visitor;

static void emit(const visitor *v, syn_role role, syn_dist dist, float a, float b, int ndim, int64_t d0, int64_t d1,
                 int64_t d2, const char *fmt, ...) __attribute__((format(printf, 10, 11)));
static void emit(const visitor *v, syn_role role, syn_dist dist, float a, float b, int ndim, int64_t d0, int64_t d1,
                 int64_t d2, const char *fmt, ...) {
    syn_tensor t = {.ndim = ndim, .shape = {d0, d1, d2}, .dist = dist, .a = a, .b = b, .role = role};
    int n = snprintf(t.name, sizeof t.name, "model.language_model.");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t.name + n, sizeof t.name - (size_t)n, fmt, ap);
    va_end(ap);
    v->fn(v->arg, &t);
}

/* Scales: matrices N(0, 1/fan_in) keep every projection near unit size; every branch ends in an RMSNorm
 * whose weight is ~1, so the residual grows only by ~1 per branch and stays finite.  The embedding is
 * N(0, (EMBED_SPREAD / sqrt(H))^2) (0.031 on E2B): the scaled x0 = row * sqrt(H) and the tied-head logits
 * E . norm(h) then both have a spread of about EMBED_SPREAD at every width, well inside the soft cap, so
 * the arg-max follows the input.  q_norm/k_norm carry d^(-1/4) so that the scores q.k (scale 1.0) have a
 * spread near 1 at every head dim rather than sqrt(d). */
#define EMBED_SPREAD 1.2
#define NORM(v, n, ...) emit(v, SYN_VECTOR, SYN_UNIFORM, 0.8f, 1.2f, 1, n, 0, 0, __VA_ARGS__)
#define MAT(v, r, c, ...) emit(v, SYN_STREAMED, SYN_GAUSS, (float)(1.0 / sqrt((double)(c))), 0, 2, r, c, 0, __VA_ARGS__)

static void layer_tensors(const visitor *v, const cfg_model *c, int l) {
    int64_t H = c->hidden, d = c->layer_head_dim[l], q = (int64_t)c->n_heads * d, kv = (int64_t)c->layer_kv_heads[l] * d;
    int64_t I = c->layer_inter[l];
    float qk = (float)pow((double)d, -0.25);
    MAT(v, q, H, "layers.%d.self_attn.q_proj.weight", l);
    if (c->kv_source[l] == l) {
        MAT(v, kv, H, "layers.%d.self_attn.k_proj.weight", l);
        if (!(c->k_eq_v && c->type[l] == CFG_FULL)) MAT(v, kv, H, "layers.%d.self_attn.v_proj.weight", l);
    }
    MAT(v, H, q, "layers.%d.self_attn.o_proj.weight", l);
    MAT(v, I, H, "layers.%d.mlp.gate_proj.weight", l);
    MAT(v, I, H, "layers.%d.mlp.up_proj.weight", l);
    MAT(v, H, I, "layers.%d.mlp.down_proj.weight", l);
    if (c->moe) {
        int64_t E = c->n_experts, M = c->moe_inter;
        emit(v, SYN_ROUTER, SYN_GAUSS, (float)(1.0 / sqrt((double)H)), 0, 2, E, H, 0, "layers.%d.router.proj.weight", l);
        emit(v, SYN_EXPERTS, SYN_GAUSS, (float)(1.0 / sqrt((double)H)), 0, 3, E, 2 * M, H, "layers.%d.experts.gate_up_proj", l);
        emit(v, SYN_EXPERTS, SYN_GAUSS, (float)(1.0 / sqrt((double)M)), 0, 3, E, H, M, "layers.%d.experts.down_proj", l);
    }
    if (c->ple_dim > 0) {
        MAT(v, c->ple_dim, H, "layers.%d.per_layer_input_gate.weight", l);
        MAT(v, H, c->ple_dim, "layers.%d.per_layer_projection.weight", l);
    }
    emit(v, SYN_VECTOR, SYN_UNIFORM, 0.8f * qk, 1.2f * qk, 1, d, 0, 0, "layers.%d.self_attn.q_norm.weight", l);
    if (c->kv_source[l] == l)
        emit(v, SYN_VECTOR, SYN_UNIFORM, 0.8f * qk, 1.2f * qk, 1, d, 0, 0, "layers.%d.self_attn.k_norm.weight", l);
    NORM(v, H, "layers.%d.input_layernorm.weight", l);
    NORM(v, H, "layers.%d.post_attention_layernorm.weight", l);
    NORM(v, H, "layers.%d.pre_feedforward_layernorm.weight", l);
    NORM(v, H, "layers.%d.post_feedforward_layernorm.weight", l);
    if (c->moe) {
        NORM(v, H, "layers.%d.pre_feedforward_layernorm_2.weight", l);
        NORM(v, H, "layers.%d.post_feedforward_layernorm_1.weight", l);
        NORM(v, H, "layers.%d.post_feedforward_layernorm_2.weight", l);
        NORM(v, H, "layers.%d.router.scale", l);
        NORM(v, c->n_experts, "layers.%d.router.per_expert_scale", l);
    }
    if (c->ple_dim > 0) NORM(v, H, "layers.%d.post_per_layer_input_norm.weight", l);
    emit(v, SYN_VECTOR, SYN_UNIFORM, 0.6f, 1.0f, 1, 1, 0, 0, "layers.%d.layer_scalar", l);
}

void syn_each_tensor(const cfg_model *c, syn_visit_fn fn, void *arg) {
    visitor v = {fn, arg};
    int64_t H = c->hidden;
    emit(&v, SYN_EMBED, SYN_GAUSS, (float)(EMBED_SPREAD / sqrt((double)H)), 0, 2, c->vocab, H, 0, "embed_tokens.weight");
    if (c->ple_dim > 0) {
        int64_t LP = (int64_t)c->n_layers * c->ple_dim;
        /* A = row * sqrt(P) should be ~1 like the projected part it is averaged with. */
        emit(&v, SYN_LOOKUP, SYN_GAUSS, (float)(1.0 / sqrt((double)c->ple_dim)), 0, 2, c->ple_vocab, LP, 0,
             "embed_tokens_per_layer.weight");
        MAT(&v, LP, H, "per_layer_model_projection.weight");
        NORM(&v, c->ple_dim, "per_layer_projection_norm.weight");
    }
    for (int l = 0; l < c->n_layers; l++) layer_tensors(&v, c, l);
    NORM(&v, H, "norm.weight");
}

/* ---- bytes per decoded token -------------------------------------------------------------------- */

typedef struct {
    const cfg_model *c;
    k_type stored, weights;
    double bytes;
} byte_sum;

static void add_bytes(void *arg, const syn_tensor *t) {
    byte_sum *b = arg;
    switch (t->role) {
    case SYN_STREAMED: b->bytes += (double)t->shape[0] * (double)k_row_bytes(b->weights, t->shape[1]); break;
    case SYN_ROUTER: b->bytes += (double)t->shape[0] * (double)k_row_bytes(b->stored, t->shape[1]); break;
    case SYN_EXPERTS:
        b->bytes += (double)b->c->top_k_experts * (double)t->shape[1] * (double)k_row_bytes(b->weights, t->shape[2]);
        break;
    case SYN_EMBED: b->bytes += (double)t->shape[0] * (double)k_row_bytes(b->weights, t->shape[1]); /* fallthrough */
    case SYN_LOOKUP: b->bytes += (double)k_row_bytes(b->stored, t->shape[1]); break;
    case SYN_VECTOR: break;
    }
}

double syn_decode_bytes(const cfg_model *c, k_type stored, k_type weights) {
    byte_sum b = {c, stored, weights, 0};
    syn_each_tensor(c, add_bytes, &b);
    return b.bytes;
}

/* ---- writing ------------------------------------------------------------------------------------- */

int syn_write_text(const char *dir, const char *name, const char *text, size_t len, char *err, size_t errlen) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    int bad = done < len;
    if (bad) snprintf(err, errlen, "%s: write failed: %s", tmp, strerror(errno ? errno : EIO));
    if (close(fd) && !bad) {
        bad = 1;
        snprintf(err, errlen, "%s: close failed: %s", tmp, strerror(errno));
    }
    if (!bad && rename(tmp, path)) {
        bad = 1;
        snprintf(err, errlen, "%s: rename to %s failed: %s", tmp, path, strerror(errno));
    }
    if (bad) unlink(tmp);
    return bad ? -1 : 0;
}

typedef struct {
    syn_tensor *t;
    size_t n, cap;
} collector;

static void collect(void *arg, const syn_tensor *t) {
    collector *c = arg;
    if (c->n < c->cap) c->t[c->n] = *t;
    c->n++;
}

static int write_weights(const char *dir, const cfg_model *c, const syn_opts *o, char *err, size_t errlen) {
    collector col = {0};
    syn_each_tensor(c, collect, &col);   /* counts */
    col.cap = col.n;
    col.n = 0;
    col.t = malloc(col.cap * sizeof *col.t);
    if (!col.t) {
        snprintf(err, errlen, "%s: out of memory", dir);
        return -1;
    }
    syn_each_tensor(c, collect, &col);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc = syn_write_weights(path, col.t, col.n, o->dtype, o->seed, err, errlen);
    free(col.t);
    return rc;
}

int syn_write(const char *dir, const syn_opts *o, char *err, size_t errlen) {
    const shape *s = find_shape(o->shape);
    if (!s) {
        snprintf(err, errlen, "unknown shape '%s' (expected e2b, e4b, 26b-a4b or 31b)", o->shape ? o->shape : "");
        return -1;
    }
    if (o->dtype != ST_BF16 && o->dtype != ST_F32) {
        snprintf(err, errlen, "%s: synthetic weights are BF16 or F32, not %s", dir, st_dtype_name(o->dtype));
        return -1;
    }
    if (mkdir(dir, 0755) && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create directory: %s", dir, strerror(errno));
        return -1;
    }
    size_t len;
    char *cfg_text = config_json(s, o->dtype, &len);
    if (!cfg_text) {
        snprintf(err, errlen, "%s: out of memory", dir);
        return -1;
    }
    /* The tensors follow the config as the loader reads it, so the two cannot disagree. */
    cfg_model c;
    int rc = cfg_parse(&c, cfg_text, len, "config.json", err, errlen);
    if (!rc && !o->config_only) rc = write_weights(dir, &c, o, err, errlen);
    if (!rc) rc = syn_write_tokenizer(dir, c.vocab, err, errlen);
    if (!rc) rc = syn_write_text(dir, "generation_config.json", generation_json, sizeof generation_json - 1, err, errlen);
    /* config.json last: a directory without it is visibly unfinished. */
    if (!rc) rc = syn_write_text(dir, "config.json", cfg_text, len, err, errlen);
    free(cfg_text);
    return rc;
}
