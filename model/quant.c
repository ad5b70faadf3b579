/* qnt — quantized weight cache.  The first load quantizes each matrix straight from the source
 * mapping into a temporary file (threaded, through small per-thread buffers, so no second copy of
 * the model is held in memory), renames it into place, and every load then maps it read-only.
 *
 * File layout (native byte order): header, then n entries, then each stored matrix at a 64-byte
 * aligned offset.  The header is written last, so a file cut short has no valid magic. */
#include "model/quant.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define QNT_MAGIC "GCQUANT1"
#define QNT_VERSION 2u   /* 2: blocks stored in groups of 8 (kernels/k.h) */
#define QNT_ALIGN 64
#define QNT_CHUNK (1u << 20)           /* bytes of output quantized per write */

typedef struct {
    char magic[8];
    uint32_t version, qtype;
    uint64_t key, n, file_size;
} qnt_header;

typedef struct {
    uint64_t offset;                   /* 0: not stored (the matrix stays as it was) */
    int64_t rows, cols;
    uint32_t src_type, pad;
} qnt_entry;

struct qnt_cache {
    void *map;
    size_t size;
};

/* ---- key ---------------------------------------------------------------------------------- */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ull;
    return h;
}
#define FNV0 0xcbf29ce484222325ull

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_model_file(const char *name) {
    size_t n = strlen(name);
    return (n > 12 && !strcmp(name + n - 12, ".safetensors")) || (n > 5 && !strcmp(name + n - 5, ".json"));
}

/* Sizes and mtimes of the model's files, the tensors' names, shapes and types, and the target type:
 * any change makes a different key, and a cache with another key is rebuilt. */
static int cache_key(const char *dir, k_type qt, const char *const *names, const k_mat *mats, size_t n,
                     uint64_t *key, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot list the model directory: %s", dir, strerror(errno));
        return -1;
    }
    char **files = NULL;
    size_t nf = 0, cap = 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_model_file(e->d_name)) continue;
        if (nf == cap) {
            char **g = realloc(files, (cap = cap ? 2 * cap : 16) * sizeof *g);
            if (!g) { rc = -1; break; }
            files = g;
        }
        if (!(files[nf] = strdup(e->d_name))) { rc = -1; break; }
        nf++;
    }
    closedir(d);
    uint64_t h = fnv(FNV0, QNT_MAGIC, 8);
    if (!rc) qsort(files, nf, sizeof *files, cmp_str);
    for (size_t i = 0; i < nf && !rc; i++) {
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (stat(path, &st)) continue;             /* vanished while listing: not part of the model */
        int64_t meta[3] = { (int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec };
        h = fnv(fnv(h, files[i], strlen(files[i]) + 1), meta, sizeof meta);
    }
    for (size_t i = 0; i < nf; i++) free(files[i]);
    free(files);
    if (rc) {
        snprintf(err, errlen, "%s: out of memory listing the model directory", dir);
        return -1;
    }
    int32_t t = (int32_t)qt;
    h = fnv(h, &t, sizeof t);
    for (size_t i = 0; i < n; i++) {
        int64_t shape[3] = { mats[i].rows, mats[i].cols, (int64_t)mats[i].type };
        h = fnv(fnv(h, names[i], strlen(names[i]) + 1), shape, sizeof shape);
    }
    *key = h;
    return 0;
}

/* ---- paths -------------------------------------------------------------------------------- */
static int mkdirs(char *path) {
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = 0;
        int rc = mkdir(path, 0755);
        *p = c;
        if (rc && errno != EEXIST) return -1;
        if (!c) return 0;
    }
}

static int cache_path(const char *model_dir, const char *cache_dir, k_type qt, char *out, size_t outlen,
                      char *err, size_t errlen) {
    char dir[PATH_MAX], real[PATH_MAX];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (cache_dir && *cache_dir) snprintf(dir, sizeof dir, "%s", cache_dir);
    else if (xdg && *xdg) snprintf(dir, sizeof dir, "%s/gemmachat", xdg);
    else if (home && *home) snprintf(dir, sizeof dir, "%s/.cache/gemmachat", home);
    else {
        snprintf(err, errlen, "no cache directory for quantized weights: set XDG_CACHE_HOME or HOME");
        return -1;
    }
    if (mkdirs(dir)) {
        snprintf(err, errlen, "%s: cannot create the cache directory: %s", dir, strerror(errno));
        return -1;
    }
    if (!realpath(model_dir, real)) {
        snprintf(err, errlen, "%s: %s", model_dir, strerror(errno));
        return -1;
    }
    if ((size_t)snprintf(out, outlen, "%s/%016" PRIx64 "-%s.gcq", dir, fnv(FNV0, real, strlen(real)),
                         k_type_name(qt)) >= outlen) {
        snprintf(err, errlen, "%s: cache path too long", dir);
        return -1;
    }
    return 0;
}

