/* Fuzz target: config.json (cfg_parse) and generation_config.json (cfg_parse_generation over a valid
 * model config).  Invariants: a failure names the file; a parsed config is one the decoder can size
 * its buffers from (every per-layer value in range, KV sources earlier layers of the same type,
 * special ids inside the vocabulary); a refused generation config leaves the model config as it was. */
#include "model/cfg.h"
#include "tests/fuzz/fuzz.h"

#define CFG_TARGET "fuzz_cfg"
#define CFG_FILE "fuzz/config.json"
#define GEN_FILE "fuzz/generation_config.json"

static void cfg_check_model(const cfg_model *c) {
    if (c->vocab < 1 || c->hidden < 1 || c->n_layers < 1 || c->n_layers > CFG_MAX_LAYERS || c->n_heads < 1 ||
        c->inter < 1 || c->sliding_window < 1 || c->n_kv_shared < 0 || c->n_kv_shared > c->n_layers)
        fuzz_die(CFG_TARGET, "core sizes out of range (vocab %d hidden %d layers %d heads %d)", c->vocab, c->hidden,
                 c->n_layers, c->n_heads);
    if (c->first_shared != c->n_layers - c->n_kv_shared) fuzz_die(CFG_TARGET, "first_shared %d", c->first_shared);
    for (int l = 0; l < c->n_layers; l++) {
        int d = c->layer_head_dim[l], kv = c->layer_kv_heads[l], src = c->kv_source[l];
        if (d < 2 || d % 2 || kv < 1 || c->n_heads % kv || c->layer_inter[l] < 1)
            fuzz_die(CFG_TARGET, "layer %d: head dim %d, %d KV heads, inter %d", l, d, kv, c->layer_inter[l]);
        if (c->type[l] != CFG_SLIDING && c->type[l] != CFG_FULL) fuzz_die(CFG_TARGET, "layer %d: bad type", l);
        if (src < 0 || src > l || c->type[src] != c->type[l] || (src != l && src >= c->first_shared))
            fuzz_die(CFG_TARGET, "layer %d: KV source %d", l, src);
    }
    if (c->type[c->n_layers - 1] != CFG_FULL) fuzz_die(CFG_TARGET, "last layer is not full attention");
    if (c->moe && (c->n_experts < 1 || c->top_k_experts < 1 || c->top_k_experts > c->n_experts || c->moe_inter < 1))
        fuzz_die(CFG_TARGET, "MoE sizes: %d experts, top %d, width %d", c->n_experts, c->top_k_experts, c->moe_inter);
    for (int t = 0; t < 2; t++)
        if (!(c->rope[t].theta > 0) || !(c->rope[t].partial_rotary > 0 && c->rope[t].partial_rotary <= 1))
            fuzz_die(CFG_TARGET, "rope %d: theta %g partial %g", t, c->rope[t].theta, c->rope[t].partial_rotary);
    if (!(c->eps > 0) || c->final_softcap < 0 || c->max_pos < 1) fuzz_die(CFG_TARGET, "eps/softcap/max_pos");
}

static void cfg_check_generation(const cfg_model *c) {
    if (c->n_eos < 0 || c->n_eos > CFG_MAX_EOS) fuzz_die(CFG_TARGET, "%d eos ids", c->n_eos);
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_ids[i] < 0 || c->eos_ids[i] >= c->vocab) fuzz_die(CFG_TARGET, "eos id %d", c->eos_ids[i]);
    if (c->bos_id < 0 || c->bos_id >= c->vocab || c->pad_id < 0 || c->pad_id >= c->vocab)
        fuzz_die(CFG_TARGET, "bos %d pad %d", c->bos_id, c->pad_id);
    if (!(c->temperature >= 0) || !(c->top_p >= 0 && c->top_p <= 1) || !(c->min_p >= 0 && c->min_p <= 1) ||
        c->top_k < 0)
        fuzz_die(CFG_TARGET, "sampling defaults out of range");
}

static int fuzz_cfg_one(const uint8_t *data, size_t n) {
    static const char base_json[] =
        "{\"model_type\": \"gemma4_text\", \"vocab_size\": 64, \"hidden_size\": 8, \"num_hidden_layers\": 2,"
        " \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"head_dim\": 4, \"intermediate_size\": 8,"
        " \"sliding_window\": 4}";
    static cfg_model c, base, before;
    char err[1024] = "";
    if (!base.vocab && cfg_parse(&base, base_json, sizeof base_json - 1, CFG_FILE, err, sizeof err) < 0)
        fuzz_die(CFG_TARGET, "base config refused: %s", err);
    const char *text = (const char *)data;
    if (cfg_parse(&c, text, n, CFG_FILE, err, sizeof err) < 0) {
        fuzz_check_err(CFG_TARGET, err, CFG_FILE);
    } else {
        cfg_check_model(&c);
        cfg_check_generation(&c);
    }
    err[0] = 0;
    memcpy(&before, &base, sizeof base);
    if (cfg_parse_generation(&before, text, n, GEN_FILE, err, sizeof err) < 0) {
        fuzz_check_err(CFG_TARGET, err, GEN_FILE);
        if (memcmp(&before, &base, sizeof base)) fuzz_die(CFG_TARGET, "a refused generation config changed the model");
    } else {
        cfg_check_generation(&before);
    }
    return 0;
}
FUZZ_TARGET(fuzz_cfg_one)
