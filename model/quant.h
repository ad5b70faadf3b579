/* qnt — quantized copies of the weight matrices, made at first load and cached in a file that later
 * starts just mmap. */
#ifndef QUANT_H
#define QUANT_H
#include <stddef.h>
#include "kernels/k.h"

typedef struct qnt_cache qnt_cache;
/* Replaces mats[i] (named names[i]) in place by quantized versions of type qtype, read from or written
 * to the cache file for model_dir in cache_dir (NULL: $XDG_CACHE_HOME/gemmachat).  A cache is built on
 * pool's threads (NULL: the calling thread only). */
int qnt_apply(const char *model_dir, const char *cache_dir, k_type qtype, const char *const *names, k_mat *mats,
              size_t n, k_pool *pool, qnt_cache **out, char *err, size_t errlen);
void qnt_free(qnt_cache *q);
#endif