/* ---- layout ------------------------------------------------------------------------------- */
static int storable(const k_mat *m) {
    return m->data && m->rows > 0 && m->cols > 0 && m->cols % K_QBLOCK == 0 &&
           (m->type == K_F32 || m->type == K_BF16 || m->type == K_F16);
}

/* Fills entries[] and returns the file size. */
static uint64_t layout(k_type qt, const k_mat *mats, size_t n, qnt_entry *ent) {
    uint64_t off = sizeof(qnt_header) + n * sizeof(qnt_entry);
    for (size_t i = 0; i < n; i++) {
        ent[i] = (qnt_entry){ 0, mats[i].rows, mats[i].cols, (uint32_t)mats[i].type, 0 };
        if (!storable(&mats[i])) continue;
        off = (off + QNT_ALIGN - 1) / QNT_ALIGN * QNT_ALIGN;
        ent[i].offset = off;
        off += (uint64_t)mats[i].rows * k_row_bytes(qt, mats[i].cols);
    }
    return off;
}

/* ---- reading ------------------------------------------------------------------------------ */
/* Maps path and checks it against the expected header and entries; 0 when it can be used. */
static int map_cache(const char *path, const qnt_header *want, const qnt_entry *ent, qnt_cache *c) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size == want->file_size) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            size_t hb = sizeof *want + want->n * sizeof *ent;
            if (!memcmp(p, want, sizeof *want) && !memcmp((char *)p + sizeof *want, ent, hb - sizeof *want)) {
#ifdef MADV_HUGEPAGE
                madvise(p, (size_t)st.st_size, MADV_HUGEPAGE);   /* streamed per token: see st.c */
#endif
                c->map = p;
                c->size = (size_t)st.st_size;
                rc = 0;
            } else {
                munmap(p, (size_t)st.st_size);
            }
        }
    }
    close(fd);
    return rc;
}

/* ---- building ----------------------------------------------------------------------------- */
typedef struct {
    const k_mat *m;
    k_type qt;
    int fd;
    uint64_t offset;
    atomic_int failed;                 /* an errno value, or -1 for out of memory */
} build_job;

static void build_task(void *arg, int64_t b, int64_t e, int tid) {
    (void)tid;
    build_job *j = arg;
    const k_mat *m = j->m;
    size_t rb = k_row_bytes(j->qt, m->cols);
    int64_t per = (int64_t)(QNT_CHUNK / rb) > 0 ? (int64_t)(QNT_CHUNK / rb) : 1;
    float *row = malloc((size_t)m->cols * sizeof *row);
    char *buf = malloc((size_t)per * rb);
    if (!row || !buf) atomic_store(&j->failed, -1);
    for (int64_t r0 = b; r0 < e && !atomic_load(&j->failed); r0 += per) {
        int64_t r1 = r0 + per < e ? r0 + per : e;
        for (int64_t r = r0; r < r1; r++) {
            k_row_to_f32(m, r, row);
            k_quantize_row(j->qt, row, m->cols, buf + (size_t)(r - r0) * rb);
        }
        size_t len = (size_t)(r1 - r0) * rb, done = 0;
        off_t at = (off_t)(j->offset + (uint64_t)r0 * rb);
        while (done < len) {
            ssize_t w = pwrite(j->fd, buf + done, len - done, at + (off_t)done);
            if (w <= 0) {
                atomic_store(&j->failed, w < 0 ? errno : ENOSPC);
                break;
            }
            done += (size_t)w;
        }
    }
    free(row);
    free(buf);
}

/* Done with a source matrix: let its pages go, so that the build's memory stays one matrix deep (a
 * hint; contents are kept).  The range is widened to whole 2 MB pages: paging out part of one would
 * split it in the page cache, and every later load would read the checkpoint 4 KB at a time. */
