/* tr_load refuses every malformed transcript with a message naming the file (and never crashes),
 * and accepts the odd-but-valid ones. */
#include <fcntl.h>
#include "tests/t.h"
#include "tests/tr/tr_fixture.h"

static const char BASE[] =
    "{\"format\":\"gemmachat-transcript\",\"version\":1,\"id\":\"0123456789abcdef\","
    "\"model\":{\"dir\":\"m\",\"config_sha256\":\"\"},"
    "\"settings\":{\"temp\":0.5,\"top_k\":1,\"top_p\":1,\"min_p\":0,\"seed\":1,\"max_new\":0,"
    "\"think\":false,\"system\":null},"
    "\"messages\":[{\"role\":\"user\",\"text\":\"hi\",\"ids\":[1,2],\"prefill_new\":4,\"gen_ms\":1.5},"
    "{\"role\":\"model\",\"text\":\"yo\",\"ids\":[3],\"stop\":\"stop_id\","
    "\"alternatives\":[{\"text\":\"a\",\"ids\":[4],\"stop\":\"length\"}]}]}\n";

/* BASE with the first `from` replaced by `to` (from NULL: to is the whole file). */
static char *variant(const char *from, const char *to, size_t *len) {
    if (!from) {
        *len = strlen(to);
        return strdup(to);
    }
    const char *at = strstr(BASE, from);
    if (!at) return NULL;
    size_t a = (size_t)(at - BASE), fl = strlen(from), tl = strlen(to);
    char *s = malloc(sizeof BASE + tl);
    memcpy(s, BASE, a);
    memcpy(s + a, to, tl);
    strcpy(s + a + tl, BASE + a + fl);
    *len = strlen(s);
    return s;
}

static void refused(const char *dir, const char *name, const char *data, size_t len, const char *why) {
    char path[4200], err[4600] = "";
    snprintf(path, sizeof path, "%s/bad.json", dir);
    if (!data || fx_write(path, data, len)) {
        T_CHECK(0, name, "could not build the case");
        return;
    }
    tr_transcript *t = (tr_transcript *)1;
    int rc = tr_load(&t, path, err, sizeof err);
    T_CHECK(rc < 0 && t == NULL && strstr(err, path) && strstr(err, why), name, "rc %d, err: %s", rc, err);
}

static void refused_variant(const char *dir, const char *name, const char *from, const char *to, const char *why) {
    size_t len = 0;
    char *s = variant(from, to, &len);
    refused(dir, name, s, len, why);
    free(s);
}

