/* gm — the Gemma 4 text decoder: a loaded model (read-only, shareable) and sessions that own a KV
 * cache which survives between calls, so each new turn costs only its own tokens. */
#ifndef GM_H
#define GM_H
#include <stddef.h>
#include <stdint.h>
#include "model/cfg.h"
#include "kernels/k.h"

typedef struct gm_model gm_model;
typedef struct gm_session gm_session;

typedef struct {
    int threads;               /* 0: number of cores */
    const char *quant;         /* NULL or "none": weights as stored; "q8" or "q4": quantized copies */
    const char *cache_dir;     /* where quantized weights are cached; NULL: $XDG_CACHE_HOME/gemmachat */
} gm_load_opts;

int gm_load(gm_model **out, const char *dir, const gm_load_opts *opts, char *err, size_t errlen);
void gm_free(gm_model *m);
const cfg_model *gm_config(const gm_model *m);
const char *gm_weights_name(const gm_model *m);   /* "bf16", "f32", "q8", ... */
k_pool *gm_pool(gm_model *m);

/* ctx: maximum positions; rewind: extra positions kept in the sliding-window ring buffers so that
 * gm_session_truncate can go back that far without recomputation (0: rings of exactly the window). */
int gm_session_create(gm_session **out, gm_model *m, int ctx, int rewind, char *err, size_t errlen);
void gm_session_free(gm_session *s);
int gm_session_pos(const gm_session *s);           /* tokens in the cache */
int gm_session_ctx(const gm_session *s);

/* Feeds n ids at the current position.  logits: NULL (none computed), or [vocab] for the last id, or,
 * when all_rows, [n, vocab] for every id.  Fails (nothing fed) if an id is out of range or the
 * context would overflow. */
int gm_session_feed(gm_session *s, const int32_t *ids, int n, float *logits, int all_rows,
                    char *err, size_t errlen);
/* Forgets positions >= pos.  Returns the position actually kept (<= pos): positions the ring
 * buffers no longer hold must be fed again by the caller from there. */
int gm_session_truncate(gm_session *s, int pos);
void gm_session_reset(gm_session *s);
#endif