static void release(const k_mat *m) {
#ifdef MADV_PAGEOUT
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = (uintptr_t)m->data, hi = lo + (uintptr_t)m->rows * k_row_bytes(m->type, m->cols);
    lo = lo / huge * huge;
    hi = (hi + huge - 1) / huge * huge;
    madvise((void *)lo, hi - lo, MADV_PAGEOUT);
#else
    (void)m;
#endif
}

static int build_cache(const char *path, const qnt_header *hdr, const qnt_entry *ent, const k_mat *mats,
                       k_pool *pool, char *err, size_t errlen) {
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        return -1;
    }
    int rc = -1;
    if (ftruncate(fd, (off_t)hdr->file_size)) {
        snprintf(err, errlen, "%s: cannot size to %" PRIu64 " bytes: %s", tmp, hdr->file_size, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < hdr->n; i++) {
        if (!ent[i].offset) continue;
        build_job j = { &mats[i], (k_type)hdr->qtype, fd, ent[i].offset, 0 };
        k_pool_run(pool, build_task, &j, mats[i].rows, 1);
        release(&mats[i]);
        int f = atomic_load(&j.failed);
        if (f) {
            snprintf(err, errlen, "%s: cannot write: %s", tmp, f < 0 ? "out of memory" : strerror(f));
            goto done;
        }
    }
    size_t hb = sizeof *hdr + hdr->n * sizeof *ent;
    char *head = malloc(hb);
    if (!head) {
        snprintf(err, errlen, "%s: out of memory", tmp);
        goto done;
    }
    memcpy(head, hdr, sizeof *hdr);
    memcpy(head + sizeof *hdr, ent, hb - sizeof *hdr);
    ssize_t w = pwrite(fd, head, hb, 0);
    free(head);
    if (w != (ssize_t)hb) {
        snprintf(err, errlen, "%s: cannot write the header: %s", tmp, w < 0 ? strerror(errno) : "short write");
        goto done;
    }
    if (fdatasync(fd)) {   /* on disk before the rename makes it the cache */
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        goto done;
    }
    /* Drop the pages the writes left in the page cache: read back through the mapping they come in
     * 2 MB at a time (st.c says why that matters). */
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (close(fd)) {
        fd = -1;
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path)) {
        snprintf(err, errlen, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (fd >= 0) close(fd);
    if (rc) unlink(tmp);
    return rc;
}

/* ---- entry points ------------------------------------------------------------------------- */
int qnt_apply(const char *model_dir, const char *cache_dir, k_type qtype, const char *const *names, k_mat *mats,
              size_t n, k_pool *pool, qnt_cache **out, char *err, size_t errlen) {
    *out = NULL;
    if (qtype != K_Q8 && qtype != K_Q4) {
        snprintf(err, errlen, "model/quant.c: cannot quantize to %s (q8 or q4 only)", k_type_name(qtype));
        return -1;
    }
    char path[PATH_MAX];
    qnt_header hdr = { QNT_MAGIC, QNT_VERSION, (uint32_t)qtype, 0, n, 0 };
    if (cache_key(model_dir, qtype, names, mats, n, &hdr.key, err, errlen) ||
        cache_path(model_dir, cache_dir, qtype, path, sizeof path, err, errlen))
        return -1;
    qnt_entry *ent = calloc(n ? n : 1, sizeof *ent);
    qnt_cache *c = calloc(1, sizeof *c);
    if (!ent || !c) {
        free(ent);
        free(c);
        snprintf(err, errlen, "model/quant.c: out of memory for %zu matrices", n);
        return -1;
    }
    hdr.file_size = layout(qtype, mats, n, ent);
    int rc = 0;
    if (map_cache(path, &hdr, ent, c)) {                  /* missing or stale: (re)build it */
        rc = build_cache(path, &hdr, ent, mats, pool, err, errlen);
        if (!rc && (rc = map_cache(path, &hdr, ent, c)))
            snprintf(err, errlen, "%s: the quantized weights just written do not read back", path);
    }
    if (rc) {
        free(ent);
        free(c);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (ent[i].offset)
            mats[i] = (k_mat){ qtype, mats[i].rows, mats[i].cols, (const char *)c->map + ent[i].offset };
    free(ent);
    *out = c;
    return 0;
}

void qnt_free(qnt_cache *q) {
    if (!q) return;
    munmap(q->map, q->size);
    free(q);
}
