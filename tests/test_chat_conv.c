/* Conversations that are never lost and exactly reproducible, on tiny-chat: save -> quit -> load ->
 * continue gives the reply an uninterrupted chat gives; the rebuilt cache; greedy and seeded replay
 * token for token (a chat that used /retry, flipped alternatives, changed every setting mid-way,
 * forgot an exchange and was interrupted); version-1 files; the journal's statistics; the last-moment
 * save; /sessions, /load N, /replay; every malformed transcript refused with the chat intact; what
 * retry, undo and alternatives cost in prefill. */
#include <dirent.h>
#include <json-c/json.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>
#include "app/cmd.h"
#include "tests/t.h"
#include "tokenizer/cf.h"
#include "tests/tr/tr_fixture.h"

static const char *const U[] = {"Good morning!", "Tell me something about computers.", "What is a cat?"};
static char model[1024];

static chat *make(double temp, long long seed, int max_new) {
    chat_opts o;
    chat_opts_default(&o);
    o.model_dir = model;
    o.threads = 1;   /* the tiny models run fastest on one thread */
    o.temp = temp;
    o.seed = seed;
    o.max_new = max_new;
    chat *c = NULL;
    char err[512];
    if (chat_create(&c, &o, err, sizeof err) < 0) printf("  chat_create: %s\n", err);
    return c;
}

/* ---- callbacks ---------------------------------------------------------------------------- */

typedef struct {
    int texts, progress, notices, cancel_texts, cancel_progress;
    char notice[512];
} rec;
static void on_text(void *ud, const char *s, size_t n, int thought) {
    (void)s, (void)n, (void)thought;
    ((rec *)ud)->texts++;
}
static void on_prefill(void *ud, int done, int total) {
    (void)total;
    if (done > 0) ((rec *)ud)->progress++;
}
static int cancelled(void *ud) {
    rec *r = ud;
    return (r->cancel_texts && r->texts >= r->cancel_texts) || (r->cancel_progress && r->progress >= r->cancel_progress);
}
static void on_notice(void *ud, const char *msg) {
    rec *r = ud;
    r->notices++;
    snprintf(r->notice, sizeof r->notice, "%s", msg);
}
static chat_cb cb_of(rec *r) {
    memset(r, 0, sizeof *r);
    return (chat_cb){r, on_text, on_prefill, cancelled, on_notice};
}

static int send(chat *c, const char *text, rec *r) {
    chat_cb cb = cb_of(r);
    char err[512];
    int rc = chat_send(c, text, strlen(text), &cb, err, sizeof err);
    if (rc) printf("  chat_send '%s': %d %s\n", text, rc, err);
    return rc;
}

static int retry(chat *c) {
    rec r;
    chat_cb cb = cb_of(&r);
    char err[512];
    int rc = chat_retry(c, &cb, err, sizeof err);
    if (rc) printf("  chat_retry: %s\n", err);
    return rc;
}

static tr_message *last(chat *c) {
    tr_transcript *t = chat_transcript(c);
    return tr_at(t, tr_count(t) - 1);
}

static int same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && (!na || !memcmp(a, b, na * sizeof *a));
}

/* "" when every message of a and b has the same role, text, ids, stop and alternatives. */
static const char *conv_diff(tr_transcript *a, tr_transcript *b) {
    static char why[128];
    if (tr_count(a) != tr_count(b)) return "message count";
    for (size_t i = 0; i < tr_count(a); i++) {
        tr_message *m = tr_at(a, i), *n = tr_at(b, i);
        snprintf(why, sizeof why, "message %zu", i);
        if (m->role != n->role || m->len != n->len || memcmp(m->text, n->text, m->len) || strcmp(m->stop, n->stop) ||
            (m->role == TR_MODEL && !same_ids(m->ids, m->n_ids, n->ids, n->n_ids)) || m->n_alts != n->n_alts)
            return why;
        for (size_t k = 0; k < m->n_alts; k++) {
            snprintf(why, sizeof why, "message %zu alternative %zu", i, k);
            if (!same_ids(m->alts[k].ids, m->alts[k].n_ids, n->alts[k].ids, n->alts[k].n_ids) ||
                strcmp(m->alts[k].stop, n->alts[k].stop))
                return why;
        }
    }
    return "";
}

