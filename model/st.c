/* Reader and writer of safetensors files.  Validation follows the reference library: the header is a
 * JSON object of tensor entries whose data_offsets tile the data region exactly, in any order. */
#include "model/st.h"
#include "model/cfg_json.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER (100u << 20)
#define ST_INDEX_MAX (100u << 20)
#define ST_DEPTH 8 /* header: object > entry > shape array; anything deeper is malformed */

typedef struct {
    void *base;
    size_t size;
    int fd;                /* kept open for st_read; -1 when closed */
    char *path;
    const char *base_name; /* into path */
} st_file;

struct st_archive {
    st_file *files;
    size_t nfiles;
    st_tensor *t;
    size_t n, cap;
    uint32_t *slot; /* open-addressing table of tensor index + 1 (0 = empty) */
    size_t nslot;
};

static const char *const dtype_names[ST_NDTYPES] = {"F32", "F16", "BF16", "I32", "I64", "U8", "I8", "F64", "BOOL"};
static const size_t dtype_sizes[ST_NDTYPES] = {4, 2, 2, 4, 8, 1, 1, 8, 1};

const char *st_dtype_name(st_dtype t) { return (unsigned)t < ST_NDTYPES ? dtype_names[t] : "?"; }
size_t st_dtype_size(st_dtype t) { return (unsigned)t < ST_NDTYPES ? dtype_sizes[t] : 0; }

static int dtype_parse(const char *s, st_dtype *out) {
    for (int i = 0; i < ST_NDTYPES; i++)
        if (!strcmp(s, dtype_names[i])) {
            *out = (st_dtype)i;
            return 0;
        }
    return -1;
}

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void st_free(st_archive *a) {
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) free((char *)a->t[i].name);
    for (size_t i = 0; i < a->nfiles; i++) {
        if (a->files[i].base) munmap(a->files[i].base, a->files[i].size);
        if (a->files[i].fd >= 0) close(a->files[i].fd);
        free(a->files[i].path);
    }
    free(a->files);
    free(a->t);
    free(a->slot);
    free(a);
}

void st_advise_streamed(const void *data, size_t nbytes) {
#ifdef MADV_HUGEPAGE
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)data + pg - 1) / pg * pg, hi = ((uintptr_t)data + nbytes) / pg * pg;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)data, (void)nbytes;
#endif
}

void st_read(const st_archive *a, const void *data, size_t nbytes, void *out) {
    const char *p = data;
    for (size_t i = 0; i < a->nfiles; i++) {
        const st_file *f = &a->files[i];
        const char *base = f->base;
        if (f->fd < 0 || p < base || p + nbytes > base + f->size) continue;
        for (size_t done = 0; done < nbytes;) {
            ssize_t r = pread(f->fd, (char *)out + done, nbytes - done, (off_t)(p - base + done));
            if (r <= 0) break;
            done += (size_t)r;
            if (done == nbytes) return;
        }
        break;
    }
    memcpy(out, data, nbytes);   /* not ours or the read failed: the mapping has the same bytes */
}

const st_tensor *st_find(const st_archive *a, const char *name) {
    if (!a || !name || !a->nslot) return NULL;
    size_t mask = a->nslot - 1;
    for (size_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
        uint32_t s = a->slot[i];
        if (!s) return NULL;
        if (!strcmp(a->t[s - 1].name, name)) return &a->t[s - 1];
    }
}

size_t st_count(const st_archive *a) { return a ? a->n : 0; }
const st_tensor *st_at(const st_archive *a, size_t i) { return a && i < a->n ? &a->t[i] : NULL; }

/* Builds the name table once every file is in; a name seen twice (across shards) is an error. */
static int build_index(st_archive *a, char *err, size_t errlen) {
    size_t nslot = 16;
    while (nslot < 2 * a->n) nslot *= 2;
    if (a->n >= UINT32_MAX / 2 || !(a->slot = calloc(nslot, sizeof *a->slot))) {
        snprintf(err, errlen, "%s: out of memory for %zu tensors", a->nfiles ? a->files[0].path : "?", a->n);
        return -1;
    }
    a->nslot = nslot;
    for (size_t k = 0; k < a->n; k++) {
        size_t i = hash_name(a->t[k].name) & (nslot - 1);
        for (; a->slot[i]; i = (i + 1) & (nslot - 1)) {
            const st_tensor *o = &a->t[a->slot[i] - 1];
            if (!strcmp(o->name, a->t[k].name)) {
                const char *path = a->t[k].file;
                for (size_t f = 0; f < a->nfiles; f++)
                    if (a->files[f].base_name == a->t[k].file) path = a->files[f].path;
                snprintf(err, errlen, "%s: tensor '%s' already appears in %s", path, o->name, o->file);
                return -1;
            }
        }
        a->slot[i] = (uint32_t)(k + 1);
    }
    return 0;
}

