/* tr: the transcript in memory, the save/load round trip, Markdown export and sha256. */
#include <sys/stat.h>
#include "tests/t.h"
#include "tests/tr/tr_fixture.h"

/* Strict UTF-8 check, written apart from the module's own. */
static int valid_utf8(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        unsigned need = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 9;
        if (need == 9 || i + need >= n + (need ? 0 : 1)) return 0;
        uint32_t cp = need ? c & (0x3f >> need) : c;
        for (unsigned k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[need] || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return 0;
        i += need + 1;
    }
    return 1;
}

static void test_sha(const char *dir) {
    char path[4200], hex[65], err[4400], cmd[4400];
    struct { const char *in; size_t n; const char *want; } v[] = {
        {"", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    snprintf(path, sizeof path, "%s/sha", dir);
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        fx_write(path, v[i].in, v[i].n);
        int rc = tr_sha256_file(path, hex, err, sizeof err);
        T_CHECK(rc == 0 && !strcmp(hex, v[i].want), "tr_sha256_file FIPS vector", "input %zu: %s", i, rc ? err : hex);
    }
    char *mil = malloc(1000000);
    memset(mil, 'a', 1000000);
    fx_write(path, mil, 1000000);
    free(mil);
    tr_sha256_file(path, hex, err, sizeof err);
    T_CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
            "tr_sha256_file million a", "%s", hex);
    /* every length around the padding boundaries, against coreutils */
    int bad = 0;
    char buf[200];
    for (size_t n = 0; n < sizeof buf; n++) {
        buf[n] = (char)(n * 37 + 11);
        fx_write(path, buf, n);
        snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
        FILE *p = popen(cmd, "r");
        char want[65] = "";
        if (!p || fscanf(p, "%64s", want) != 1) bad++;
        if (p) pclose(p);
        if (tr_sha256_file(path, hex, err, sizeof err) || strcmp(hex, want)) bad++;
    }
    T_CHECK(bad == 0, "tr_sha256_file matches sha256sum for lengths 0..199", "%d mismatches", bad);
    snprintf(path, sizeof path, "%s/missing", dir);
    T_CHECK(tr_sha256_file(path, hex, err, sizeof err) < 0 && strstr(err, path), "tr_sha256_file names a missing file",
            "%s", err);
}

static void test_memory(void) {
    tr_transcript *t;
    tr_create(&t);
    char text[] = "abc";
    int32_t ids[] = {1, 2};
    tr_message m = {.role = TR_USER, .text = text, .len = 3, .ids = ids, .n_ids = 2};
    int i = tr_append(t, &m);
    text[0] = 'X', ids[0] = 99;
    T_CHECK(i == 0 && !strcmp(tr_at(t, 0)->text, "abc") && tr_at(t, 0)->ids[0] == 1, "tr_append copies deeply", NULL);
    T_CHECK(tr_at(t, 1) == NULL && tr_count(t) == 1, "tr_at out of range is NULL", NULL);
    T_CHECK(tr_push_alt(t, 0) < 0 && tr_push_alt(t, 5) < 0, "tr_push_alt refuses user and missing messages", NULL);
    m.role = TR_MODEL;
    m.text = "one", m.len = 3;
    tr_append(t, &m);
    tr_push_alt(t, 1);
    tr_message *r = tr_at(t, 1);
    T_CHECK(r->len == 0 && r->n_ids == 0 && r->text && !r->text[0] && r->n_alts == 1 && !strcmp(r->alts[0].text, "one"),
            "tr_push_alt leaves an empty reply", NULL);
    /* a long streamed reply, one token at a time */
    int ok = 1;
    for (int k = 0; k < 20000; k++) ok &= tr_extend(t, &(int32_t){k}, 1, "xy", 2) == 0;
    r = tr_at(t, 1);
    ok &= r->n_ids == 20000 && r->len == 40000 && r->ids[19999] == 19999 && r->text[40000] == 0 &&
          !memcmp(r->text + 39998, "xy", 2);
    T_CHECK(ok, "tr_extend streams 20000 tokens", NULL);
    tr_end(t, "length");
    T_CHECK(tr_select_alt(t, 1, 0) == 0 && !strcmp(tr_at(t, 1)->text, "one") && tr_at(t, 1)->alts[0].n_ids == 20000 &&
                !strcmp(tr_at(t, 1)->alts[0].stop, "length"),
            "tr_select_alt swaps reply and alternative", NULL);
    T_CHECK(tr_select_alt(t, 1, 1) < 0 && tr_select_alt(t, 0, 0) < 0, "tr_select_alt refuses a missing alternative",
            NULL);
    tr_truncate(t, 1);
    T_CHECK(tr_count(t) == 1, "tr_truncate drops the tail", NULL);
    tr_truncate(t, 0);
    T_CHECK(tr_count(t) == 0 && tr_extend(t, NULL, 0, "x", 1) < 0 && tr_end(t, "stop_id") < 0,
            "tr_extend and tr_end need a message", NULL);
    tr_free(t);
}