/* ---- save -> quit -> load -> continue ------------------------------------------------------ */

static void test_continue(const char *dir) {
    char path[4400], err[4600];
    snprintf(path, sizeof path, "%s/cont.json", dir);
    rec r;
    chat *a = make(0.9, 7, 24), *b = make(0.9, 7, 24);
    if (!a || !b) return;
    int ok = send(a, U[0], &r) == 0 && send(a, U[1], &r) == 0 && send(a, U[2], &r) == 0;
    ok &= send(b, U[0], &r) == 0 && send(b, U[1], &r) == 0;
    T_CHECK(ok, "continue: two seeded chats", NULL);
    T_CHECK(tr_save(chat_transcript(b), path, err, sizeof err) == 0, "continue: saved after two turns", "%s", err);
    int used = chat_ctx_used(b);
    chat_free(b);

    /* a chat started with other settings takes the saved ones, and the random stream where it was */
    chat *c = make(0, 999, 3);
    tr_transcript *t;
    T_CHECK(c && tr_load(&t, path, err, sizeof err) == 0 && chat_set_transcript(c, t, err, sizeof err) == 0,
            "continue: loaded into a new chat", "%s", err);
    if (!c) return;
    const smp_params *p = chat_sampling(c);
    T_CHECK(fabsf(p->temp - 0.9f) < 1e-6 && p->seed == 7 && chat_max_new(c) == 24, "continue: the saved settings are back",
            "temp %g seed %llu", p->temp, (unsigned long long)p->seed);
    chat_totals before, after;
    chat_get_totals(c, &before);
    chat_cb cb = cb_of(&r);
    int rc = chat_warm(c, &cb, err, sizeof err);
    chat_get_totals(c, &after);
    /* the whole conversation, its last turn closed: what the live chat held and the closing <turn|>\n */
    T_CHECK(rc == 0 && chat_ctx_used(c) == used + 2 && after.prefill_new - before.prefill_new == used + 2 &&
                r.progress > 0,
            "continue: chat_warm rebuilds the cache with progress", "rc %d, %d of %d tokens, %d progress calls", rc,
            chat_ctx_used(c), used, r.progress);
    int warm = chat_ctx_used(c);
    T_CHECK(send(c, U[2], &r) == 0 && last(c)->prefill_cached == warm, "continue: the next turn prefills only itself",
            "%d cached of %d", last(c)->prefill_cached, warm);
    tr_message *want = last(a), *got = last(c);
    T_CHECK(same_ids(want->ids, want->n_ids, got->ids, got->n_ids),
            "continue: the reply is the one the uninterrupted chat gave, token for token", "%zu vs %zu ids",
            want->n_ids, got->n_ids);
    chat_free(c);

    /* a cancelled rebuild keeps what it computed; the next turn does the rest and replies the same */
    c = make(0, 1, 3);
    if (!c) return;
    tr_load(&t, path, err, sizeof err);
    chat_set_transcript(c, t, err, sizeof err);
    cb = cb_of(&r);
    r.cancel_progress = 1;
    rc = chat_warm(c, &cb, err, sizeof err);
    int part = chat_ctx_used(c);
    T_CHECK(rc == 1 && part > 0 && part < used, "continue: a cancelled rebuild stops and keeps its prefix",
            "rc %d, %d of %d", rc, part, used);
    T_CHECK(send(c, U[2], &r) == 0 && last(c)->prefill_cached == part &&
                same_ids(want->ids, want->n_ids, last(c)->ids, last(c)->n_ids),
            "continue: after a cancelled rebuild the reply is the same", "%d cached", last(c)->prefill_cached);
    chat_free(c);
    chat_free(a);
}

/* ---- replay -------------------------------------------------------------------------------- */

