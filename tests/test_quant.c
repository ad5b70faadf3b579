/* model/quant: cache build, reuse through mmap, rebuild when stale, contents equal the kernels' own
 * quantization. */
#include "tests/t.h"
#include "model/quant.h"

#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define NM 5
static const char *const names[NM] = { "a.bf16", "b.f16", "c.f32", "d.odd", "e.row" };
static const k_type types[NM] = { K_BF16, K_F16, K_F32, K_BF16, K_F32 };
static const int64_t shapes[NM][2] = { { 40, 96 }, { 7, 64 }, { 5, 160 }, { 3, 33 }, { 1, 32 } };
static void *src[NM];

static uint64_t rng = 12345;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) * 0x1p-52 - 1.0);
}

static void make_sources(void) {
    for (int i = 0; i < NM; i++) {
        int64_t n = shapes[i][0] * shapes[i][1];
        src[i] = malloc(k_row_bytes(types[i], shapes[i][1]) * (size_t)shapes[i][0]);
        for (int64_t k = 0; k < n; k++) {
            float v = frand() * (1 + (float)(k % 5));
            if (types[i] == K_F32) ((float *)src[i])[k] = v;
            else if (types[i] == K_BF16) ((uint16_t *)src[i])[k] = k_f32_to_bf16(v);
            else ((uint16_t *)src[i])[k] = k_f32_to_f16(v);
        }
    }
}

static void fresh(k_mat *m) {
    for (int i = 0; i < NM; i++) m[i] = (k_mat){ types[i], shapes[i][0], shapes[i][1], src[i] };
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Quantized matrices hold exactly what k_quantize_row makes of the source; others are untouched. */
static int contents_ok(const k_mat *m, k_type qt) {
    for (int i = 0; i < NM; i++) {
        k_mat s = { types[i], shapes[i][0], shapes[i][1], src[i] };
        if (shapes[i][1] % 32) {
            if (m[i].type != types[i] || m[i].data != src[i]) return 0;
            continue;
        }
        if (m[i].type != qt || m[i].rows != s.rows || m[i].cols != s.cols) return 0;
        size_t rb = k_row_bytes(qt, s.cols);
        float row[160];
        unsigned char q[1024];
        for (int64_t r = 0; r < s.rows; r++) {
            k_row_to_f32(&s, r, row);
            k_quantize_row(qt, row, s.cols, q);
            if (memcmp(q, (const char *)m[i].data + (size_t)r * rb, rb)) return 0;
        }
    }
    return 1;
}

static int count_files(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, part) != NULL;
    closedir(d);
    return n;
}

/* The one cache file of type qt in dir, as stat sees it. */
static int cache_stat(const char *dir, k_type qt, struct stat *st) {
    DIR *d = opendir(dir);
    char suffix[16], path[512];
    int found = -1;
    if (!d) return -1;
    snprintf(suffix, sizeof suffix, "-%s.gcq", k_type_name(qt));
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n > strlen(suffix) && !strcmp(e->d_name + n - strlen(suffix), suffix)) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            found = stat(path, st);
        }
    }
    closedir(d);
    return found;
}

static void matvecs(const k_mat *m, float *y) {
    float x[160];
    for (int i = 0; i < 160; i++) x[i] = (float)(i % 13) * 0.1f - 0.6f;
    for (int i = 0; i < NM; i++, y += 40) k_matvec_ref(&m[i], x, y);
}

static int rm_one(const char *p, const struct stat *s, int flag, struct FTW *f) {
    (void)s; (void)flag; (void)f;
    return remove(p);
}

