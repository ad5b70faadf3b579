/* The autosave journal: when it flushes, what kill -9 leaves recoverable, torn and damaged tails,
 * stale journals, and that replaying any sequence of changes rebuilds the transcript exactly. */
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include "tests/t.h"
#include "tests/tr/tr_fixture.h"

static int lines_of(const char *path) {
    size_t len;
    char *s = fx_read(path, &len);
    int n = 0;
    for (size_t i = 0; s && i < len; i++) n += s[i] == '\n';
    free(s);
    return s ? n : -1;
}

/* The text of line k (0-based) of a file, malloc'd. */
static char *line_of(const char *path, int k) {
    char *s = fx_read(path, NULL), *p = s;
    for (int i = 0; p && i < k; i++) p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
    char *r = p ? strndup(p, strcspn(p, "\n")) : NULL;
    free(s);
    return r;
}

static void piece(char *buf, size_t n, int k) { snprintf(buf, n, "w%d ", k); }

static void test_flush_policy(const char *dir) {
    char path[4200], jp[4300], err[4600], p[16];
    snprintf(path, sizeof path, "%s/flush.json", dir);
    snprintf(jp, sizeof jp, "%s.journal", path);
    tr_transcript *t;
    tr_create(&t);
    T_CHECK(tr_journal_open(t, path, err, sizeof err) == 0 && lines_of(path) > 0 && lines_of(jp) == 1,
            "tr_journal_open saves the snapshot and starts the journal", "%s", err);
    fx_msg(t, TR_USER, FX_LIT("question"), 3, "");
    T_CHECK(lines_of(jp) == 2, "a user message is journaled at once", "%d lines", lines_of(jp));
    fx_msg(t, TR_MODEL, FX_LIT(""), 0, "");
    int ok = 1;
    for (int k = 0; k < 15; k++) {
        piece(p, sizeof p, k);
        tr_extend(t, &(int32_t){k}, 1, p, strlen(p));
        ok &= lines_of(jp) == 3;
    }
    T_CHECK(ok, "15 tokens wait in memory", "%d lines", lines_of(jp));
    piece(p, sizeof p, 15);
    tr_extend(t, &(int32_t){15}, 1, p, strlen(p));
    char *rec = line_of(jp, 3);
    T_CHECK(lines_of(jp) == 4 && rec && strstr(rec, "\"op\":\"tokens\"") && strstr(rec, "\"ids\":[0,1,2,") &&
                strstr(rec, ",15]") && strstr(rec, "w0 w1 "),
            "the 16th token flushes the batch", "%s", rec ? rec : "(none)");
    free(rec);
    tr_extend(t, &(int32_t){16}, 1, "a", 1);
    nanosleep(&(struct timespec){1, 100000000}, NULL);
    T_CHECK(lines_of(jp) == 4, "a waiting token is not written by itself", NULL);
    tr_extend(t, &(int32_t){17}, 1, "b", 1);
    rec = line_of(jp, 4);
    T_CHECK(rec && strstr(rec, "\"ids\":[16,17]"), "a token after 1 s flushes the batch (2 tokens)", "%s",
            rec ? rec : "(none)");
    free(rec);
    tr_extend(t, &(int32_t){18}, 1, "c", 1);
    tr_end(t, "stop_id");
    rec = line_of(jp, 6);
    T_CHECK(lines_of(jp) == 7 && rec && strstr(rec, "\"op\":\"end\"") && strstr(rec, "\"stop\":\"stop_id\""),
            "tr_end writes the waiting token, then the end", "%d lines", lines_of(jp));
    free(rec);
    tr_settings_of(t)->temp = 0.25;
    tr_truncate(t, 1);
    rec = line_of(jp, 7);
    T_CHECK(rec && strstr(rec, "\"op\":\"settings\"") && strstr(rec, "\"temp\":0.25") && lines_of(jp) == 9,
            "a settings change is journaled before the next change", "%s", rec ? rec : "(none)");
    free(rec);
    T_CHECK(tr_checkpoint(t, err, sizeof err) == 0 && lines_of(jp) == 1, "tr_checkpoint starts the journal afresh",
            "%s", err);
    /* another file does not restart it; the same file under another name does */
    char other[4300], alias[4300];
    snprintf(other, sizeof other, "%s/other.json", dir);
    snprintf(alias, sizeof alias, "%s/./flush.json", dir);
    fx_msg(t, TR_MODEL, FX_LIT("x"), 1, "stop_id");
    tr_save(t, other, err, sizeof err);
    T_CHECK(lines_of(jp) == 2, "saving elsewhere leaves the journal alone", NULL);
    tr_save(t, alias, err, sizeof err);
    T_CHECK(lines_of(jp) == 1, "saving the same file by another name restarts the journal", NULL);
    /* a file put in its place by someone else: the checkpoint still restarts the journal */
    fx_msg(t, TR_USER, FX_LIT("y"), 1, "");
    rename(other, path);
    T_CHECK(tr_checkpoint(t, err, sizeof err) == 0 && lines_of(jp) == 1, "the checkpoint follows the path", "%s", err);
    tr_free(t);
    tr_transcript *u;
    T_CHECK(tr_load(&u, path, err, sizeof err) == 0 && tr_count(u) == 3 && tr_settings_of(u)->temp == 0.25 &&
                !*tr_load_note(u),
            "the snapshot holds it all; nothing to replay", "%s", err);
    tr_free(u);
    tr_create(&t);
    T_CHECK(tr_journal_open(t, "/nonexistent-dir/chat.json", err, sizeof err) < 0 &&
                strstr(err, "/nonexistent-dir/chat.json") && !tr_journal_error(t),
            "tr_journal_open on an impossible path fails cleanly", "%s", err);
    T_CHECK(tr_checkpoint(t, err, sizeof err) < 0, "tr_checkpoint without a journal is an error", NULL);
    tr_free(t);
}

