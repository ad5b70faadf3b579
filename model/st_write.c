/* st_write: a safetensors file written to a temporary name beside the target, synced, then renamed,
 * so a reader never sees a partial file and a failed write leaves the old one intact. */
#include "model/st.h"
#include "model/cfg_json.h"
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int check_tensors(const char *path, const st_tensor *ts, size_t n, char *err, size_t errlen) {
    for (size_t i = 0; i < n; i++) {
        const st_tensor *t = &ts[i];
        if (!t->name || !strcmp(t->name, "__metadata__")) {
            snprintf(err, errlen, "%s: tensor %zu: name %s is missing or reserved", path, i,
                     t->name ? t->name : "(null)");
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(ts[j].name, t->name)) {
                snprintf(err, errlen, "%s: tensor '%s' is given twice", path, t->name);
                return -1;
            }
        size_t want = st_dtype_size(t->dtype);
        int bad = !want || t->ndim < 0 || t->ndim > ST_MAX_DIMS;
        for (int d = 0; !bad && d < t->ndim; d++)
            bad = t->shape[d] < 0 || (uint64_t)t->shape[d] > SIZE_MAX ||
                  __builtin_mul_overflow(want, (size_t)t->shape[d], &want);
        if (bad || want != t->nbytes || (t->nbytes && !t->data)) {
            snprintf(err, errlen, "%s: tensor '%s': dtype, shape, nbytes (%zu) and data disagree", path, t->name,
                     t->nbytes);
            return -1;
        }
    }
    return 0;
}

/* The header keeps the caller's order, but the data is laid out by element size, largest first, so
 * every tensor is aligned to its dtype (the region itself starts 8-aligned). */
static void data_order(const st_tensor *ts, size_t n, size_t *order) {
    size_t k = 0;
    for (size_t esz = 8; esz >= 1; esz /= 2)
        for (size_t i = 0; i < n; i++)
            if (st_dtype_size(ts[i].dtype) == esz) order[k++] = i;
}

static int put_tensor(json_object *h, const st_tensor *t, uint64_t off) {
    json_object *e = json_object_new_object(), *shape = json_object_new_array(), *offs = json_object_new_array();
    int bad = !shape || !offs;
    for (int d = 0; !bad && d < t->ndim; d++) bad = cfg_json_push(shape, json_object_new_int64(t->shape[d]));
    bad = bad || cfg_json_push(offs, json_object_new_uint64(off)) || cfg_json_push(offs, json_object_new_uint64(off + t->nbytes));
    if (bad || !e) {
        json_object_put(shape);
        json_object_put(offs);
        json_object_put(e);
        return -1;
    }
    /* | rather than ||: each add owns its value, so all three must run */
    if (cfg_json_add(e, "dtype", json_object_new_string(st_dtype_name(t->dtype)), 0) | cfg_json_add(e, "shape", shape, 0) |
        cfg_json_add(e, "data_offsets", offs, 0)) {
        json_object_put(e);
        return -1;
    }
    return cfg_json_add(h, t->name, e, 0);
}

/* The header text, padded with spaces to a multiple of 8 so the data region starts aligned. */
static char *build_header(const char *path, const st_tensor *ts, size_t n, const size_t *order, size_t *hlen, char *err,
                          size_t errlen) {
    uint64_t *offs = malloc((n ? n : 1) * sizeof *offs), at = 0;
    json_object *h = json_object_new_object(), *meta = json_object_new_object();
    char *out = NULL;
    if (!offs || !h || !meta || cfg_json_add(meta, "format", json_object_new_string("pt"), 0)) goto done;
    int bad = cfg_json_add(h, "__metadata__", meta, 0);
    meta = NULL;
    if (bad) goto done;
    for (size_t k = 0; k < n; k++) {
        offs[order[k]] = at;
        at += ts[order[k]].nbytes;
    }
    for (size_t i = 0; i < n; i++)
        if (put_tensor(h, &ts[i], offs[i])) goto done;
    size_t len = 0;
    const char *s = cfg_json_print(h, &len);
    size_t padded = (len + 7) & ~(size_t)7;
    if (s && (out = malloc(padded))) {
        memcpy(out, s, len);
        memset(out + len, ' ', padded - len);
        *hlen = padded;
    }
done:
    if (!out) snprintf(err, errlen, "%s: out of memory", path);
    json_object_put(meta);
    json_object_put(h);
    free(offs);
    return out;
}

/* Makes the rename durable; failure here cannot damage either file, so it is not reported. */
static void sync_dir(const char *path) {
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int st_write(const char *path, const st_tensor *tensors, size_t n, char *err, size_t errlen) {
    size_t hlen;
    if (check_tensors(path, tensors, n, err, errlen) < 0) return -1;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    data_order(tensors, n, order);
    char *hdr = build_header(path, tensors, n, order, &hlen, err, errlen);
    size_t tl = strlen(path) + 16;
    char *tmp = hdr ? malloc(tl) : NULL;
    if (!tmp) {
        if (hdr) snprintf(err, errlen, "%s: out of memory", path);
        free(hdr);
        free(order);
        return -1;
    }
    snprintf(tmp, tl, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(tmp);
        free(hdr);
        free(order);
        return -1;
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    int ok = fchmod(fd, 0644) == 0 && write_all(fd, len8, 8) == 0 && write_all(fd, hdr, hlen) == 0;
    for (size_t k = 0; ok && k < n; k++) ok = write_all(fd, tensors[order[k]].data, tensors[order[k]].nbytes) == 0;
    ok = ok && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) ok = 0, saved = errno;
    if (ok && rename(tmp, path) != 0) ok = 0, saved = errno;
    if (!ok) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(saved));
        unlink(tmp);
    } else {
        sync_dir(path);
    }
    free(tmp);
    free(hdr);
    free(order);
    return ok ? 0 : -1;
}