typedef struct {
    uint64_t begin, end;
    size_t idx;
} st_span;

static int cmp_span(const void *x, const void *y) {
    const st_span *a = x, *b = y;
    if (a->begin != b->begin) return a->begin < b->begin ? -1 : 1;
    return a->end < b->end ? -1 : a->end > b->end;
}

static int get_offset(json_object *arr, size_t i, uint64_t *out) {
    json_object *v = json_object_array_get_idx(arr, i);
    if (!json_object_is_type(v, json_type_int)) return -1;
    int64_t x = json_object_get_int64(v);
    if (x < 0) return -1;
    /* json-c clamps values above INT64_MAX; the uint64 read keeps them (they fail the size check) */
    *out = x == INT64_MAX ? json_object_get_uint64(v) : (uint64_t)x;
    return 0;
}

/* Parses one header entry into *t (data not yet set) and its byte span in the data region. */
static int parse_entry(st_tensor *t, st_span *sp, const char *name, json_object *e, const char *path, char *err,
                       size_t errlen) {
    json_object *dt = NULL, *shape = NULL, *off = NULL;
    if (!json_object_is_type(e, json_type_object)) {
        snprintf(err, errlen, "%s: tensor '%s': entry is not an object", path, name);
        return -1;
    }
    if (!json_object_object_get_ex(e, "dtype", &dt) || !json_object_is_type(dt, json_type_string)) {
        snprintf(err, errlen, "%s: tensor '%s': %s dtype", path, name, dt ? "non-string" : "missing");
        return -1;
    }
    if (dtype_parse(json_object_get_string(dt), &t->dtype) < 0) {
        snprintf(err, errlen, "%s: tensor '%s': unknown dtype '%s'", path, name, json_object_get_string(dt));
        return -1;
    }
    if (!json_object_object_get_ex(e, "shape", &shape) || !json_object_is_type(shape, json_type_array)) {
        snprintf(err, errlen, "%s: tensor '%s': %s shape", path, name, shape ? "non-array" : "missing");
        return -1;
    }
    size_t nd = json_object_array_length(shape);
    if (nd > ST_MAX_DIMS) {
        snprintf(err, errlen, "%s: tensor '%s': %zu dims (at most %d supported)", path, name, nd, ST_MAX_DIMS);
        return -1;
    }
    t->ndim = (int)nd;
    size_t nbytes = dtype_sizes[t->dtype];
    for (size_t i = 0; i < nd; i++) {
        json_object *d = json_object_array_get_idx(shape, i);
        int64_t v = json_object_is_type(d, json_type_int) ? json_object_get_int64(d) : -1;
        if (v < 0 || v == INT64_MAX) { /* json-c clamps larger values to INT64_MAX */
            snprintf(err, errlen, "%s: tensor '%s': shape dim %zu is %s (want a non-negative 64-bit integer)", path,
                     name, i, json_object_to_json_string(d));
            return -1;
        }
        t->shape[i] = v;
        if ((uint64_t)v > SIZE_MAX || __builtin_mul_overflow(nbytes, (size_t)v, &nbytes)) {
            snprintf(err, errlen, "%s: tensor '%s': shape size overflows", path, name);
            return -1;
        }
    }
    if (!json_object_object_get_ex(e, "data_offsets", &off) || !json_object_is_type(off, json_type_array) ||
        json_object_array_length(off) != 2 || get_offset(off, 0, &sp->begin) < 0 || get_offset(off, 1, &sp->end) < 0) {
        snprintf(err, errlen, "%s: tensor '%s': data_offsets %s (want [begin, end] non-negative integers)", path, name,
                 off ? json_object_to_json_string(off) : "missing");
        return -1;
    }
    if (sp->end < sp->begin) {
        snprintf(err, errlen, "%s: tensor '%s': data_offsets [%llu, %llu] are reversed", path, name,
                 (unsigned long long)sp->begin, (unsigned long long)sp->end);
        return -1;
    }
    if (sp->end - sp->begin != nbytes) {
        snprintf(err, errlen, "%s: tensor '%s': data_offsets span %llu bytes but %s shape needs %zu", path, name,
                 (unsigned long long)(sp->end - sp->begin), dtype_names[t->dtype], nbytes);
        return -1;
    }
    t->nbytes = nbytes;
    return 0;
}

