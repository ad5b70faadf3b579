/* Chats on disk: the chats directory, autosave names, /sessions listing and --resume's last chat. */
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include "tests/t.h"
#include "tests/tr/tr_fixture.h"

static void touch_at(const char *path, time_t when) {
    struct timeval tv[2] = {{when, 0}, {when, 0}};
    utimes(path, tv);
}

static void test_dir(const char *top) {
    char out[4200], want[4200], err[4600];
    struct stat sb;
    setenv("XDG_DATA_HOME", top, 1);
    snprintf(want, sizeof want, "%s/gemmachat/chats", top);
    T_CHECK(tr_chats_dir(out, sizeof out, 0, err, sizeof err) == 0 && !strcmp(out, want) && stat(out, &sb) != 0,
            "XDG_DATA_HOME/gemmachat/chats, not made unless asked", "%s", out);
    T_CHECK(tr_chats_dir(out, sizeof out, 1, err, sizeof err) == 0 && stat(out, &sb) == 0 && S_ISDIR(sb.st_mode) &&
                (sb.st_mode & 0777) == 0700,
            "made on request, private (0700)", "%s", err);
    setenv("XDG_DATA_HOME", "relative/path", 1);
    setenv("HOME", top, 1);
    snprintf(want, sizeof want, "%s/.local/share/gemmachat/chats", top);
    T_CHECK(tr_chats_dir(out, sizeof out, 0, err, sizeof err) == 0 && !strcmp(out, want),
            "a relative XDG_DATA_HOME is ignored for ~/.local/share", "%s", out);
    unsetenv("XDG_DATA_HOME");
    T_CHECK(tr_chats_dir(out, sizeof out, 0, err, sizeof err) == 0 && !strcmp(out, want), "default ~/.local/share",
            "%s", out);
    snprintf(want, sizeof want, "%s/blocked", top);
    fx_write(want, "x", 1);
    setenv("XDG_DATA_HOME", want, 1);
    T_CHECK(tr_chats_dir(out, sizeof out, 1, err, sizeof err) < 0 && strstr(err, want), "a file in the way is named",
            "%s", err);
    T_CHECK(tr_chats_dir(out, 8, 0, err, sizeof err) < 0, "a too small buffer is an error", NULL);
}

static void test_names(const char *dir) {
    char out[4200], err[4600], want[4200];
    setenv("TZ", "UTC", 1);
    tzset();
    time_t when = 1767225600 + 3600 + 2 * 60 + 3;   /* 2026-01-01 01:02:03 UTC */
    snprintf(want, sizeof want, "%s/chat-20260101-010203.json", dir);
    T_CHECK(tr_autosave_path(dir, when, out, sizeof out, err, sizeof err) == 0 && !strcmp(out, want),
            "autosave name from the local time", "%s", out);
    fx_write(want, "{}", 2);
    snprintf(want, sizeof want, "%s/chat-20260101-010203-2.json", dir);
    T_CHECK(tr_autosave_path(dir, when, out, sizeof out, err, sizeof err) == 0 && !strcmp(out, want),
            "a taken name gets -2", "%s", out);
    char journal[4300];
    snprintf(journal, sizeof journal, "%s.journal", want);
    fx_write(journal, "", 0);
    snprintf(want, sizeof want, "%s/chat-20260101-010203-3.json", dir);
    T_CHECK(tr_autosave_path(dir, when, out, sizeof out, err, sizeof err) == 0 && !strcmp(out, want),
            "a name whose journal exists is taken too", "%s", out);
}

static void save_chat(const char *dir, const char *name, const char *first, int turns, time_t when) {
    char path[4200], err[4600];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    tr_transcript *t;
    tr_create(&t);
    for (int i = 0; i < turns; i++) {
        fx_msg(t, TR_USER, first, strlen(first), 1, "");
        fx_msg(t, TR_MODEL, FX_LIT("ok"), 1, "stop_id");
    }
    tr_save(t, path, err, sizeof err);
    tr_free(t);
    touch_at(path, when);
}

static void test_sessions(const char *top) {
    char dir[4200], path[4300], err[4600], out[4300];
    tr_session *s;
    size_t n = 99;
    snprintf(dir, sizeof dir, "%s/chats", top);
    T_CHECK(tr_sessions(dir, &s, &n, err, sizeof err) == 0 && n == 0, "a missing chats directory lists nothing", "%s",
            err);
    free(s);
    T_CHECK(tr_last_chat(dir, out, sizeof out, err, sizeof err) == 1, "no last chat in a missing directory", NULL);
    mkdir(dir, 0700);
    time_t base = 1700000000;
    save_chat(dir, "old", "first question\nsecond line", 2, base);
    save_chat(dir, "mid", "\x1b[31mred\x1b[0m question", 1, base + 100);
    char long_line[400];
    memset(long_line, 'L', sizeof long_line - 1), long_line[sizeof long_line - 1] = 0;
    save_chat(dir, "new", long_line, 3, base + 200);
    snprintf(path, sizeof path, "%s/broken.json", dir);
    fx_write(path, "{\"format\":\"gemmachat-transcript\",\"version\":7}", 45);
    touch_at(path, base + 50);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    fx_write(path, "x", 1);
    snprintf(path, sizeof path, "%s/old.json.tmp.abc123", dir);
    fx_write(path, "x", 1);
    /* "old" has a journal newer than everything: it was the chat in use when the program died */
    snprintf(path, sizeof path, "%s/old.json.journal", dir);
    fx_write(path, "", 0);
    touch_at(path, base + 300);

    int rc = tr_sessions(dir, &s, &n, err, sizeof err);
    T_CHECK(rc == 0 && n == 4, "lists the *.json chats, damaged ones included", "%zu", n);
    if (rc || n != 4) return;
    T_CHECK(!strcmp(s[0].name, "old") && !strcmp(s[1].name, "new") && !strcmp(s[2].name, "mid") &&
                !strcmp(s[3].name, "broken"),
            "newest first, a journal counting as activity", "%s %s %s %s", s[0].name, s[1].name, s[2].name, s[3].name);
    T_CHECK(s[0].turns == 2 && !strcmp(s[0].first, "first question") && s[0].mtime == base + 300,
            "turns and the first line of the first question", "%d '%s'", s[0].turns, s[0].first);
    T_CHECK(!strchr(s[2].first, '\x1b') && strstr(s[2].first, "red"), "control characters are not passed through",
            "%s", s[2].first);
    T_CHECK(s[1].turns == 3 && strlen(s[1].first) < sizeof s[1].first && strstr(s[1].first, "\xe2\x80\xa6"),
            "a long first line is cut with an ellipsis", "%s", s[1].first);
    T_CHECK(s[3].turns == -1 && strstr(s[3].first, "newer"), "a damaged chat says why", "%s", s[3].first);
    snprintf(path, sizeof path, "%s/old.json", dir);
    T_CHECK(!strcmp(s[0].path, path), "the path is given", "%s", s[0].path);
    free(s);
    T_CHECK(tr_last_chat(dir, out, sizeof out, err, sizeof err) == 0 && !strcmp(out, path),
            "the last chat is the most recently active", "%s", out);
}

int main(void) {
    char dir[4096];
    if (!fx_tmpdir(dir, sizeof dir)) return 1;
    test_dir(dir);
    test_names(dir);
    test_sessions(dir);
    fx_rmdir(dir);
    return t_exit();
}
