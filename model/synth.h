/* syn — synthetic checkpoints: a directory of a real Gemma 4 text shape (config.json in the published
 * nested layout, generation_config.json of the -it models, model.safetensors, a 262144-id tokenizer.json
 * and tokenizer_config.json) with seeded random weights whose scales keep activations finite and
 * logits varied, so benchmarks run the real amount of work.  The weights are generated and written in
 * blocks: a checkpoint is never held in memory. */
#ifndef SYN_H
#define SYN_H
#include <stddef.h>
#include <stdint.h>
#include "kernels/k.h"
#include "model/cfg.h"
#include "model/st.h"

typedef struct {
    const char *shape;   /* "e2b", "e4b", "26b-a4b", "31b"; for tests: "tiny" (E2B-like: PLE, KV sharing,
                          * double-wide MLP) and "tiny-moe" (26B-like: experts, K=V, global KV heads) */
    st_dtype dtype;      /* ST_BF16 (as published) or ST_F32 */
    uint64_t seed;
    int config_only;     /* write everything but model.safetensors */
} syn_opts;

/* Creates dir if needed and writes the checkpoint; each file appears atomically (temp + rename). */
int syn_write(const char *dir, const syn_opts *o, char *err, size_t errlen);

/* Bytes a decoded token reads from the weights of a model of config c, the formula of the bench
 * figure bytes_per_token: every matrix the token multiplies through is streamed whole — q/k/v/o
 * (k and v only on layers that own their KV; no v on K=V layers), the MLP, the PLE gate and
 * projection, per_layer_model_projection, the MoE router, and the LM head (the tied embedding:
 * V x H); of the experts only top_k of n_experts are read; the embedding and the PLE table are only
 * looked up (one row each).  Norm vectors are left out (kilobytes).  `stored` is the checkpoint's
 * format, which the router and the looked-up rows keep; `weights` is the format of every other matrix
 * (stored, or the q8/q4 copies gm_load makes). */
double syn_decode_bytes(const cfg_model *c, k_type stored, k_type weights);
#endif
