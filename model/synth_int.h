/* Internal parts of syn, shared by synth.c (shapes, config, tensor table), synth_st.c (the streaming
 * safetensors writer) and synth_tok.c (the synthetic tokenizer).  Not part of the public API. */
#ifndef SYN_INT_H
#define SYN_INT_H
#include "model/synth.h"

typedef enum { SYN_GAUSS, SYN_UNIFORM } syn_dist;

/* What a decoded token does with a tensor (for syn_decode_bytes). */
typedef enum {
    SYN_STREAMED,   /* a matrix read whole, in the weights format */
    SYN_ROUTER,     /* read whole, kept in the stored format */
    SYN_EXPERTS,    /* [E, rows, cols]: top_k of the E matrices are read */
    SYN_LOOKUP,     /* one row read, stored format (the PLE table) */
    SYN_EMBED,      /* one row looked up (stored format) and read whole as the tied LM head */
    SYN_VECTOR      /* a norm, scale or scalar: not counted */
} syn_role;

typedef struct {
    char name[96];
    int ndim;
    int64_t shape[3];
    syn_dist dist;
    float a, b;     /* SYN_GAUSS: N(0, a^2); SYN_UNIFORM: U(a, b) */
    syn_role role;
} syn_tensor;

/* Calls fn for every text tensor of spec §4 that a checkpoint of config c holds, in a fixed order. */
typedef void (*syn_visit_fn)(void *arg, const syn_tensor *t);
void syn_each_tensor(const cfg_model *c, syn_visit_fn fn, void *arg);

/* Writes path (via path.tmp + rename) with the n tensors filled from seed; tensor i's values depend
 * only on (seed, i, its spec). */
int syn_write_weights(const char *path, const syn_tensor *ts, size_t n, st_dtype dt, uint64_t seed, char *err,
                      size_t errlen);
/* dir/tokenizer.json and dir/tokenizer_config.json for a vocabulary of `vocab` ids (>= 4096). */
int syn_write_tokenizer(const char *dir, int vocab, char *err, size_t errlen);
/* dir/name := text, atomically. */
int syn_write_text(const char *dir, const char *name, const char *text, size_t len, char *err, size_t errlen);
#endif
