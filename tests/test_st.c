/* st: the fixture checkpoints (single file and sharded), st_write round trips, and one test per kind of
 * malformed file, each checking that the message names the file and the problem. */
#include "model/st.h"
#include "tests/t.h"
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];
static char errbuf[1024];

static const char *model_dir(const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/models/%s", t_data(), name);
    return buf;
}

static const char *tmp_path(const char *name) {
    static char buf[2][512];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

/* A safetensors file: length field `hlen_field` (or the real length when ~0), header text, data bytes. */
static void write_st(const char *path, uint64_t hlen_field, const char *hdr, size_t data_len) {
    size_t hl = strlen(hdr), n = 8 + hl + data_len;
    uint8_t *b = calloc(1, n);
    uint64_t L = hlen_field == ~0ull ? hl : hlen_field;
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(L >> (8 * i));
    memcpy(b + 8, hdr, hl);
    for (size_t i = 0; i < data_len; i++) b[8 + hl + i] = (uint8_t)(i * 7 + 1);
    write_bytes(path, b, n);
    free(b);
}

/* Opens `path` (file or dir) expecting failure with a message containing `who` and `what`. */
static void expect_fail(const char *name, int dir, const char *path, const char *who, const char *what) {
    st_archive *a = NULL;
    errbuf[0] = 0;
    int rc = dir ? st_open_dir(&a, path, errbuf, sizeof errbuf) : st_open_file(&a, path, errbuf, sizeof errbuf);
    T_CHECK(rc < 0 && !a && strstr(errbuf, who) && strstr(errbuf, what), name,
            "rc %d, message '%s' (want '%s' and '%s')", rc, errbuf, who, what);
    st_free(a);
}

/* A one-file header case: writes it and expects the message to name the file and `what`. */
static void bad_header(const char *name, const char *hdr, size_t data_len, const char *what) {
    const char *p = tmp_path("bad.safetensors");
    write_st(p, ~0ull, hdr, data_len);
    expect_fail(name, 0, p, p, what);
}

static int64_t numel(const st_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

/* Every listed tensor is found by name at its own slot, and the sizes add up to the data regions. */
static void check_archive(const char *name, const st_archive *a) {
    char label[256];
    int lookups = 1, sizes = 1, aligned = 1;
    for (size_t i = 0; i < st_count(a); i++) {
        const st_tensor *t = st_at(a, i);
        lookups &= st_find(a, t->name) == t;
        sizes &= (size_t)numel(t) * st_dtype_size(t->dtype) == t->nbytes;
        aligned &= (uintptr_t)t->data % st_dtype_size(t->dtype) == 0;
    }
    snprintf(label, sizeof label, "st %s: every tensor found by name", name);
    T_CHECK(st_count(a) > 0 && lookups, label, "count %zu", st_count(a));
    snprintf(label, sizeof label, "st %s: nbytes = numel x dtype size", name);
    T_CHECK(sizes, label, "mismatch");
    snprintf(label, sizeof label, "st %s: data aligned to dtype", name);
    T_CHECK(aligned, label, "misaligned tensor");
    snprintf(label, sizeof label, "st %s: absent name not found", name);
    T_CHECK(!st_find(a, "model.no_such_tensor") && !st_at(a, st_count(a)), label, "found a ghost");
}

static int shape_is(const st_tensor *t, st_dtype dt, int nd, int64_t d0, int64_t d1, int64_t d2) {
    int64_t want[3] = {d0, d1, d2};
    if (!t || t->dtype != dt || t->ndim != nd) return 0;
    for (int i = 0; i < nd; i++)
        if (t->shape[i] != want[i]) return 0;
    return 1;
}

static st_archive *open_model(const char *name) {
    st_archive *a = NULL;
    if (st_open_dir(&a, model_dir(name), errbuf, sizeof errbuf) < 0) {
        char label[128];
        snprintf(label, sizeof label, "st %s: opens", name);
        T_CHECK(0, label, "%s", errbuf);
        return NULL;
    }
    check_archive(name, a);
    return a;
}

static void test_fixtures(void) {
    st_archive *e = open_model("tiny-e"), *d = open_model("tiny-dense"), *h = open_model("tiny-dense-hub");
    st_archive *m = open_model("tiny-moe"), *w = open_model("wide-e"), *c = open_model("tiny-chat");
    if (!e || !d || !h || !m || !w || !c) goto out;
    T_CHECK(shape_is(st_find(e, "model.embed_tokens.weight"), ST_BF16, 2, 4096, 64, 0) &&
                shape_is(st_find(e, "model.embed_tokens_per_layer.weight"), ST_BF16, 2, 4096, 48, 0) &&
                !strcmp(st_find(e, "model.norm.weight")->file, "model.safetensors"),
            "st tiny-e: embedding and PLE table shapes", "wrong shapes");
    T_CHECK(st_find(e, "model.layers.3.self_attn.k_proj.weight") &&
                !st_find(e, "model.layers.4.self_attn.k_proj.weight") &&
                shape_is(st_find(e, "model.layers.5.mlp.gate_proj.weight"), ST_BF16, 2, 192, 64, 0),
            "st tiny-e: shared layers have no k_proj, double-wide MLP", "unexpected tensors");
    T_CHECK(shape_is(st_find(d, "model.layers.2.self_attn.k_proj.weight"), ST_BF16, 2, 32, 64, 0) &&
                !st_find(d, "model.layers.2.self_attn.v_proj.weight") &&
                shape_is(st_find(d, "model.layers.1.self_attn.v_proj.weight"), ST_BF16, 2, 32, 64, 0),
            "st tiny-dense: K=V full layer has no v_proj", "unexpected tensors");
    T_CHECK(shape_is(st_find(m, "model.layers.0.experts.gate_up_proj"), ST_BF16, 3, 8, 64, 64) &&
                shape_is(st_find(m, "model.layers.3.experts.down_proj"), ST_BF16, 3, 8, 64, 32) &&
                shape_is(st_find(m, "model.layers.0.router.per_expert_scale"), ST_BF16, 1, 8, 0, 0),
            "st tiny-moe: expert tensors", "wrong shapes");
    T_CHECK(shape_is(st_find(w, "model.embed_tokens_per_layer.weight"), ST_BF16, 2, 4096, 224, 0) &&
                shape_is(st_find(w, "model.layers.4.self_attn.q_proj.weight"), ST_BF16, 2, 4096, 256, 0),
            "st wide-e: PLE table and full-layer q_proj", "wrong shapes");
    T_CHECK(shape_is(st_find(c, "model.embed_tokens.weight"), ST_BF16, 2, 4096, 192, 0), "st tiny-chat: embedding",
            "wrong shape");

    /* The hub layout holds tiny-dense's weights byte for byte, renamed, in two shards, plus a vision tensor. */
    int same = st_count(h) == st_count(d) + 1;
    for (size_t i = 0; same && i < st_count(d); i++) {
        const st_tensor *t = st_at(d, i);
        char hub_name[512];
        snprintf(hub_name, sizeof hub_name, "model.language_model.%s", t->name + strlen("model."));
        const st_tensor *u = st_find(h, hub_name);
        same = u && u->dtype == t->dtype && u->nbytes == t->nbytes && !memcmp(u->shape, t->shape, sizeof t->shape) &&
               !memcmp(u->data, t->data, t->nbytes);
    }
    T_CHECK(same, "st tiny-dense-hub: same tensors and bytes as tiny-dense", "differs");
    const st_tensor *g = st_find(h, "model.language_model.layers.3.mlp.gate_proj.weight");
    const st_tensor *u = st_find(h, "model.language_model.layers.3.mlp.up_proj.weight");
    T_CHECK(g && u && !strcmp(g->file, "model-00001-of-00002.safetensors") &&
                !strcmp(u->file, "model-00002-of-00002.safetensors"),
            "st tiny-dense-hub: layer 3 split across the two shards", "files %s / %s", g ? g->file : "-",
            u ? u->file : "-");
    T_CHECK(shape_is(st_find(h, "model.vision_tower.patch_embedder.weight"), ST_BF16, 2, 32, 768, 0),
            "st tiny-dense-hub: vision tensor present", "missing");

    st_archive *gold = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/golden.safetensors", model_dir("tiny-e"));
    int rc = st_open_file(&gold, path, errbuf, sizeof errbuf);
    T_CHECK(rc == 0 && shape_is(st_find(gold, "seq_logits"), ST_F32, 2, 29, 4096, 0) &&
                shape_is(st_find(gold, "seq_ids"), ST_I32, 1, 29, 0, 0) &&
                ((const int32_t *)st_find(gold, "seq_ids")->data)[0] == 2,
            "st golden.safetensors: F32 logits and I32 ids (first id <bos>)", "%s", rc ? errbuf : "wrong content");
    st_free(gold);
out:
    st_free(e), st_free(d), st_free(h), st_free(m), st_free(w), st_free(c);
}

static void test_round_trip(void) {
    static const float f32[6] = {1.5f, -2, 3.25f, 0, 1e-30f, -7};
    static const uint16_t bf16[5] = {0x3f80, 0xbf80, 0x4000, 0, 0x7f80};
    static const int64_t i64[2] = {INT64_MIN, 42};
    static const uint8_t u8[3] = {1, 2, 255};
    static const double f64 = 3.141592653589793;
    st_tensor in[7] = {
        {.name = "a/b \"quoted\" \xc3\xa9", .dtype = ST_U8, .ndim = 1, .shape = {3}, .data = u8, .nbytes = 3},
        {.name = "weights.f32", .dtype = ST_F32, .ndim = 2, .shape = {2, 3}, .data = f32, .nbytes = 24},
        {.name = "bf", .dtype = ST_BF16, .ndim = 1, .shape = {5}, .data = bf16, .nbytes = 10},
        {.name = "scalar", .dtype = ST_F64, .ndim = 0, .data = &f64, .nbytes = 8},
        {.name = "empty", .dtype = ST_I32, .ndim = 2, .shape = {0, 4}, .data = NULL, .nbytes = 0},
        {.name = "big", .dtype = ST_I64, .ndim = 1, .shape = {2}, .data = i64, .nbytes = 16},
        {.name = "flag", .dtype = ST_BOOL, .ndim = 1, .shape = {1}, .data = u8, .nbytes = 1},
    };
    const char *p = tmp_path("rt.safetensors");
    int rc = st_write(p, in, 7, errbuf, sizeof errbuf);
    T_CHECK(rc == 0, "st_write: writes 7 tensors of 6 dtypes", "%s", errbuf);
    st_archive *a = NULL;
    rc = st_open_file(&a, p, errbuf, sizeof errbuf);
    T_CHECK(rc == 0 && st_count(a) == 7, "st_write -> st_open_file: reopens", "%s", rc ? errbuf : "wrong count");
    if (rc) return;
    int order = 1, content = 1, aligned = 1;
    for (size_t i = 0; i < 7; i++) {
        const st_tensor *t = st_at(a, i);
        order &= !strcmp(t->name, in[i].name);
        const st_tensor *o = st_find(a, in[i].name);
        content &= o && o->dtype == in[i].dtype && o->ndim == in[i].ndim && o->nbytes == in[i].nbytes &&
                   !memcmp(o->shape, in[i].shape, sizeof o->shape) &&
                   (!o->nbytes || !memcmp(o->data, in[i].data, o->nbytes));
        aligned &= (uintptr_t)t->data % st_dtype_size(t->dtype) == 0;
    }
    T_CHECK(order, "st_write: header keeps the given order", "order changed");
    T_CHECK(content, "st_write: names, dtypes, shapes and bytes survive", "content changed");
    T_CHECK(aligned, "st_write: every tensor aligned to its dtype", "misaligned");
    st_free(a);

    FILE *f = fopen(p, "rb");
    uint8_t len8[8] = {0};
    struct stat sb;
    T_CHECK(f && fread(len8, 1, 8, f) == 8 && len8[0] % 8 == 0 && stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0644,
            "st_write: header length a multiple of 8, mode 0644", "len byte %u", len8[0]);
    if (f) fclose(f);

    /* A whole real checkpoint through st_write comes back identical. */
    st_archive *src = NULL, *back = NULL;
    if (st_open_dir(&src, model_dir("tiny-moe"), errbuf, sizeof errbuf) == 0) {
        st_tensor *ts = malloc(st_count(src) * sizeof *ts);
        for (size_t i = 0; i < st_count(src); i++) ts[i] = *st_at(src, i);
        const char *q = tmp_path("moe.safetensors");
        rc = st_write(q, ts, st_count(src), errbuf, sizeof errbuf) || st_open_file(&back, q, errbuf, sizeof errbuf);
        int same = rc == 0 && st_count(back) == st_count(src);
        for (size_t i = 0; same && i < st_count(src); i++) {
            const st_tensor *x = st_at(src, i), *y = st_at(back, i);
            same = !strcmp(x->name, y->name) && x->nbytes == y->nbytes && !memcmp(x->data, y->data, x->nbytes);
        }
        T_CHECK(same, "st_write: tiny-moe rewritten is identical", "%s", rc ? errbuf : "differs");
        free(ts);
        st_free(back);
    }
    st_free(src);

    /* Overwriting replaces the file and leaves no temporary behind. */
    rc = st_write(p, in + 1, 1, errbuf, sizeof errbuf) || st_open_file(&a, p, errbuf, sizeof errbuf);
    T_CHECK(rc == 0 && st_count(a) == 1 && st_find(a, "weights.f32"), "st_write: overwrites an existing file", "%s",
            rc ? errbuf : "old content");
    if (!rc) st_free(a);
    int leftovers = 0;
    DIR *dd = opendir(tmpdir);
    for (struct dirent *de; dd && (de = readdir(dd));) leftovers += strstr(de->d_name, ".tmp.") != NULL;
    if (dd) closedir(dd);
    T_CHECK(leftovers == 0, "st_write: no temporary files left", "%d left", leftovers);
}

static void test_write_errors(void) {
    static const float x[4] = {0};
    st_tensor t = {.name = "x", .dtype = ST_F32, .ndim = 1, .shape = {4}, .data = x, .nbytes = 16};
    st_tensor bad = t;
    const char *p = tmp_path("w.safetensors");
    bad.nbytes = 12;
    T_CHECK(st_write(p, &bad, 1, errbuf, sizeof errbuf) < 0 && strstr(errbuf, p) && strstr(errbuf, "'x'"),
            "st_write: nbytes disagreeing with shape is refused", "%s", errbuf);
    bad = t;
    bad.dtype = ST_NDTYPES;
    T_CHECK(st_write(p, &bad, 1, errbuf, sizeof errbuf) < 0 && strstr(errbuf, "disagree"),
            "st_write: bad dtype refused", "%s", errbuf);
    st_tensor two[2] = {t, t};
    T_CHECK(st_write(p, two, 2, errbuf, sizeof errbuf) < 0 && strstr(errbuf, "twice"),
            "st_write: duplicate names refused", "%s", errbuf);
    T_CHECK(access(p, F_OK) != 0, "st_write: refused writes create no file", "file exists");
    const char *nodir = tmp_path("no/such/dir/w.safetensors");
    T_CHECK(st_write(nodir, &t, 1, errbuf, sizeof errbuf) < 0 && strstr(errbuf, nodir) &&
                strstr(errbuf, "No such file"),
            "st_write: missing directory reported with the path", "%s", errbuf);

    /* A write that runs out of room (file-size limit in a child) fails cleanly; the old file survives. */
    T_CHECK(st_write(p, &t, 1, errbuf, sizeof errbuf) == 0, "st_write: first version written", "%s", errbuf);
    static float bigdata[1 << 16];
    st_tensor big = {.name = "big", .dtype = ST_F32, .ndim = 1, .shape = {1 << 16}, .data = bigdata, .nbytes = 1 << 18};
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {4096, 4096};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        char e[1024] = "";
        int rc = st_write(p, &big, 1, e, sizeof e);
        (void)!write(fds[1], e, strlen(e) + 1);
        _exit(rc < 0 ? 0 : 1);
    }
    close(fds[1]);
    char msg[1024] = "";
    ssize_t got = read(fds[0], msg, sizeof msg - 1);
    msg[got > 0 ? got : 0] = 0;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(msg, p) && strstr(msg, "write failed"),
            "st_write: a failed write reports the path", "status %d, message '%s'", status, msg);
    st_archive *a = NULL;
    int rc = st_open_file(&a, p, errbuf, sizeof errbuf);
    T_CHECK(rc == 0 && st_count(a) == 1 && st_find(a, "x") && st_find(a, "x")->nbytes == 16,
            "st_write: the old file is intact after a failed write", "%s", rc ? errbuf : "changed");
    st_free(a);
}