/* A child chats (two whole turns, the first checkpointed, then 40 tokens of a third reply) and is
 * killed with SIGKILL; what comes back? */
static void test_kill(const char *dir) {
    char path[4200], err[4600], p[16];
    snprintf(path, sizeof path, "%s/crash.json", dir);
    int ready[2];
    if (pipe(ready)) return;
    pid_t pid = fork();
    if (pid == 0) {
        tr_transcript *t;
        tr_create(&t);
        tr_set_system(t, "be brief");
        if (tr_journal_open(t, path, err, sizeof err)) _exit(1);
        fx_msg(t, TR_USER, FX_LIT("one"), 2, "");
        fx_msg(t, TR_MODEL, FX_LIT("first answer"), 4, "stop_id");
        tr_checkpoint(t, err, sizeof err);
        fx_msg(t, TR_USER, FX_LIT("two"), 2, "");
        fx_msg(t, TR_MODEL, FX_LIT(""), 0, "");
        tr_extend(t, (const int32_t[]){7, 8}, 2, "second answer", 13);
        tr_at(t, 3)->gen_ms = 99.5;
        tr_end(t, "stop_id");
        tr_set_system(t, "be very brief");
        fx_msg(t, TR_USER, FX_LIT("three \xf0\x9f\x98\x80"), 2, "");
        fx_msg(t, TR_MODEL, FX_LIT(""), 0, "");
        for (int k = 0; k < 40; k++) piece(p, sizeof p, k), tr_extend(t, &(int32_t){100 + k}, 1, p, strlen(p));
        if (write(ready[1], "x", 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    close(ready[1]);
    char x;
    int ran = read(ready[0], &x, 1) == 1;
    close(ready[0]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    tr_transcript *t = NULL;
    int rc = tr_load(&t, path, err, sizeof err);
    T_CHECK(ran && rc == 0 && tr_count(t) == 6, "after kill -9: the chat loads with all 6 messages", "%s",
            rc ? err : "");
    if (rc || tr_count(t) != 6) {
        tr_free(t);
        return;
    }
    tr_message *m = tr_at(t, 3);
    T_CHECK(m->len == 13 && !memcmp(m->text, "second answer", 13) && m->n_ids == 2 && !strcmp(m->stop, "stop_id") &&
                m->gen_ms == 99.5,
            "the turn completed after the last snapshot comes back from the journal", NULL);
    m = tr_at(t, 5);
    char want[400] = "";
    for (int k = 0; k < 32; k++) piece(p, sizeof p, k), strcat(want, p);
    int ids_ok = m->n_ids == 32;
    for (size_t k = 0; ids_ok && k < 32; k++) ids_ok = m->ids[k] == 100 + (int)k;
    T_CHECK(ids_ok && m->len == strlen(want) && !strcmp(m->text, want),
            "the partial reply comes back up to the last flush (32 of 40 tokens)", "%zu ids, text %s", m->n_ids,
            m->text);
    T_CHECK(!strcmp(m->stop, "stopped_early"), "the partial reply is marked stopped_early", "%s", m->stop);
    T_CHECK(tr_settings_of(t)->system && !strcmp(tr_settings_of(t)->system, "be very brief") &&
                !strcmp(tr_at(t, 4)->text, "three \xf0\x9f\x98\x80"),
            "a system prompt change and the user message are recovered", NULL);
    T_CHECK(strstr(tr_load_note(t), "recovered") && strstr(tr_load_note(t), "crash.json.journal"),
            "tr_load_note says what was recovered", "%s", tr_load_note(t));
    tr_free(t);

    /* a torn tail (a crash in the middle of a write) is ignored */
    char jp[4300];
    snprintf(jp, sizeof jp, "%s.journal", path);
    size_t len;
    char *j = fx_read(jp, &len), *torn = malloc(len + 64);
    memcpy(torn, j, len);
    memcpy(torn + len, "{\"op\":\"tokens\",\"n\":5,\"ids\":[1,2", 31);
    fx_write(jp, torn, len + 31);
    rc = tr_load(&t, path, err, sizeof err);
    T_CHECK(rc == 0 && tr_count(t) == 6 && tr_at(t, 5)->n_ids == 32, "a torn last record is ignored, not an error",
            "%s", err);
    tr_free(t);
    /* garbage bytes as the torn tail (no newline) */
    memcpy(torn + len, "\0\0\0\xff\xfe", 5);
    fx_write(jp, torn, len + 5);
    rc = tr_load(&t, path, err, sizeof err);
    T_CHECK(rc == 0 && tr_count(t) == 6, "a tail of zero bytes is ignored too", "%s", err);
    tr_free(t);
    /* a damaged record in the middle: replay stops there and says so */
    char *third = strchr(strchr(strchr(j, '\n') + 1, '\n') + 1, '\n') + 1;   /* start of line 4 */
    memcpy(torn, j, len);
    memcpy(torn + (third - j), "#", 1);
    fx_write(jp, torn, len);
    rc = tr_load(&t, path, err, sizeof err);
    T_CHECK(rc == 0 && tr_count(t) == 4 && strstr(tr_load_note(t), "line 4") &&
                strstr(tr_load_note(t), "not replayed"),
            "a damaged middle record ends the replay with a note", "%zu messages, note: %s", tr_count(t),
            tr_load_note(t));
    tr_free(t);
    /* a record that does not fit the snapshot (index out of step) */
    fx_write(jp, j, len);
    char *bad = line_of(jp, 1), *fixed = malloc(len + 64);
    char *at = bad ? strstr(bad, "\"n\":2") : NULL;
    if (at) at[4] = '9';
    snprintf(fixed, len + 64, "%s\n%s\n", strtok(j, "\n"), bad ? bad : "");
    fx_write(jp, fixed, strlen(fixed));
    rc = tr_load(&t, path, err, sizeof err);
    T_CHECK(at && rc == 0 && tr_count(t) == 2 && strstr(tr_load_note(t), "does not fit"),
            "a record out of step with the snapshot is not applied", "%s", tr_load_note(t));
    tr_free(t);
    free(bad);
    free(fixed);
    free(j);
    free(torn);
}

/* A journal left over from before the last snapshot must not be applied twice. */
static void test_stale(const char *dir) {
    char path[4200], jp[4300], err[4600];
    snprintf(path, sizeof path, "%s/stale.json", dir);
    snprintf(jp, sizeof jp, "%s.journal", path);
    tr_transcript *t;
    tr_create(&t);
    tr_journal_open(t, path, err, sizeof err);
    fx_msg(t, TR_USER, FX_LIT("hello"), 1, "");
    size_t len;
    char *old = fx_read(jp, &len);
    tr_checkpoint(t, err, sizeof err);
    tr_free(t);
    fx_write(jp, old, len);   /* as if the crash came between the snapshot's rename and the restart */
    free(old);
    tr_load(&t, path, err, sizeof err);
    T_CHECK(t && tr_count(t) == 1 && !*tr_load_note(t), "a journal of an older snapshot is ignored", NULL);
    tr_free(t);
    fx_write(jp, FX_LIT("{\"op\":\"journal\",\"format\":\"gemmachat-journal\",\"version\":9,\"base\":\"x\"}\n"));
    T_CHECK(tr_load(&t, path, err, sizeof err) == 0 && tr_count(t) == 1, "a foreign journal is ignored", "%s", err);
    tr_free(t);
}

/* Random changes, journaled and never snapshotted: the replay must rebuild them exactly. */
static void test_random_replay(const char *dir) {
    char path[4200], err[4600];
    snprintf(path, sizeof path, "%s/random.json", dir);
    int exact = 0, rounds = 40;
    srand(11);
    for (int r = 0; r < rounds; r++) {
        tr_transcript *t = fx_sample(), *u = NULL;
        tr_journal_open(t, path, err, sizeof err);
        for (int op = 0; op < 200; op++) {
            size_t n = tr_count(t);
            int what = rand() % 10;
            char text[24];
            for (size_t k = 0; k < sizeof text; k++) text[k] = (char)(rand() % 3 ? 'a' + rand() % 26 : rand() % 256);
            if (what < 2) fx_msg(t, rand() % 2 ? TR_USER : TR_MODEL, text, (size_t)(rand() % 24), rand() % 5, "");
            else if (what < 6 && n) tr_extend(t, &(int32_t){rand() % 1000}, 1, text, (size_t)(rand() % 5));
            else if (what == 6 && n) {   /* a reply's generation record goes with its end */
                static const char *const sys[] = {NULL, "sys A", "sys B"};
                tr_gen g = {.set = rand() % 3 != 0, .temp = rand() % 2 ? NAN : 0.25 * (rand() % 8),
                            .top_k = rand() % 50, .seed = (uint64_t)rand() << 33, .state = (uint64_t)rand() * 7919,
                            .context_from = rand() % 4, .system = (char *)sys[rand() % 3]};
                if (rand() % 2) tr_set_gen(t, n - 1, &g);
                tr_end(t, rand() % 2 ? "stop_id" : "length");
            }
            else if (what == 7 && n) tr_truncate(t, n - 1 - (size_t)(rand() % (n < 3 ? n : 3)));
            else if (what == 8 && n && tr_at(t, n - 1)->role == TR_MODEL) tr_push_alt(t, n - 1);
            else if (what == 9 && n && tr_at(t, n - 1)->n_alts)
                tr_select_alt(t, n - 1, (size_t)rand() % tr_at(t, n - 1)->n_alts);
            if (rand() % 40 == 0) tr_settings_of(t)->top_k = rand() % 100;
            if (rand() % 40 == 0) tr_settings_of(t)->state = (uint64_t)rand() << 20;
            if (rand() % 30 == 0) tr_set_system(t, rand() % 3 ? (rand() % 2 ? "sys A" : "sys B") : NULL);
            if (rand() % 60 == 0) tr_checkpoint(t, err, sizeof err);
        }
        tr_journal_close(t);
        size_t n = tr_count(t);
        if (n && tr_at(t, n - 1)->role == TR_MODEL && !tr_at(t, n - 1)->stop[0])
            strcpy(tr_at(t, n - 1)->stop, "stopped_early");
        if (tr_load(&u, path, err, sizeof err) == 0 && !*fx_diff(t, u)) exact++;
        else printf("round %d: %s; note: %s\n", r, u ? fx_diff(t, u) : err, u ? tr_load_note(u) : "");
        tr_free(t);
        tr_free(u);
    }
    T_CHECK(exact == rounds, "replaying random journaled changes rebuilds the transcript exactly", "%d of %d", exact,
            rounds);
}

/* The journal cannot be written: the chat goes on, the failure is reported, nothing is damaged. */
static void test_failures(const char *dir) {
    char sub[4200], path[4300], err[4600];
    snprintf(sub, sizeof sub, "%s/vanish", dir);
    mkdir(sub, 0700);
    snprintf(path, sizeof path, "%s/chat.json", sub);
    tr_transcript *t;
    tr_create(&t);
    tr_journal_open(t, path, err, sizeof err);
    fx_msg(t, TR_USER, FX_LIT("before"), 1, "");
    fx_rmdir(sub);
    int idx = fx_msg(t, TR_USER, FX_LIT("after"), 1, "");
    T_CHECK(idx == 1 && tr_count(t) == 2, "the chat goes on when its directory vanishes", NULL);
    T_CHECK(tr_checkpoint(t, err, sizeof err) < 0 && strstr(err, path) && tr_count(t) == 2,
            "the autosave then fails naming the file", "%s", err);
    tr_free(t);

    /* past a file-size limit, in a child: the journal reports the failure and stops; no SIGXFSZ death */
    snprintf(path, sizeof path, "%s/limit.json", dir);
    pid_t pid = fork();
    if (pid == 0) {
        tr_transcript *c;
        tr_create(&c);
        if (tr_journal_open(c, path, err, sizeof err)) _exit(2);
        struct rlimit rl = {8192, 8192};
        setrlimit(RLIMIT_FSIZE, &rl);
        char *big = malloc(20000);
        memset(big, 'z', 20000);
        fx_msg(c, TR_USER, big, 20000, 0, "");
        const char *je = tr_journal_error(c);
        if (!je || !strstr(je, "File too large") || !strstr(je, "limit.json.journal")) _exit(3);
        fx_msg(c, TR_USER, FX_LIT("small"), 0, "");
        if (!tr_journal_error(c) || tr_count(c) != 2) _exit(4);
        tr_free(c);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a journal past the size limit reports it and pauses",
            "status %d", st);
    char jp[4400];
    snprintf(jp, sizeof jp, "%s.journal", path);
    T_CHECK(lines_of(jp) == 1, "the failed record was cut off: the journal holds whole records only", "%d lines",
            lines_of(jp));
    tr_transcript *u = NULL;
    T_CHECK(tr_load(&u, path, err, sizeof err) == 0 && tr_count(u) == 0, "and it still loads", "%s", err);
    tr_free(u);
}

int main(void) {
    char dir[4096];
    /* every record is fdatasync'ed, which is slow on a disk and free on tmpfs; what is tested here
     * is what a killed process leaves in the file, which the page cache keeps either way */
    if (access("/dev/shm", W_OK) == 0) setenv("TMPDIR", "/dev/shm", 1);
    if (!fx_tmpdir(dir, sizeof dir)) return 1;
    test_flush_policy(dir);
    test_kill(dir);
    test_stale(dir);
    test_random_replay(dir);
    test_failures(dir);
    fx_rmdir(dir);
    return t_exit();
}