/* The spans must tile [0, size) exactly: no overlap, no gap, nothing after the last tensor. */
static int check_tiling(st_span *sp, size_t n, const st_tensor *t, uint64_t size, const char *path, char *err,
                        size_t errlen) {
    qsort(sp, n, sizeof *sp, cmp_span);
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (sp[i].begin != at) {
            snprintf(err, errlen, "%s: tensor '%s': data_offsets [%llu, %llu] %s (expected to start at %llu)", path,
                     t[sp[i].idx].name, (unsigned long long)sp[i].begin, (unsigned long long)sp[i].end,
                     sp[i].begin < at ? "overlap the previous tensor" : "leave a gap", (unsigned long long)at);
            return -1;
        }
        at = sp[i].end;
    }
    if (at != size) {
        snprintf(err, errlen, "%s: data region is %llu bytes but the tensors cover %llu (bytes left over)", path,
                 (unsigned long long)size, (unsigned long long)at);
        return -1;
    }
    return 0;
}

static int grow_tensors(st_archive *a, size_t extra) {
    if (a->n + extra <= a->cap) return 0;
    size_t cap = a->cap ? a->cap : 64;
    while (cap < a->n + extra) cap *= 2;
    st_tensor *t = realloc(a->t, cap * sizeof *t);
    if (!t) return -1;
    a->t = t;
    a->cap = cap;
    return 0;
}

static int parse_header(st_archive *a, st_file *f, const char *hdr, size_t hlen, char *err, size_t errlen) {
    json_object *root;
    if (cfg_json_parse(&root, hdr, hlen, ST_DEPTH, 1, f->path, err, errlen) < 0) return -1;
    int rc = -1;
    st_span *sp = NULL;
    char *dup = NULL;
    if (!json_object_is_type(root, json_type_object)) {
        snprintf(err, errlen, "%s: header is not a JSON object", f->path);
        goto out;
    }
    size_t nkeys = (size_t)json_object_object_length(root);
    if (cfg_json_members(hdr, hlen, &dup) != nkeys) {
        snprintf(err, errlen, "%s: duplicate tensor name%s%s%s in the header", f->path, dup ? " '" : "", dup ? dup : "",
                 dup ? "'" : "");
        goto out;
    }
    const uint8_t *data = (const uint8_t *)f->base + 8 + hlen;
    uint64_t dsize = f->size - 8 - hlen;
    if (grow_tensors(a, nkeys) < 0 || !(sp = malloc((nkeys ? nkeys : 1) * sizeof *sp))) {
        snprintf(err, errlen, "%s: out of memory", f->path);
        goto out;
    }
    size_t ns = 0;
    json_object_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) {
            if (!json_object_is_type(val, json_type_object)) {
                snprintf(err, errlen, "%s: __metadata__ is not an object", f->path);
                goto out;
            }
            json_object_object_foreach(val, mk, mv) {
                if (!json_object_is_type(mv, json_type_string)) {
                    snprintf(err, errlen, "%s: __metadata__ value '%s' is not a string", f->path, mk);
                    goto out;
                }
            }
            continue;
        }
        st_tensor *t = &a->t[a->n];
        memset(t, 0, sizeof *t);
        if (parse_entry(t, &sp[ns], key, val, f->path, err, errlen) < 0) goto out;
        if (sp[ns].end > dsize) {
            snprintf(err, errlen,
                     "%s: tensor '%s': data_offsets end %llu runs past the end of the file (data region %llu bytes)",
                     f->path, key, (unsigned long long)sp[ns].end, (unsigned long long)dsize);
            goto out;
        }
        if (!(t->name = strdup(key))) {
            snprintf(err, errlen, "%s: out of memory", f->path);
            goto out;
        }
        t->data = data + sp[ns].begin;
        t->file = f->base_name;
        sp[ns].idx = a->n++;
        ns++;
    }
    rc = check_tiling(sp, ns, a->t, dsize, f->path, err, errlen);
out:
    free(dup);
    free(sp);
    json_object_put(root);
    return rc;
}

/* Maps one file and appends its tensors. */
static int add_file(st_archive *a, const char *path, char *err, size_t errlen) {
    st_file *files = realloc(a->files, (a->nfiles + 1) * sizeof *files);
    if (!files) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    a->files = files;
    st_file *f = &a->files[a->nfiles];
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (!(f->path = strdup(path))) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    a->nfiles++;
    const char *slash = strrchr(f->path, '/');
    f->base_name = slash ? slash + 1 : f->path;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (sb.st_size < 8) {
        snprintf(err, errlen, "%s: truncated: %lld bytes, shorter than the 8-byte header length", path,
                 (long long)sb.st_size);
        close(fd);
        return -1;
    }
    void *base = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    if (base == MAP_FAILED) {
        close(fd);
        snprintf(err, errlen, "%s: mmap failed: %s", path, strerror(map_errno));
        return -1;
    }
    f->base = base;
    f->size = (size_t)sb.st_size;
    f->fd = fd;
    const uint8_t *p = base;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | p[i];
    if (hlen > ST_MAX_HEADER) {
        snprintf(err, errlen, "%s: header length %llu exceeds the 100 MB limit", path, (unsigned long long)hlen);
        return -1;
    }
    if (hlen > f->size - 8) {
        snprintf(err, errlen, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                 (unsigned long long)hlen, f->size);
        return -1;
    }
    return parse_header(a, f, (const char *)p + 8, (size_t)hlen, err, errlen);
}