typedef struct {
    int errors, replies, turns;
    char out[8192];
    size_t len;
} io_rec;
static void io_print(void *ud, const char *s, size_t n, int err) {
    io_rec *r = ud;
    r->errors += err;
    if (r->len + n < sizeof r->out) memcpy(r->out + r->len, s, n), r->len += n, r->out[r->len] = 0;
}
static void io_reply(void *ud, const tr_message *m) {
    (void)m;
    ((io_rec *)ud)->replies++;
}
static void io_turn(void *ud, const char *u, size_t n) {
    (void)u, (void)n;
    ((io_rec *)ud)->turns++;
}
static io_rec IO;
static rec IO_CB;
static cmd_io make_io(void) {
    memset(&IO, 0, sizeof IO);
    return (cmd_io){.ud = &IO, .print = io_print, .on_turn = io_turn, .on_reply = io_reply, .chat = cb_of(&IO_CB)};
}

/* Replays the file into a chat made with other settings; returns the result, the chat in *out. */
static int replay_file(const char *path, const chat_replay_opts *o, cmd_replay_result *res, chat **out) {
    char err[4600];
    tr_transcript *src;
    *out = NULL;
    if (tr_load(&src, path, err, sizeof err) < 0) {
        printf("  %s\n", err);
        return -1;
    }
    chat *c = make(0.3, 12345, 2);
    cmd *k;
    if (!c || cmd_create(&k, c) < 0) return -1;
    cmd_io io = make_io();
    int rc = cmd_replay(k, src, o, &io, res, err, sizeof err);
    if (rc < 0) printf("  cmd_replay: %s\n", err);
    cmd_free(k);
    tr_free(src);
    *out = c;
    return rc;
}

/* A seeded chat that uses everything that could throw a replay off. */
static void test_replay_seeded(const char *dir) {
    char path[4300], err[4600];
    snprintf(path, sizeof path, "%s/seeded.json", dir);
    chat *c = make(0.9, 3, 20);
    if (!c) return;
    rec r;
    int ok = send(c, U[0], &r) == 0 && retry(c) == 0;   /* a retry: the first reply an alternative */
    smp_params p = *chat_sampling(c);
    p.temp = 1.2f, p.top_k = 20;
    chat_set_sampling(c, &p, 0);                         /* /temp, /top-k mid-way */
    ok &= send(c, U[1], &r) == 0 && retry(c) == 0 && retry(c) == 0;
    ok &= chat_select_alt(c, 3, 0, err, sizeof err) == 0;   /* flipped back to the first reply */
    p.seed = 11;
    chat_set_sampling(c, &p, 1);                         /* /seed */
    ok &= chat_set_system(c, "Be brief.", err, sizeof err) == 0 && send(c, U[2], &r) == 0;
    chat_set_think(c, 1);
    ok &= send(c, U[1], &r) == 0;
    chat_set_think(c, 0);
    ok &= chat_forget(c, err, sizeof err) == 0;          /* /forget */
    chat_cb cb = cb_of(&r);
    r.cancel_texts = 3;                                  /* Ctrl-C after three pieces */
    ok &= chat_send(c, U[0], strlen(U[0]), &cb, err, sizeof err) == 0 && !strcmp(last(c)->stop, "stopped_early");
    chat_set_max_new(c, 5);
    ok &= chat_set_system(c, NULL, err, sizeof err) == 0 && send(c, U[2], &r) == 0;
    T_CHECK(ok, "seeded chat: retries, flips, /temp /top-k /seed /system /think /forget, Ctrl-C, /max-new", "%s", err);
    T_CHECK(tr_at(chat_transcript(c), 3)->n_alts == 2 && chat_first_in_context(c) > 0,
            "seeded chat: alternatives kept and an exchange forgotten", NULL);
    T_CHECK(tr_save(chat_transcript(c), path, err, sizeof err) == 0, "seeded chat saved", "%s", err);

    chat_replay_opts o;
    chat_replay_opts_default(&o);
    cmd_replay_result res;
    chat *d;
    int rc = replay_file(path, &o, &res, &d);
    T_CHECK(rc == CMD_DONE && res.turns == 6 && res.replies == 9 && res.differ == 0 && IO.errors == 0 &&
                IO.replies == 6 && IO.turns == 6,
            "seeded replay: every reply and alternative identical", "rc %d, %d turns, %d replies, %d differ: %s", rc,
            res.turns, res.replies, res.differ, IO.out);
    T_CHECK(d && !*conv_diff(chat_transcript(c), chat_transcript(d)),
            "seeded replay: the new transcript equals the saved one token for token", "%s",
            d ? conv_diff(chat_transcript(c), chat_transcript(d)) : "no chat");
    T_CHECK(d && chat_first_in_context(d) == chat_first_in_context(c) && chat_max_new(d) == 5 && !chat_system(d),
            "seeded replay: the context start and settings follow the saved replies", "first %zu",
            d ? chat_first_in_context(d) : 0);
    chat_free(d);

    /* another seed: the comparison must notice */
    o.seed = 424242;
    rc = replay_file(path, &o, &res, &d);
    T_CHECK(rc == CMD_DONE && res.differ > 0 && IO.errors == res.differ && strstr(IO.out, "differs from the saved one at token"),
            "replay with another seed names the differing tokens", "%d differ, %d error lines", res.differ, IO.errors);
    chat_free(d);
    chat_free(c);
}