static void test_refused(const char *dir) {
    struct { const char *name, *from, *to, *why; } c[] = {
        {"empty file", NULL, "", "empty"},
        {"not JSON", NULL, "hello, world", "not a gemmachat transcript"},
        {"only spaces", NULL, " \n\t ", "empty"},
        {"truncated", "{\"role\":\"model\"", "{\"role\":\"mo", "invalid JSON"},
        {"top level array", NULL, "[1,2,3]", "not a gemmachat transcript"},
        {"foreign JSON", NULL, "{\"name\":\"my notes\",\"items\":[]}", "not a gemmachat transcript"},
        {"other format", "gemmachat-transcript", "chatgpt-export", "not a gemmachat transcript"},
        {"future version", "\"version\":1", "\"version\":3", "newer than this gemmachat"},
        {"version as string", "\"version\":1", "\"version\":\"1\"", "version must be an integer"},
        {"version zero", "\"version\":1", "\"version\":0", "not valid"},
        {"messages not an array", "\"messages\":[", "\"messages\":\"none\",\"x\":[", "messages must be an array"},
        {"messages missing", "\"messages\"", "\"messagez\"", "messages is missing"},
        {"message not an object", "[{\"role\":\"user\"", "[7,{\"role\":\"user\"",
         "messages[0]: a message must be an object"},
        {"unknown role", "\"role\":\"user\"", "\"role\":\"wizard\"", "messages[0]: role \"wizard\""},
        {"role wrong type", "\"role\":\"user\"", "\"role\":1", "role must be a string"},
        {"text wrong type", "\"text\":\"hi\"", "\"text\":42", "messages[0]: text must be a string"},
        {"text missing", "\"text\":\"hi\",", "", "messages[0]: text is missing"},
        {"negative id", "[1,2]", "[1,-2]", "ids[1] = -2 is not a token id"},
        {"huge id", "[1,2]", "[1,99999999999999999999]", "ids[1]"},
        {"id past int32", "[1,2]", "[2147483648]", "ids[0] = 2147483648 is not a token id"},
        {"fractional id", "[1,2]", "[1.5]", "is not a token id"},
        {"ids wrong type", "[1,2]", "\"1,2\"", "ids must be an array"},
        {"stop too long", "\"stop_id\"", "\"stop_id_and_much_more\"", "stop is too long"},
        {"stop odd characters", "\"stop_id\"", "\"Stop!\"", "not a stop reason"},
        {"temp wrong type", "\"temp\":0.5", "\"temp\":\"hot\"", "settings: temp must be a number"},
        {"temp NaN", "\"temp\":0.5", "\"temp\":NaN", "temp must be finite"},
        {"temp overflow", "\"temp\":0.5", "\"temp\":1e400", "temp must be finite"},
        {"seed negative", "\"seed\":1", "\"seed\":-5", "seed = -5 is negative"},
        {"top_k huge", "\"top_k\":1", "\"top_k\":99999999999", "top_k = 99999999999 is out of range"},
        {"count past int32", "\"prefill_new\":4", "\"prefill_new\":3000000000", "prefill_new"},
        {"gen_ms wrong type", "\"gen_ms\":1.5", "\"gen_ms\":\"fast\"", "gen_ms must be a number"},
        {"think not boolean", "\"think\":false", "\"think\":1", "think must be true or false"},
        {"bad base64", "\"text\":\"hi\"", "\"text\":\"hi\",\"text_base64\":\"!!!!\"",
         "text_base64 is not valid base64"},
        {"base64 bad padding", "\"text\":\"hi\"", "\"text\":\"hi\",\"text_base64\":\"aGk=a\"", "not valid base64"},
        {"alternatives wrong type", "\"alternatives\":[", "\"alternatives\":7,\"x\":[",
         "alternatives must be an array"},
        {"alternative not an object", "[{\"text\":\"a\"", "[3,{\"text\":\"a\"", "alternatives[0]: must be an object"},
        {"alternative negative id", "\"ids\":[4]", "\"ids\":[-4]", "alternatives[0]: ids[0] = -4"},
        {"trailing data", "]}\n", "]}\n{}", "invalid JSON"},
        {"raw invalid UTF-8 (bytes belong in text_base64)", "\"text\":\"hi\"", "\"text\":\"h\xff\xc0i\"",
         "invalid utf-8"},
        {"duplicate key", "\"id\":", "\"messages\":[],\"id\":", "\"messages\" appears twice"},
        {"bad config hash", "\"config_sha256\":\"\"", "\"config_sha256\":\"xyz\"", "64 lowercase hex"},
        {"system with NUL", "\"system\":null", "\"system\":\"a\\u0000b\"", "system holds a NUL byte"},
        {"settings missing", "\"settings\"", "\"settingz\"", "settings is missing"},
        {"model wrong type", "\"model\":{\"dir\":\"m\",\"config_sha256\":\"\"}", "\"model\":\"m\"",
         "model must be an object"},
        {"bad id", "0123456789abcdef", "not-an-id", "id must be 16 hex digits"},
        {"comment (not JSON)", "{\"format\"", "/* hi */{\"format\"", "not a gemmachat transcript"},
        {"comment inside (not JSON)", "\"version\":1,", "\"version\":1,/* x */", "invalid JSON"},
        {"single quotes (not JSON)", "\"role\":\"user\"", "'role':'user'", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) refused_variant(dir, c[i].name, c[i].from, c[i].to, c[i].why);

    /* a raw NUL byte outside any string, and nesting deep enough to exhaust a naive parser */
    char raw[sizeof BASE];
    memcpy(raw, BASE, sizeof BASE);
    raw[10] = 0;
    refused(dir, "raw NUL byte", raw, sizeof BASE - 1, "invalid JSON");
    size_t deep = 200000;
    char *d = malloc(deep * 2 + 8);
    memcpy(d, "{\"a\":", 5), memset(d + 5, '[', deep), memset(d + 5 + deep, ']', deep), strcpy(d + 5 + 2 * deep, "}");
    refused(dir, "deep nesting", d, strlen(d), "invalid JSON");
    free(d);

    char path[4200], err[4600];
    tr_transcript *t;
    snprintf(path, sizeof path, "%s/missing.json", dir);
    T_CHECK(tr_load(&t, path, err, sizeof err) < 0 && strstr(err, path) && strstr(err, "No such file"),
            "missing file is named", "%s", err);
    T_CHECK(tr_load(&t, dir, err, sizeof err) < 0 && strstr(err, dir) && strstr(err, "directory"),
            "a directory is refused", "%s", err);
    snprintf(path, sizeof path, "%s/huge.json", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int made = fd >= 0 && ftruncate(fd, ((off_t)1 << 30) + 1) == 0;   /* sparse: costs no disk */
    if (fd >= 0) close(fd);
    T_CHECK(made && tr_load(&t, path, err, sizeof err) < 0 && strstr(err, path) && strstr(err, "too large"),
            "a file over 1 GiB is refused unread", "%s", err);
    unlink(path);
}

static void test_accepted(const char *dir) {
    char path[4200], err[4600];
    tr_transcript *t = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/ok.json", dir);
    struct { const char *name, *from, *to; } c[] = {
        {"the base case", "\"m\"", "\"m\""},
        {"bytes through text_base64", "\"text\":\"hi\"", "\"text\":\"h??i\",\"text_base64\":\"aP/AaQ==\""},
        {"unknown members are ignored", "\"version\":1", "\"version\":1,\"future\":{\"x\":[1]}"},
        {"optional members may be left out", "\"ids\":[1,2],\"prefill_new\":4,\"gen_ms\":1.5", "\"ids\":[]"},
        {"null numbers read as NaN (model default)", "\"temp\":0.5", "\"temp\":null"},
        {"the largest seed", "\"seed\":1", "\"seed\":18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        char *s = variant(c[i].from, c[i].to, &len);
        fx_write(path, s, len);
        free(s);
        int rc = tr_load(&t, path, err, sizeof err);
        T_CHECK(rc == 0 && t && tr_count(t) == 2, c[i].name, "%s", err);
        if (i == 1)
            T_CHECK(t && tr_at(t, 0)->len == 4 && !memcmp(tr_at(t, 0)->text, "h\xff\xc0i", 4), "bad bytes kept", NULL);
        if (i == 4) T_CHECK(t && isnan(tr_settings_of(t)->temp), "null temp is NaN", NULL);
        if (i == 5) T_CHECK(t && tr_settings_of(t)->seed == UINT64_MAX, "seed 2^64-1 kept", NULL);
        if (i == 0)
            T_CHECK(t && tr_at(t, 1)->n_alts == 1 && !strcmp(tr_at(t, 1)->alts[0].stop, "length") &&
                        tr_at(t, 0)->prefill_new == 4 && tr_at(t, 0)->gen_ms == 1.5,
                    "base case fields", NULL);
        tr_free(t);
        t = NULL;
    }
}

/* Every cut of a real transcript is refused; random byte damage never crashes and is always named. */
static void test_damage(const char *dir) {
    char path[4200], cut[4200], err[4600];
    snprintf(path, sizeof path, "%s/good.json", dir);
    snprintf(cut, sizeof cut, "%s/cut.json", dir);
    tr_transcript *t = fx_sample(), *u;
    tr_save(t, path, err, sizeof err);
    tr_free(t);
    size_t len;
    char *good = fx_read(path, &len);
    int wrong = 0;
    for (size_t n = 0; good && n + 1 < len; n++) {   /* n = len - 1 only drops the final newline */
        fx_write(cut, good, n);
        if (tr_load(&u, cut, err, sizeof err) == 0) wrong++, tr_free(u);
        else if (!strstr(err, cut)) wrong++;
    }
    T_CHECK(good && wrong == 0, "every truncation of a saved transcript is refused with the file named",
            "%d cuts loaded or unnamed", wrong);
    int named = 1, loaded = 0;
    srand(7);
    for (int k = 0; good && k < 1500; k++) {
        char *b = malloc(len);
        memcpy(b, good, len);
        for (int f = 0; f < 1 + k % 3; f++) b[(size_t)rand() % len] = (char)(rand() % 256);
        fx_write(cut, b, len);
        free(b);
        if (tr_load(&u, cut, err, sizeof err) == 0) loaded++, tr_free(u);
        else named &= strstr(err, cut) != NULL;
    }
    T_CHECK(named, "1500 randomly damaged files: no crash, every refusal names the file", "%d loaded", loaded);
    free(good);
}

int main(void) {
    char dir[4096];
    if (!fx_tmpdir(dir, sizeof dir)) return 1;
    test_refused(dir);
    test_accepted(dir);
    test_damage(dir);
    fx_rmdir(dir);
    return t_exit();
}