static st_archive *new_archive(const char *what, char *err, size_t errlen) {
    st_archive *a = calloc(1, sizeof *a);
    if (!a) snprintf(err, errlen, "%s: out of memory", what);
    return a;
}

int st_open_file(st_archive **out, const char *path, char *err, size_t errlen) {
    *out = NULL;
    st_archive *a = new_archive(path, err, errlen);
    if (!a) return -1;
    if (add_file(a, path, err, errlen) < 0 || build_index(a, err, errlen) < 0) {
        st_free(a);
        return -1;
    }
    *out = a;
    return 0;
}

static int plain_name(const char *s) { return *s && strcmp(s, ".") && strcmp(s, "..") && !strchr(s, '/'); }

/* Opens every shard named by the index, then checks that each listed tensor sits in its shard. */
static int open_index(st_archive *a, const char *dir, const char *ipath, const char *text, size_t len, char *err,
                      size_t errlen) {
    json_object *root, *wm;
    if (cfg_json_parse(&root, text, len, 16, 0, ipath, err, errlen) < 0) return -1;
    int rc = -1;
    const char **shards = NULL;
    size_t nsh = 0;
    char *spath = NULL;
    if (!json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "weight_map", &wm) ||
        !json_object_is_type(wm, json_type_object)) {
        snprintf(err, errlen, "%s: no weight_map object", ipath);
        goto out;
    }
    if (!(shards = malloc(((size_t)json_object_object_length(wm) + 1) * sizeof *shards))) {
        snprintf(err, errlen, "%s: out of memory", ipath);
        goto out;
    }
    json_object_object_foreach(wm, tname, sv) {
        if (!json_object_is_type(sv, json_type_string) || !plain_name(json_object_get_string(sv))) {
            snprintf(err, errlen, "%s: tensor '%s': shard %s is not a file name inside the directory", ipath, tname,
                     json_object_to_json_string(sv));
            goto out;
        }
        const char *s = json_object_get_string(sv);
        size_t k = 0;
        while (k < nsh && strcmp(shards[k], s)) k++;
        if (k == nsh) shards[nsh++] = s;
    }
    for (size_t k = 0; k < nsh; k++) {
        char inner[1024];
        free(spath);
        if (!(spath = malloc(strlen(dir) + strlen(shards[k]) + 2))) {
            snprintf(err, errlen, "%s: out of memory", ipath);
            goto out;
        }
        sprintf(spath, "%s/%s", dir, shards[k]);
        if (add_file(a, spath, inner, sizeof inner) < 0) {
            snprintf(err, errlen, "%s: shard '%s': %s", ipath, shards[k], inner);
            goto out;
        }
    }
    if (build_index(a, err, errlen) < 0) goto out;
    json_object_object_foreach(wm, name, shv) {
        const st_tensor *t = st_find(a, name);
        const char *s = json_object_get_string(shv);
        if (!t || strcmp(t->file, s)) {
            snprintf(err, errlen, "%s: tensor '%s' is listed in shard '%s' but %s%s", ipath, name, s,
                     t ? "found in " : "not found there", t ? t->file : "");
            goto out;
        }
    }
    rc = 0;
out:
    free(spath);
    free(shards);
    json_object_put(root);
    return rc;
}

int st_open_dir(st_archive **out, const char *dir, char *err, size_t errlen) {
    *out = NULL;
    struct stat sb;
    if (stat(dir, &sb) < 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s: not a directory", dir);
        return -1;
    }
    size_t dl = strlen(dir);
    char *ipath = malloc(dl + 64), *text = NULL;
    st_archive *a = new_archive(dir, err, errlen);
    if (!ipath || !a) {
        snprintf(err, errlen, "%s: out of memory", dir);
        free(ipath);
        st_free(a);
        return -1;
    }
    size_t len;
    sprintf(ipath, "%s/model.safetensors.index.json", dir);
    int rc = cfg_json_read(&text, &len, ipath, ST_INDEX_MAX, 1, err, errlen);
    if (rc == 0) {
        rc = open_index(a, dir, ipath, text, len, err, errlen);
    } else if (rc == -2) {
        sprintf(ipath, "%s/model.safetensors", dir);
        if (access(ipath, F_OK) == 0)
            rc = add_file(a, ipath, err, errlen) < 0 || build_index(a, err, errlen) < 0 ? -1 : 0;
        else
            snprintf(err, errlen, "%s: no model.safetensors or model.safetensors.index.json", dir);
    }
    free(text);
    free(ipath);
    if (rc < 0) {
        st_free(a);
        return -1;
    }
    *out = a;
    return 0;
}