static void test_replay_greedy(const char *dir) {
    char path[4300], err[4600];
    snprintf(path, sizeof path, "%s/greedy.json", dir);
    chat *c = make(0, 1, 30);
    if (!c) return;
    rec r;
    int ok = send(c, U[0], &r) == 0 && send(c, U[1], &r) == 0 && retry(c) == 0 && send(c, U[2], &r) == 0;
    T_CHECK(ok && tr_save(chat_transcript(c), path, err, sizeof err) == 0, "greedy chat saved", "%s", err);
    chat_replay_opts o;
    chat_replay_opts_default(&o);
    o.temp = 0;   /* as gemmachat --replay FILE --temp 0 */
    cmd_replay_result res;
    chat *d;
    int rc = replay_file(path, &o, &res, &d);
    T_CHECK(rc == CMD_DONE && res.replies == 4 && res.differ == 0 && d && !*conv_diff(chat_transcript(c), chat_transcript(d)),
            "greedy replay (--temp 0): identical token for token", "rc %d, %d differ", rc, res.differ);
    chat_free(d);
    chat_free(c);
}

/* Removes every "generation" and settings.state from a saved file and marks it version 1. */
static int to_version1(const char *path) {
    json_object *root = json_object_from_file(path), *v, *msgs;
    if (!root) return -1;
    json_object_object_add(root, "version", json_object_new_int(1));
    if (json_object_object_get_ex(root, "settings", &v)) json_object_object_del(v, "state");
    json_object_object_get_ex(root, "messages", &msgs);
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i), *alts;
        json_object_object_del(m, "generation");
        if (json_object_object_get_ex(m, "alternatives", &alts))
            for (size_t k = 0; k < json_object_array_length(alts); k++)
                json_object_object_del(json_object_array_get_idx(alts, k), "generation");
    }
    int rc = json_object_to_file(path, root);
    json_object_put(root);
    return rc;
}

/* A version-1 file has no generation records: one random stream from its seed replays a chat that
 * neither retried nor changed settings. */
static void test_replay_v1(const char *dir) {
    char path[4300], err[4600];
    snprintf(path, sizeof path, "%s/v1.json", dir);
    chat *c = make(0.9, 5, 16);
    if (!c) return;
    rec r;
    int ok = send(c, U[0], &r) == 0 && send(c, U[1], &r) == 0;
    T_CHECK(ok && tr_save(chat_transcript(c), path, err, sizeof err) == 0 && to_version1(path) == 0,
            "a version-1 transcript written", "%s", err);
    tr_transcript *t;
    T_CHECK(tr_load(&t, path, err, sizeof err) == 0 && !tr_at(t, 1)->gen.set && tr_settings_of(t)->state == 5,
            "version 1 loads: no generation records, the state is the seed", "%s", err);
    tr_free(t);
    chat_replay_opts o;
    chat_replay_opts_default(&o);
    cmd_replay_result res;
    chat *d;
    int rc = replay_file(path, &o, &res, &d);
    T_CHECK(rc == CMD_DONE && res.replies == 2 && res.differ == 0, "version 1: seeded replay identical", "rc %d, %d differ",
            rc, res.differ);
    chat_free(d);
    chat_free(c);
}

/* ---- the journal and the last-moment save ---------------------------------------------------- */

