/* st — safetensors files, read by mmap (single file or sharded with model.safetensors.index.json),
 * and written (for gemmatool outputs and synthesized checkpoints). */
#ifndef ST_H
#define ST_H
#include <stddef.h>
#include <stdint.h>

typedef enum { ST_F32 = 0, ST_F16, ST_BF16, ST_I32, ST_I64, ST_U8, ST_I8, ST_F64, ST_BOOL, ST_NDTYPES } st_dtype;
#define ST_MAX_DIMS 8

typedef struct {
    const char *name;          /* as in the file */
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;          /* points into the mapping (read-only) */
    size_t nbytes;
    const char *file;          /* base name of the file that holds it, for messages */
} st_tensor;

typedef struct st_archive st_archive;

/* A checkpoint directory: model.safetensors.index.json if present (every shard it names must exist
 * inside dir and hold the tensors listed for it), else model.safetensors.  Tensor data is aligned only
 * as the file aligns it (files written by transformers or st_write align every tensor to its dtype). */
int st_open_dir(st_archive **out, const char *dir, char *err, size_t errlen);
/* One .safetensors file. */
int st_open_file(st_archive **out, const char *path, char *err, size_t errlen);
void st_free(st_archive *a);

/* Hints that data is read whole for every token: 2 MB pages, which the page cache has on filesystems
 * with large folios, so the stream costs far fewer TLB misses (dear in a VM) and runs at the memory's
 * full rate. */
void st_advise_streamed(const void *data, size_t nbytes);
/* Copies nbytes at data (inside one of a's tensors) into out with a read rather than through the
 * mapping: for rows looked up in an embedding table.  Touching the mapping would map a whole 2 MB
 * page-cache folio per row, and a long chat would end up with the whole table in its RSS. */
void st_read(const st_archive *a, const void *data, size_t nbytes, void *out);

const st_tensor *st_find(const st_archive *a, const char *name);   /* NULL if absent */
size_t st_count(const st_archive *a);
const st_tensor *st_at(const st_archive *a, size_t i);
const char *st_dtype_name(st_dtype t);
size_t st_dtype_size(st_dtype t);

/* Writes a .safetensors file (header sorted as given, data 8-byte aligned), atomically (temp + rename).
 * `data` of each tensor must hold nbytes = prod(shape) * dtype size. */
int st_write(const char *path, const st_tensor *tensors, size_t n, char *err, size_t errlen);
#endif