static void test_type(const char *model, const char *cache, k_type qt) {
    char err[512] = "", name[128];
    const char *tn = k_type_name(qt);
    k_mat m[NM], m2[NM];
    qnt_cache *c1 = NULL, *c2 = NULL, *c3 = NULL;
    fresh(m);
    int rc = qnt_apply(model, cache, qt, names, m, NM, NULL, &c1, err, sizeof err);
    snprintf(name, sizeof name, "%s: first load builds the cache", tn);
    T_CHECK(rc == 0 && c1, name, "%s", err);
    if (rc) return;
    snprintf(name, sizeof name, "%s: quantized contents match k_quantize_row; odd widths untouched", tn);
    T_CHECK(contents_ok(m, qt), name, "%s", "contents differ");
    struct stat s1, s2, s3;
    snprintf(name, sizeof name, "%s: one cache file and no temporary left", tn);
    T_CHECK(cache_stat(cache, qt, &s1) == 0 && count_files(cache, ".tmp") == 0, name, "%s", "missing or leftovers");
    float y1[NM * 40] = { 0 }, y2[NM * 40] = { 0 };
    matvecs(m, y1);

    fresh(m2);
    rc = qnt_apply(model, cache, qt, names, m2, NM, NULL, &c2, err, sizeof err);
    cache_stat(cache, qt, &s2);
    matvecs(m2, y2);
    snprintf(name, sizeof name, "%s: second load maps the same file (not rebuilt)", tn);
    T_CHECK(rc == 0 && s2.st_ino == s1.st_ino && s2.st_mtim.tv_nsec == s1.st_mtim.tv_nsec &&
            s2.st_mtim.tv_sec == s1.st_mtim.tv_sec && m2[0].data != m[0].data, name, "%s", err);
    snprintf(name, sizeof name, "%s: reopened cache gives identical results", tn);
    T_CHECK(rc == 0 && !memcmp(y1, y2, sizeof y1) && contents_ok(m2, qt), name, "%s", "results differ");
    qnt_free(c2);

    /* A changed model file makes the cache stale. */
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", model);
    FILE *f = fopen(path, "ab");
    if (f) { fputc('x', f); fclose(f); }
    fresh(m2);
    rc = qnt_apply(model, cache, qt, names, m2, NM, NULL, &c2, err, sizeof err);
    cache_stat(cache, qt, &s3);
    snprintf(name, sizeof name, "%s: a changed model file rebuilds the cache", tn);
    T_CHECK(rc == 0 && s3.st_ino != s2.st_ino && contents_ok(m2, qt), name, "%s", err);
    qnt_free(c2);

    /* A changed shape list makes it stale too. */
    k_mat m3[NM];
    fresh(m3);
    m3[1].rows = 6;
    rc = qnt_apply(model, cache, qt, names, m3, NM, NULL, &c3, err, sizeof err);
    cache_stat(cache, qt, &s2);
    snprintf(name, sizeof name, "%s: a changed tensor shape rebuilds the cache", tn);
    T_CHECK(rc == 0 && s2.st_ino != s3.st_ino && m3[1].rows == 6 && m3[1].type == qt, name, "%s", err);
    qnt_free(c3);

    /* A damaged file is rebuilt rather than trusted. */
    DIR *d = opendir(cache);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, tn) && strstr(e->d_name, ".gcq")) {
            snprintf(path, sizeof path, "%s/%s", cache, e->d_name);
            FILE *g = fopen(path, "r+b");
            if (g) { fputs("garbage!", g); fclose(g); }
        }
    if (d) closedir(d);
    fresh(m2);
    rc = qnt_apply(model, cache, qt, names, m2, NM, NULL, &c2, err, sizeof err);
    snprintf(name, sizeof name, "%s: a damaged cache file is rebuilt", tn);
    T_CHECK(rc == 0 && contents_ok(m2, qt), name, "%s", err);
    qnt_free(c2);

    snprintf(name, sizeof name, "%s: the first mapping stays valid after rebuilds", tn);
    T_CHECK(contents_ok(m, qt), name, "%s", "contents changed");
    qnt_free(c1);
}

int main(void) {
    (void)t_data;    /* builds its own fixtures */
    const char *tmp = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/gc-test-quant.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char *root = mkdtemp(tmpl);
    T_CHECK(root != NULL, "temporary directory", "%s", "mkdtemp failed");
    if (!root) return t_exit();
    char model[600], cache[600], xdg[600], path[700], err[512] = "";
    snprintf(model, sizeof model, "%s/model", root);
    snprintf(cache, sizeof cache, "%s/cache/deeper", root);
    snprintf(xdg, sizeof xdg, "%s/xdg", root);
    mkdir(model, 0755);
    snprintf(path, sizeof path, "%s/model.safetensors", model);
    write_file(path, "not really tensors");
    snprintf(path, sizeof path, "%s/config.json", model);
    write_file(path, "{}");
    make_sources();

    test_type(model, cache, K_Q8);
    test_type(model, cache, K_Q4);

    k_mat m[NM];
    qnt_cache *c = NULL;
    fresh(m);
    setenv("XDG_CACHE_HOME", xdg, 1);
    int rc = qnt_apply(model, NULL, K_Q8, names, m, NM, NULL, &c, err, sizeof err);
    snprintf(path, sizeof path, "%s/gemmachat", xdg);
    T_CHECK(rc == 0 && count_files(path, "-q8.gcq") == 1, "default cache directory is $XDG_CACHE_HOME/gemmachat",
            "%s", err);
    qnt_free(c);

    fresh(m);
    rc = qnt_apply(model, cache, K_BF16, names, m, NM, NULL, &c, err, sizeof err);
    T_CHECK(rc < 0 && c == NULL && strstr(err, "bf16") && m[0].type == K_BF16, "a non-quantized target type is refused",
            "%s", err);
    snprintf(path, sizeof path, "%s/missing", root);
    rc = qnt_apply(path, cache, K_Q4, names, m, NM, NULL, &c, err, sizeof err);
    T_CHECK(rc < 0 && strstr(err, "missing") && m[0].data == src[0], "a missing model directory is an error naming it",
            "%s", err);
    snprintf(path, sizeof path, "%s/model.safetensors/sub", model);
    rc = qnt_apply(model, path, K_Q4, names, m, NM, NULL, &c, err, sizeof err);
    T_CHECK(rc < 0 && strstr(err, "sub"), "an unusable cache directory is an error naming it", "%s", err);

    for (int i = 0; i < NM; i++) free(src[i]);
    nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    return t_exit();
}