static void test_bad_files(void) {
    expect_fail("st bad: missing file", 0, tmp_path("nope.safetensors"), "nope.safetensors", "No such file");
    expect_fail("st bad: directory given as file", 0, tmpdir, tmpdir, "not a regular file");
    const char *plain = tmp_path("plain");
    write_bytes(plain, "x", 1);
    expect_fail("st bad: unreadable path (file used as a directory)", 0, tmp_path("plain/x.safetensors"),
                "plain/x.safetensors", "Not a directory");
    expect_fail("st dir: a file given as the directory", 1, plain, plain, "not a directory");
    const char *p = tmp_path("short.safetensors");
    write_bytes(p, "\x10\0\0\0\0\0\0", 7);
    expect_fail("st bad: shorter than 8 bytes", 0, p, p, "truncated");
    write_bytes(p, "", 0);
    expect_fail("st bad: empty file", 0, p, p, "truncated");
    write_st(p, 1000, "{}", 0);
    expect_fail("st bad: header length beyond the file", 0, p, p, "runs past the end of the file");
    write_st(p, 200ull << 20, "{}", 0);
    expect_fail("st bad: header length over 100 MB", 0, p, p, "100 MB");
    write_st(p, ~0ull - 1, "{}", 0);
    expect_fail("st bad: header length near 2^64", 0, p, p, "100 MB");

    bad_header("st bad: header not JSON", "{\"a\": ", 0, "invalid JSON");
    bad_header("st bad: header garbage", "hello world", 0, "invalid JSON");
    bad_header("st bad: header is an array", "[1, 2]", 0, "not a JSON object");
    bad_header("st bad: header empty", "", 0, "invalid JSON");
    bad_header("st bad: data after the JSON value", "{} {}", 0, "invalid JSON");
    write_bytes(p, "\x08\0\0\0\0\0\0\0{}\0     ", 16);
    expect_fail("st bad: NUL after the header object", 0, p, p, "unexpected data at byte 2");
    bad_header("st bad: too deeply nested", "{\"__metadata__\": [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}", 0,
               "invalid JSON");
    bad_header("st bad: JSON extension (comment) refused", "{/* c */}", 0, "invalid JSON");
    bad_header("st bad: invalid UTF-8 in a name",
               "{\"\xff\xfe\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 1, "invalid utf-8");
    bad_header("st bad: entry not an object", "{\"t\": 5}", 0, "'t': entry is not an object");
    bad_header("st bad: missing dtype", "{\"t\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4, "'t': missing dtype");
    bad_header("st bad: dtype not a string", "{\"t\": {\"dtype\": 4, \"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
               "'t': non-string dtype");
    bad_header("st bad: unknown dtype", "{\"t\": {\"dtype\": \"Q4_K\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
               "'t': unknown dtype 'Q4_K'");
    bad_header("st bad: missing shape", "{\"t\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4,
               "'t': missing shape");
    bad_header("st bad: shape not a list", "{\"t\": {\"dtype\": \"F32\", \"shape\": 1, \"data_offsets\": [0, 4]}}", 4,
               "'t': non-array shape");
    bad_header("st bad: negative dim", "{\"t\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4,
               "'t': shape dim 0 is -1");
    bad_header("st bad: fractional dim", "{\"t\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", 4,
               "'t': shape dim 0");
    bad_header("st bad: too many dims",
               "{\"t\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}", 4,
               "'t': 9 dims");
    bad_header("st bad: shape size overflow",
               "{\"t\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 4]}}", 4,
               "'t': shape size overflows");
    bad_header("st bad: dim beyond int64",
               "{\"t\": {\"dtype\": \"F32\", \"shape\": [99999999999999999999], \"data_offsets\": [0, 4]}}", 4,
               "'t': shape dim 0");
    bad_header("st bad: missing data_offsets", "{\"t\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4,
               "'t': data_offsets missing");
    bad_header("st bad: data_offsets of 3",
               "{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4, 8]}}", 8, "'t': data_offsets [");
    bad_header("st bad: negative offset", "{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]}}", 4,
               "'t': data_offsets [");
    bad_header("st bad: string offset", "{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [\"0\", 4]}}",
               4, "'t': data_offsets [");
    bad_header("st bad: reversed offsets", "{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}", 4,
               "'t': data_offsets [4, 0] are reversed");
    bad_header("st bad: offsets past the end",
               "{\"t\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 4,
               "'t': data_offsets end 8 runs past the end of the file");
    bad_header(
        "st bad: offset beyond 2^63",
        "{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [18446744073709551611, 18446744073709551615]}}",
        4, "runs past the end");
    bad_header("st bad: size disagrees with shape",
               "{\"t\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 4,
               "'t': data_offsets span 4 bytes but F32 shape needs 8");
    bad_header("st bad: overlapping tensors",
               "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
               " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}",
               12, "'b': data_offsets [4, 12] overlap the previous tensor");
    bad_header("st bad: gap between tensors",
               "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
               " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}}",
               12, "'b': data_offsets [8, 12] leave a gap");
    bad_header("st bad: gap before the first tensor",
               "{\"a\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [4, 8]}}", 8,
               "'a': data_offsets [4, 8] leave a gap");
    bad_header("st bad: bytes after the last tensor",
               "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 6,
               "data region is 6 bytes but the tensors cover 4");
    bad_header("st bad: duplicate tensor names",
               "{\"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
               " \"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}",
               2, "duplicate tensor name 'a'");
    bad_header("st bad: metadata not an object", "{\"__metadata__\": [1]}", 0, "__metadata__ is not an object");
    bad_header("st bad: metadata value not a string", "{\"__metadata__\": {\"format\": 1}}", 0,
               "__metadata__ value 'format' is not a string");

    /* Accepted edge cases: tensors listed out of data order, zero-size tensors, metadata, no tensors. */
    const char *ok = tmp_path("ok.safetensors");
    write_st(ok, ~0ull,
             "{\"b\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [3, 5]},"
             " \"z\": {\"dtype\": \"F32\", \"shape\": [0, 7], \"data_offsets\": [3, 3]},"
             " \"__metadata__\": {\"format\": \"pt\"},"
             " \"a\": {\"dtype\": \"I8\", \"shape\": [3], \"data_offsets\": [0, 3]}}   ",
             5);
    st_archive *a = NULL;
    int rc = st_open_file(&a, ok, errbuf, sizeof errbuf);
    T_CHECK(rc == 0 && st_count(a) == 3 && st_find(a, "z")->nbytes == 0 &&
                ((const uint8_t *)st_find(a, "b")->data)[0] == 22,
            "st ok: out-of-order offsets, zero-size tensor, metadata", "%s", rc ? errbuf : "wrong content");
    st_free(a);
    write_st(ok, ~0ull, "{}", 0);
    rc = st_open_file(&a, ok, errbuf, sizeof errbuf);
    T_CHECK(rc == 0 && st_count(a) == 0 && !st_find(a, "x"), "st ok: empty header, no tensors", "%s", errbuf);
    st_free(a);

    /* A real file cut short by one byte. */
    char src[4096];
    snprintf(src, sizeof src, "%s/model.safetensors", model_dir("tiny-e"));
    FILE *f = fopen(src, "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        rewind(f);
        char *b = malloc((size_t)n);
        if (fread(b, 1, (size_t)n, f) == (size_t)n) {
            const char *cut = tmp_path("cut.safetensors");
            write_bytes(cut, b, (size_t)n - 1);
            expect_fail("st bad: real checkpoint truncated by one byte", 0, cut, cut, "runs past the end");
        }
        free(b);
        fclose(f);
    }
}

/* A directory with shards and an index, built from scratch. */
static void make_shard_dir(const char *dir, const char *index) {
    char p[600];
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/s1.safetensors", dir);
    write_st(p, ~0ull, "{\"a\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [0, 2]}}", 2);
    snprintf(p, sizeof p, "%s/s2.safetensors", dir);
    write_st(p, ~0ull, "{\"b\": {\"dtype\": \"U8\", \"shape\": [3], \"data_offsets\": [0, 3]}}", 3);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    write_bytes(p, index, strlen(index));
}

static void bad_index(const char *name, const char *index, const char *what) {
    char dir[600], ipath[700];
    snprintf(dir, sizeof dir, "%s/shards", tmpdir);
    make_shard_dir(dir, index);
    snprintf(ipath, sizeof ipath, "%s/model.safetensors.index.json", dir);
    expect_fail(name, 1, dir, ipath, what);
}

static void test_dirs(void) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/shards", tmpdir);
    make_shard_dir(
        dir,
        "{\"metadata\": {\"total_size\": 5}, \"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}}");
    st_archive *a = NULL;
    int rc = st_open_dir(&a, dir, errbuf, sizeof errbuf);
    T_CHECK(rc == 0 && st_count(a) == 2 && !strcmp(st_find(a, "a")->file, "s1.safetensors") &&
                !strcmp(st_find(a, "b")->file, "s2.safetensors"),
            "st dir: two shards via the index", "%s", rc ? errbuf : "wrong content");
    st_free(a);

    expect_fail("st dir: missing directory", 1, tmp_path("nodir"), "nodir", "No such file");
    char empty[600];
    snprintf(empty, sizeof empty, "%s/empty", tmpdir);
    mkdir(empty, 0755);
    expect_fail("st dir: no weights", 1, empty, empty, "no model.safetensors or model.safetensors.index.json");
    bad_index("st index: invalid JSON", "{\"weight_map\": ", "invalid JSON");
    bad_index("st index: no weight_map", "{\"metadata\": {}}", "no weight_map object");
    bad_index("st index: shard path with a slash", "{\"weight_map\": {\"a\": \"../shards/s1.safetensors\"}}",
              "shard \"..\\/shards\\/s1.safetensors\"");
    bad_index("st index: shard named ..", "{\"weight_map\": {\"a\": \"..\"}}", "'a': shard \"..\" is not a file name");
    bad_index("st index: shard not a string", "{\"weight_map\": {\"a\": 1}}", "'a': shard 1 is not a file name");
    bad_index("st index: absent shard", "{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s9.safetensors\"}}",
              "shard 's9.safetensors': ");
    bad_index("st index: tensor not in its shard",
              "{\"weight_map\": {\"a\": \"s1.safetensors\", \"c\": \"s2.safetensors\"}}",
              "tensor 'c' is listed in shard 's2.safetensors' but not found there");
    bad_index("st index: tensor in the other shard",
              "{\"weight_map\": {\"a\": \"s2.safetensors\", \"b\": \"s1.safetensors\"}}",
              "tensor 'a' is listed in shard 's2.safetensors' but found in s1.safetensors");
    char p[700];
    make_shard_dir(dir, "{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}}");
    snprintf(p, sizeof p, "%s/s2.safetensors", dir);
    write_st(p, ~0ull, "{\"a\": {\"dtype\": \"U8\", \"shape\": [3], \"data_offsets\": [0, 3]}}", 3);
    expect_fail("st index: same tensor in two shards", 1, dir, p, "tensor 'a' already appears in s1.safetensors");
    snprintf(p, sizeof p, "%s/s2.safetensors", dir);
    write_st(p, ~0ull, "{\"b\": {\"dtype\": \"BAD\", \"shape\": [3], \"data_offsets\": [0, 3]}}", 3);
    expect_fail("st index: broken shard named with the index", 1, dir,
                "model.safetensors.index.json: shard 's2.safetensors'", "unknown dtype 'BAD'");
}

int main(void) {
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/test_st.XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        T_CHECK(0, "st: temp dir", "%s", strerror(errno));
        return t_exit();
    }
    test_fixtures();
    test_round_trip();
    test_write_errors();
    test_bad_files();
    test_dirs();
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return t_exit();
}
