/* Shared by the fuzz targets (tests/fuzz/fuzz_*.c).  Each target defines one static function
 * `int NAME(const uint8_t *data, size_t n)` and ends with FUZZ_TARGET(NAME): under libFuzzer
 * (`make fuzz`) that is LLVMFuzzerTestOneInput; with FUZZ_REPLAY defined (tests/test_fuzz_replay.c
 * includes every target) it is only the function, replayed on the seed corpus and the regressions.
 * A violated invariant aborts with a message, so both libFuzzer and the replay test report it. */
#ifndef FUZZ_H
#define FUZZ_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef FUZZ_REPLAY
#define FUZZ_TARGET(fn)
#else
#define FUZZ_TARGET(fn) \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) { return fn(data, n); }
#endif

__attribute__((format(printf, 2, 3), noreturn)) static inline void fuzz_die(const char *target, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: invariant violated: ", target);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

/* A loader's failure must come with a message that names the file it was given. */
static inline void fuzz_check_err(const char *target, const char *err, const char *path) {
    if (!err[0]) fuzz_die(target, "failed without a message");
    if (path && !strstr(err, path)) fuzz_die(target, "message '%s' does not name %s", err, path);
}

/* An anonymous in-memory file: loaders that take a path open it as /proc/self/fd/N. */
typedef struct {
    int fd;
    char path[64];
} fuzz_file;

static inline int fuzz_file_open(fuzz_file *f) {
    f->fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (f->fd < 0) return -1;
    snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
    return 0;
}

static inline int fuzz_file_set(fuzz_file *f, const void *data, size_t n) {
    if (ftruncate(f->fd, 0) < 0 || lseek(f->fd, 0, SEEK_SET) < 0) return -1;
    const char *p = data;
    while (n) {
        ssize_t w = write(f->fd, p, n);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes a whole file (for targets that need a real directory). */
static inline int fuzz_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static inline int fuzz_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static char fuzz_tmp[256];
static inline void fuzz_tmp_clean(void) { nftw(fuzz_tmp, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* A scratch directory made on first use and removed at exit. */
static inline const char *fuzz_tmpdir(void) {
    if (!fuzz_tmp[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fuzz_tmp, sizeof fuzz_tmp, "%s/gc-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fuzz_tmp)) {
            perror(fuzz_tmp);
            abort();
        }
        atexit(fuzz_tmp_clean);
    }
    return fuzz_tmp;
}

/* The unpacked test fixtures ($GC_TESTDATA, set by tests/run.sh and `make fuzz`). */
static inline const char *fuzz_data_path(const char *rel) {
    static char buf[4096];
    const char *d = getenv("GC_TESTDATA");
    snprintf(buf, sizeof buf, "%s/%s", d ? d : "build/testdata", rel);
    return buf;
}

/* Length of the valid UTF-8 prefix (strict: no overlongs, surrogates, or values above U+10FFFF). */
static inline size_t fuzz_utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!k || i + k > n) return i;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return i;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) || (c == 0xF0 && s[i + 1] < 0x90) ||
            (c == 0xF4 && s[i + 1] > 0x8F))
            return i;
        i += k;
    }
    return n;
}
#endif