static void test_journal(const char *dir) {
    char sub[4300], path[4400], bak[4400], err[4600];
    snprintf(sub, sizeof sub, "%s/journal", dir);
    mkdir(sub, 0700);
    snprintf(path, sizeof path, "%s/chat.json", sub);
    snprintf(bak, sizeof bak, "%s/keep.json", sub);
    chat *c = make(0.9, 9, 12);
    if (!c) return;
    T_CHECK(chat_autosave(c, path, err, sizeof err) == 0 && link(path, bak) == 0, "journal: autosave on", "%s", err);
    /* the snapshot cannot be replaced (a directory in its place): only the journal records the turn */
    unlink(path);
    mkdir(path, 0700);
    rec r;
    T_CHECK(send(c, U[0], &r) == 0 && r.notices == 1 && strstr(r.notice, "autosave failed"),
            "journal: a failing autosave is announced, the reply is kept", "%d notices: %s", r.notices, r.notice);
    rmdir(path);
    rename(bak, path);
    tr_transcript *t;
    tr_message *m = last(c), *j = NULL;
    T_CHECK(tr_load(&t, path, err, sizeof err) == 0 && tr_count(t) == 2 && (j = tr_at(t, 1)),
            "journal: the turn comes back from the journal", "%s", err);
    if (j) {
        T_CHECK(j->gen_ms > 0 && j->gen_ms == m->gen_ms && j->prefill_new == m->prefill_new &&
                    j->prefill_ms == m->prefill_ms,
                "journal: the reply's timings and prefill counts are in it", "gen_ms %g vs %g", j->gen_ms, m->gen_ms);
        T_CHECK(j->gen.set && j->gen.state == m->gen.state && (float)j->gen.temp == (float)m->gen.temp &&
                    same_ids(j->ids, j->n_ids, m->ids, m->n_ids),
                "journal: the reply's generation record and ids are in it", NULL);
    }
    tr_free(t);
    chat_free(c);

    /* a setting changed after the last turn reaches the journal at once; the exit save snapshots all */
    snprintf(path, sizeof path, "%s/last.json", sub);
    c = make(0, 1, 8);
    if (!c) return;
    char jp[4500];
    snprintf(jp, sizeof jp, "%s.journal", path);
    chat_autosave(c, path, err, sizeof err);
    send(c, U[0], &r);
    chat_set_system(c, "Answer in French.", err, sizeof err);
    T_CHECK(tr_load(&t, path, err, sizeof err) == 0 && tr_settings_of(t)->system &&
                !strcmp(tr_settings_of(t)->system, "Answer in French."),
            "journal: a /system change survives a crash right after it", "%s", err);
    tr_free(t);
    T_CHECK(chat_emergency_save(c, err, sizeof err) == 0, "chat_emergency_save", "%s", err);
    size_t jl = 0;
    char *jtext = fx_read(jp, &jl), *snap = fx_read(path, NULL);
    T_CHECK(jtext && memchr(jtext, '\n', jl) == jtext + jl - 1 && snap && strstr(snap, "Answer in French."),
            "chat_emergency_save: all in the snapshot, the journal started afresh", "%zu journal bytes", jl);
    free(jtext);
    free(snap);
    chat_free(c);
    c = make(0, 1, 8);
    T_CHECK(c && chat_emergency_save(c, err, sizeof err) == 0, "chat_emergency_save without autosave does nothing", NULL);
    chat_free(c);
}

/* A short chat is snapshotted after every reply; a long one only once its journal has grown to a
 * quarter of the snapshot, with every turn safe in the journal meanwhile. */
static ino_t inode(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_ino : 0;
}

