/* cfg — config.json (both the flat text-only form and the published nested text_config form, with
 * per_layer_config or global_head_dim/num_global_key_value_heads) and generation_config.json. */
#ifndef CFG_H
#define CFG_H
#include <stddef.h>

#define CFG_MAX_LAYERS 256
#define CFG_MAX_EOS 16

typedef enum { CFG_SLIDING = 0, CFG_FULL = 1 } cfg_layer_type;

typedef struct {
    char rope_type[32];        /* "default" or "proportional" */
    double theta;
    double partial_rotary;     /* proportional only; 1.0 otherwise */
} cfg_rope;

typedef struct {
    /* config.json (text part) */
    int vocab, hidden, n_layers, n_heads;
    int n_kv_heads;            /* sliding layers */
    int head_dim;              /* sliding layers */
    int inter;                 /* dense MLP width (not doubled) */
    int sliding_window;
    int n_kv_shared;           /* num_kv_shared_layers */
    int double_wide_mlp;
    int ple_dim;               /* hidden_size_per_layer_input, 0 = off */
    int ple_vocab;             /* vocab_size_per_layer_input */
    int k_eq_v;                /* attention_k_eq_v */
    int moe;                   /* enable_moe_block */
    int n_experts, top_k_experts, moe_inter;
    double final_softcap;      /* 0 = none */
    double eps;
    int max_pos;
    int tie_embeddings;
    cfg_rope rope[2];          /* indexed by cfg_layer_type */
    /* derived per layer */
    cfg_layer_type type[CFG_MAX_LAYERS];
    int layer_head_dim[CFG_MAX_LAYERS];
    int layer_kv_heads[CFG_MAX_LAYERS];
    int layer_inter[CFG_MAX_LAYERS];     /* doubled on KV-shared layers when double_wide_mlp */
    int kv_source[CFG_MAX_LAYERS];       /* layer whose K/V this layer uses (itself if it owns KV) */
    int first_shared;                    /* F = n_layers - n_kv_shared */
    int nested;                          /* 1 if read from text_config (published layout) */
    /* generation_config.json; keys it lacks (or the whole file) default to do_sample 0, temperature 1,
     * top_k 0 (off), top_p 1, min_p 0, and bos/pad/eos from config.json (the published layout's
     * top-level ids before text_config's; eos [1] when neither has one) */
    int do_sample;
    double temperature, top_p, min_p;
    int top_k;
    int bos_id, pad_id;        /* 2 and 0 (transformers' defaults) when neither file gives one */
    int eos_ids[CFG_MAX_EOS];
    int n_eos;
} cfg_model;

/* Reads dir/config.json and dir/generation_config.json (optional) into *c. */
int cfg_load(cfg_model *c, const char *dir, char *err, size_t errlen);
/* Parses config JSON text (file names the source in messages). */
int cfg_parse(cfg_model *c, const char *json, size_t len, const char *file, char *err, size_t errlen);
int cfg_parse_generation(cfg_model *c, const char *json, size_t len, const char *file, char *err, size_t errlen);
#endif
