/* Fuzz target: safetensors reading (st_open_file, and st_open_dir for the sharded index).
 * Input forms, so the fuzzer spends its time in the header rather than in the length prefix:
 *   '{' ...         the header JSON up to its last '}', the rest is the data region (length prefix added);
 *   "IDX" ...       model.safetensors.index.json of a directory holding two valid shards;
 *   anything else   the whole file as is.
 * Invariants: a failure names the file; a success lists tensors whose byte counts match their shapes,
 * that st_find finds by name, and whose data lies inside the file (every byte is read). */
#include "model/st.h"
#include "tests/fuzz/fuzz.h"

#define ST_TARGET "fuzz_st"

static void st_check_archive(const st_archive *a) {
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < st_count(a); i++) {
        const st_tensor *t = st_at(a, i);
        if (!t || !t->name || !t->file) fuzz_die(ST_TARGET, "tensor %zu incomplete", i);
        if ((unsigned)t->dtype >= ST_NDTYPES || t->ndim < 0 || t->ndim > ST_MAX_DIMS)
            fuzz_die(ST_TARGET, "tensor '%s': dtype %d ndim %d", t->name, (int)t->dtype, t->ndim);
        size_t want = st_dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0) fuzz_die(ST_TARGET, "tensor '%s': negative dim", t->name);
            want *= (size_t)t->shape[d];
        }
        if (want != t->nbytes) fuzz_die(ST_TARGET, "tensor '%s': %zu bytes, shape says %zu", t->name, t->nbytes, want);
        if (st_find(a, t->name) != t) fuzz_die(ST_TARGET, "st_find('%s') differs from st_at(%zu)", t->name, i);
        const uint8_t *p = t->data;
        for (size_t k = 0; k < t->nbytes; k++) sink ^= p[k];
    }
    if (st_at(a, st_count(a))) fuzz_die(ST_TARGET, "st_at past the end returned a tensor");
    (void)sink;
}

/* Two shards for the index form: a: {x F32 [2], y BF16 [3]}, b: {z U8 [5]}. */
static const char *st_shard_dir(void) {
    static char dir[512];
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "%s/st", fuzz_tmpdir());
    char path[600], err[512];
    static const float x[2] = {1, 2};
    static const uint16_t y[3] = {0x3f80, 0, 0xbf80};
    static const uint8_t z[5] = {1, 2, 3, 4, 5};
    st_tensor a[2] = {{.name = "x", .dtype = ST_F32, .ndim = 1, .shape = {2}, .data = x, .nbytes = sizeof x},
                      {.name = "y", .dtype = ST_BF16, .ndim = 1, .shape = {3}, .data = y, .nbytes = sizeof y}};
    st_tensor b = {.name = "z", .dtype = ST_U8, .ndim = 1, .shape = {5}, .data = z, .nbytes = sizeof z};
    if (mkdir(dir, 0700) < 0) fuzz_die(ST_TARGET, "mkdir %s failed", dir);
    snprintf(path, sizeof path, "%s/a.safetensors", dir);
    if (st_write(path, a, 2, err, sizeof err) < 0) fuzz_die(ST_TARGET, "%s", err);
    snprintf(path, sizeof path, "%s/b.safetensors", dir);
    if (st_write(path, &b, 1, err, sizeof err) < 0) fuzz_die(ST_TARGET, "%s", err);
    return dir;
}

static int fuzz_st_one(const uint8_t *data, size_t n) {
    static fuzz_file f = {-1, ""};
    char err[1024] = "";
    st_archive *a = NULL;
    int rc;
    if (f.fd < 0 && fuzz_file_open(&f) < 0) fuzz_die(ST_TARGET, "memfd_create failed");
    if (n >= 3 && !memcmp(data, "IDX", 3)) {
        const char *dir = st_shard_dir();
        char path[600];
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        if (fuzz_write(path, data + 3, n - 3) < 0) fuzz_die(ST_TARGET, "cannot write %s", path);
        rc = st_open_dir(&a, dir, err, sizeof err);
        if (rc < 0) fuzz_check_err(ST_TARGET, err, path);
    } else {
        uint8_t *file = malloc(n + 8);
        size_t len = n;
        if (!file) return 0;
        if (n && data[0] == '{') {
            size_t h = n;
            while (h > 0 && data[h - 1] != '}') h--;
            if (!h) h = n;
            for (int i = 0; i < 8; i++) file[i] = (uint8_t)((uint64_t)h >> (8 * i));
            memcpy(file + 8, data, n);
            len = n + 8;
        } else if (n) {
            memcpy(file, data, n);
        }
        if (fuzz_file_set(&f, file, len) < 0) fuzz_die(ST_TARGET, "cannot write the memfd");
        free(file);
        rc = st_open_file(&a, f.path, err, sizeof err);
        if (rc < 0) fuzz_check_err(ST_TARGET, err, f.path);
    }
    if (rc < 0 && a) fuzz_die(ST_TARGET, "failed but returned an archive");
    if (rc == 0) {
        if (!a) fuzz_die(ST_TARGET, "succeeded without an archive");
        st_check_archive(a);
    }
    st_free(a);
    return 0;
}
FUZZ_TARGET(fuzz_st_one)