static void test_checkpoints(const char *dir) {
    char path[4400], jp[4500], err[4600];
    snprintf(path, sizeof path, "%s/short.json", dir);
    chat *c = make(0, 1, 8);
    if (!c) return;
    rec r;
    chat_autosave(c, path, err, sizeof err);
    ino_t before = inode(path);
    send(c, U[0], &r);
    T_CHECK(before && inode(path) != before, "a short chat: the snapshot is rewritten after the reply", NULL);
    chat_free(c);

    /* 400 kB of earlier replies: a turn's journal records are far below a quarter of that */
    snprintf(path, sizeof path, "%s/long.json", dir);
    snprintf(jp, sizeof jp, "%s.journal", path);
    c = make(0, 1, 8);
    if (!c) return;
    tr_transcript *t;
    tr_create(&t);
    char *text = malloc(10001);
    memset(text, 'y', 10000);
    text[10000] = 0;
    tr_message u = {.role = TR_USER, .text = (char *)U[0], .len = strlen(U[0])};
    tr_message m = {.role = TR_MODEL, .text = "Hello.", .len = 6, .stop = "stop_id"};
    tr_append(t, &u);
    tr_append(t, &m);
    for (int k = 0; k < 40; k++) tr_push_alt(t, 1), tr_extend(t, NULL, 0, text, 10000), tr_end(t, "length");
    free(text);
    chat_set_transcript(c, t, err, sizeof err);
    T_CHECK(chat_autosave(c, path, err, sizeof err) == 0, "a long chat autosaved", "%s", err);
    before = inode(path);
    int ok = send(c, U[1], &r) == 0 && send(c, U[2], &r) == 0 && send(c, U[1], &r) == 0;
    size_t jlen = 0;
    free(fx_read(jp, &jlen));
    T_CHECK(ok && inode(path) == before && jlen > 1000 && !tr_checkpoint_due(chat_transcript(c)),
            "a long chat: three turns go to the journal only", "%zu journal bytes", jlen);
    T_CHECK(tr_load(&t, path, err, sizeof err) == 0 && !*conv_diff(chat_transcript(c), t),
            "a long chat: snapshot + journal hold every turn", "%s", err);
    tr_free(t);
    T_CHECK(chat_emergency_save(c, err, sizeof err) == 0 && inode(path) != before && (free(fx_read(jp, &jlen)), jlen < 200),
            "a long chat: the exit save writes the snapshot and empties the journal", "%zu journal bytes", jlen);
    chat_free(c);
}

/* ---- commands: /sessions, /load N, /replay, malformed files ---------------------------------- */

static int run(cmd *k, const char *fmt, const char *arg) {
    char line[4400], err[512];
    snprintf(line, sizeof line, fmt, arg);
    cmd_io io = make_io();
    int rc = cmd_submit(k, line, strlen(line), &io, err, sizeof err);
    if (rc < 0) printf("  %s: %s\n", line, err);
    return rc;
}