static void test_round_trip(const char *dir) {
    char path[4200], err[4400];
    snprintf(path, sizeof path, "%s/chat.json", dir);
    tr_transcript *t = fx_sample(), *u = NULL, *v = NULL;
    T_CHECK(tr_save(t, path, err, sizeof err) == 0, "tr_save writes the sample", "%s", err);
    T_CHECK(tr_load(&u, path, err, sizeof err) == 0, "tr_load reads it back", "%s", err);
    const char *d = u ? fx_diff(t, u) : "nothing loaded";
    T_CHECK(!*d, "round trip keeps every field (NUL bytes, bad UTF-8, alternatives, NaN)", "%s differs", d);
    size_t len;
    char *file = fx_read(path, &len);
    T_CHECK(file && valid_utf8((unsigned char *)file, len) && !memchr(file, 0, len), "the file is valid UTF-8", NULL);
    T_CHECK(file && strstr(file, "hello\\u0000world") && strstr(file, "\"text_base64\"") &&
                strstr(file, "\"format\":\"gemmachat-transcript\"") && strstr(file, "\"version\":2"),
            "NUL is \\u0000 and bad bytes go to text_base64", NULL);
    struct stat sb;
    T_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "a new transcript is private (0600)", "%o",
            sb.st_mode & 0777);
    /* saving what was loaded gives the same file, but for the id and time on the first line */
    char path2[4300];
    snprintf(path2, sizeof path2, "%s.again", path);
    chmod(path, 0644);
    tr_save(u, path, err, sizeof err);
    T_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644, "saving over a file keeps its mode", NULL);
    tr_save(u, path2, err, sizeof err);
    char *again = fx_read(path2, NULL), *f2 = fx_read(path, NULL);
    T_CHECK(f2 && again && strchr(f2, '\n') && !strcmp(strchr(f2, '\n'), strchr(again, '\n')),
            "save is canonical: saving a loaded transcript rewrites the same body", NULL);
    free(again);
    free(f2);
    free(file);
    tr_free(u);
    /* an empty transcript, and a reply left unfinished */
    tr_transcript *e;
    tr_create(&e);
    tr_save(e, path, err, sizeof err);
    T_CHECK(tr_load(&v, path, err, sizeof err) == 0 && tr_count(v) == 0 && tr_settings_of(v)->system == NULL,
            "empty transcript round trip", "%s", err);
    tr_free(v);
    fx_msg(e, TR_USER, FX_LIT("q"), 1, "");
    fx_msg(e, TR_MODEL, FX_LIT("half an ans"), 4, "");
    tr_save(e, path, err, sizeof err);
    tr_load(&v, path, err, sizeof err);
    T_CHECK(v && tr_count(v) == 2 && !strcmp(tr_at(v, 1)->stop, "stopped_early") && tr_at(v, 1)->len == 11,
            "an unfinished reply loads as stopped_early", NULL);
    tr_free(v);
    tr_free(e);
    /* through a symlink: the link stays, its target is replaced */
    char link[4300];
    snprintf(link, sizeof link, "%s/link.json", dir);
    T_CHECK(symlink("chat.json", link) == 0 && tr_save(t, link, err, sizeof err) == 0 && lstat(link, &sb) == 0 &&
                S_ISLNK(sb.st_mode) && tr_load(&v, path, err, sizeof err) == 0 && tr_count(v) == tr_count(t),
            "saving through a symlink replaces its target", "%s", err);
    tr_free(v);
    T_CHECK(tr_save(t, dir, err, sizeof err) < 0 && strstr(err, dir) && strstr(err, "directory"),
            "saving onto a directory is refused", "%s", err);
    tr_free(t);
}

static void test_export(const char *dir) {
    char path[4200], err[4400];
    snprintf(path, sizeof path, "%s/chat.md", dir);
    tr_transcript *t = fx_sample();
    T_CHECK(tr_export_md(t, path, err, sizeof err) == 0, "tr_export_md writes", "%s", err);
    size_t len;
    char *md = fx_read(path, &len);
    T_CHECK(md && valid_utf8((unsigned char *)md, len) && !memchr(md, 0, len), "the Markdown is valid UTF-8", NULL);
    const char *want[] = {"## System prompt\n\nYou are terse.", "## 1. You\n\nhello\xe2\x90\x80world",
                          "## 1. Gemma\n\nsecond reply\xe2\x90\x80!", "*(cut off at the length limit)*",
                          "### Earlier reply 1 of 1\n\nfirst reply", "## 2. You\n\nbad bytes \xef\xbf\xbd",
                          "*(interrupted: the reply was stopped early)*", "temperature 0.7", "min-p default",
                          "- Thinking: on", "seed 9223372036854775813"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        T_CHECK(md && strstr(md, want[i]), "Markdown holds its parts", "missing: %s", want[i]);
    char *first = md ? strstr(md, "## 1. You") : NULL, *second = md ? strstr(md, "## 2. You") : NULL;
    T_CHECK(first && second && first < second, "turns appear in order", NULL);
    free(md);
    T_CHECK(tr_export_md(t, "/nonexistent-dir/x.md", err, sizeof err) < 0 && strstr(err, "/nonexistent-dir/x.md"),
            "export to a missing directory names the path", "%s", err);
    tr_free(t);
}

int main(void) {
    char dir[4096];
    if (!fx_tmpdir(dir, sizeof dir)) return 1;
    test_sha(dir);
    test_memory();
    test_round_trip(dir);
    test_export(dir);
    fx_rmdir(dir);
    return t_exit();
}