static void test_commands(const char *dir) {
    char data[4300], chats[4400], path[4600], err[4600];
    snprintf(data, sizeof data, "%s/xdg", dir);
    setenv("XDG_DATA_HOME", data, 1);
    chat *c = make(0, 1, 8);
    cmd *k;
    if (!c || cmd_create(&k, c) < 0) return;
    T_CHECK(run(k, "/sessions", "") == CMD_DONE && strstr(IO.out, "no saved chats"), "/sessions with none",
            "%s", IO.out);
    T_CHECK(tr_chats_dir(chats, sizeof chats, 1, err, sizeof err) == 0 &&
                tr_autosave_path(chats, time(NULL), path, sizeof path, err, sizeof err) == 0 &&
                chat_autosave(c, path, err, sizeof err) == 0,
            "autosave in the chats dir", "%s", err);
    run(k, "%s", U[0]);
    T_CHECK(run(k, "/sessions", "") == CMD_DONE && strstr(IO.out, "   1  ") && strstr(IO.out, "1 turn  Good morning!") &&
                strstr(IO.out, "(this chat)"),
            "/sessions lists the chat, its turns and first question", "%s", IO.out);
    /* an older chat beside it, then the current one undone: /load 2 brings the exchange back */
    char older[4500];
    snprintf(older, sizeof older, "%s/chat-older.json", chats);
    int used = chat_ctx_used(c);
    T_CHECK(tr_save(chat_transcript(c), older, err, sizeof err) == 0 && utime(older, &(struct utimbuf){1, 1}) == 0,
            "an older chat saved", "%s", err);
    T_CHECK(run(k, "/load 7", "") == CMD_BAD && IO.errors == 1 && strstr(IO.out, "no saved chat number 7"),
            "/load N beyond the list is refused", "%s", IO.out);
    run(k, "/undo", "");
    T_CHECK(run(k, "/load 2", "") == CMD_DONE && tr_count(chat_transcript(c)) == 2 && chat_ctx_used(c) == used + 2 &&
                IO_CB.progress > 0 && strstr(IO.out, "loaded ") && strstr(IO.out, "chat-older.json"),
            "/load N loads chat N of /sessions and rebuilds the cache with progress", "%d of %d: %s", chat_ctx_used(c),
            used, IO.out);
    used = chat_ctx_used(c);

    /* /replay through the command: the summary */
    snprintf(path, sizeof path, "%s/cmd.json", dir);
    tr_save(chat_transcript(c), path, err, sizeof err);
    T_CHECK(run(k, "/replay %s", path) == CMD_DONE && strstr(IO.out, "all 1 reply identical") && IO.replies == 1,
            "/replay FILE regenerates and says every reply is identical", "%s", IO.out);
    T_CHECK(run(k, "/replay %s/none.json", dir) == CMD_BAD && IO.errors == 1 && strstr(IO.out, "none.json") &&
                strstr(IO.out, "current chat is kept") && tr_count(chat_transcript(c)) == 2,
            "/replay of a missing file: one error line, the chat kept", "%s", IO.out);
    T_CHECK(run(k, "/replay", "") == CMD_BAD && IO.errors == 1, "/replay without a file is refused", NULL);

    /* every malformed transcript: refused by /load and /replay, naming the file; the chat goes on */
    char mdir[4200];
    snprintf(mdir, sizeof mdir, "%s/tests/malformed/transcript", getenv("GC_ROOT") ? getenv("GC_ROOT") : ".");
    DIR *d = opendir(mdir);
    int files = 0, refused = 0;
    size_t count = tr_count(chat_transcript(c));
    used = chat_ctx_used(c);
    const char *first_bad = "";
    static char bad_name[8600];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        files++;
        snprintf(path, sizeof path, "%s/%s", mdir, e->d_name);
        int ok = run(k, "/load %s", path) == CMD_BAD && IO.errors == 1 && strstr(IO.out, path);
        ok &= run(k, "/replay %s", path) == CMD_BAD && IO.errors == 1 && strstr(IO.out, path);
        ok &= tr_count(chat_transcript(c)) == count && chat_ctx_used(c) == used;
        if (ok) refused++;
        else if (!*first_bad) snprintf(bad_name, sizeof bad_name, "%s: %s", e->d_name, IO.out), first_bad = bad_name;
    }
    if (d) closedir(d);
    T_CHECK(files >= 25 && refused == files, "every malformed transcript is refused by /load and /replay, chat intact",
            "%d of %d; %s", refused, files, first_bad);
    T_CHECK(run(k, "%s", U[1]) == CMD_DONE && IO.replies == 1, "the chat goes on after the refusals", NULL);
    cmd_free(k);
    chat_free(c);
    unsetenv("XDG_DATA_HOME");
}

/* ---- what edits cost ------------------------------------------------------------------------ */

static void test_costs(void) {
    chat *c = make(0.9, 21, 12);
    if (!c) return;
    rec r;
    char err[512];
    chat_totals t0, t1;
    send(c, U[0], &r);
    int after_one = chat_ctx_used(c);
    chat_get_totals(c, &t0);
    retry(c);
    chat_get_totals(c, &t1);
    T_CHECK(t1.prefill_new == t0.prefill_new && last(c)->prefill_new == 0, "/retry prefills nothing",
            "%lld new", t1.prefill_new - t0.prefill_new);
    /* flipping to the other reply keeps what the two share; the next turn feeds only the rest */
    tr_message *m = last(c);
    size_t shared = 0;
    while (shared < m->n_ids && shared < m->alts[0].n_ids && m->ids[shared] == m->alts[0].ids[shared]) shared++;
    int start = after_one - (int)m->n_ids + !strcmp(m->stop, "stop_id");   /* where the reply began */
    T_CHECK(chat_select_alt(c, 1, 0, err, sizeof err) == 0 && chat_ctx_used(c) == start + (int)shared,
            "flipping replies truncates the cache to their common prefix", "%d vs %d", chat_ctx_used(c),
            start + (int)shared);
    int used = chat_ctx_used(c);
    send(c, U[1], &r);
    T_CHECK(last(c)->prefill_cached == used, "the turn after a flip reuses every cached token", "%d of %d",
            last(c)->prefill_cached, used);
    send(c, U[2], &r);
    int before_undo = last(c)->prefill_cached;   /* the cache up to the end of the previous reply */
    T_CHECK(chat_undo(c, err, sizeof err) == 0 && chat_ctx_used(c) == before_undo + 2,
            "/undo keeps the earlier turns in the cache, closed by <turn|>", "%d vs %d", chat_ctx_used(c), before_undo);
    used = chat_ctx_used(c);
    send(c, U[2], &r);
    T_CHECK(last(c)->prefill_cached == used, "the turn after /undo reuses every cached token", "%d of %d",
            last(c)->prefill_cached, used);
    chat_free(c);
}

/* Tokens of messages [from, count) of t rendered as the chat renders them (no system prompt). */
static size_t rendered(chat *c, tr_transcript *t, size_t from) {
    cf_message m[512];
    size_t n = 0, len, count;
    for (size_t i = from; i < tr_count(t) && n < 512; i++) {
        tr_message *x = tr_at(t, i);
        m[n++] = (cf_message){x->role == TR_USER ? "user" : "assistant", x->text, x->len};
    }
    char *text, err[256];
    int32_t *ids = NULL;
    if (cf_render(CF_SMALL, m, n, 0, 0, &text, &len, err, sizeof err) < 0) return 0;
    tok_encode(chat_tokenizer(c), text, len, &ids, &count, err, sizeof err);
    free(text);
    free(ids);
    return count;
}

/* A long chat in a small context: the rebuilt cache starts at the earliest exchange that fits. */
static void test_long_chat(void) {
    chat_opts o;
    chat_opts_default(&o);
    o.model_dir = model;
    o.threads = 1;
    o.temp = 0;
    o.ctx = 512;
    chat *c;
    char err[512], text[200];
    if (chat_create(&c, &o, err, sizeof err) < 0) return;
    tr_transcript *t;
    tr_create(&t);
    for (int i = 0; i < 200; i++) {
        snprintf(text, sizeof text, "Question %d: what is a cat, and what is a computer?", i);
        tr_message u = {.role = TR_USER, .text = text, .len = strlen(text)};
        tr_append(t, &u);
        snprintf(text, sizeof text, "Answer %d: a cat is an animal; a computer is a machine.", i);
        tr_message m = {.role = TR_MODEL, .text = text, .len = strlen(text), .stop = "stop_id"};
        tr_append(t, &m);
    }
    chat_set_transcript(c, t, err, sizeof err);
    rec r;
    chat_cb cb = cb_of(&r);
    int rc = chat_warm(c, &cb, err, sizeof err);
    t = chat_transcript(c);
    size_t first = chat_first_in_context(c);
    /* the reply's room beside the prompt: an eighth of the context, at least 64 */
    T_CHECK(rc == 0 && r.notices == 1 && first > 0 && first % 2 == 0 && (size_t)chat_ctx_used(c) == rendered(c, t, first) &&
                rendered(c, t, first) + 64 <= 512 && rendered(c, t, first - 2) + 64 > 512,
            "a long chat in a small context starts at the earliest exchange that fits", "rc %d, first %zu: %zu / %zu tokens",
            rc, first, rendered(c, t, first), rendered(c, t, first - 2));
    chat_free(c);
}

int main(void) {
    snprintf(model, sizeof model, "%s/models/tiny-chat", t_data());
    char dir[4096];
    if (!fx_tmpdir(dir, sizeof dir)) {
        T_CHECK(0, "scratch directory", NULL);
        return t_exit();
    }
    test_continue(dir);
    test_replay_seeded(dir);
    test_replay_greedy(dir);
    test_replay_v1(dir);
    test_journal(dir);
    test_checkpoints(dir);
    test_commands(dir);
    test_costs();
    test_long_chat();
    fx_rmdir(dir);
    return t_exit();
}
