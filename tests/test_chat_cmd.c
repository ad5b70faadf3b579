/* Slash commands through cmd_submit on tiny-chat: every setting, the error paths (one error line,
 * nothing changed, the model not called), //text, /edit, /copy, /dump, /save + /load. */
#include <math.h>
#include <unistd.h>
#include "app/cmd.h"
#include "tests/t.h"

typedef struct {
    char out[65536];
    size_t len;
    int lines, errors, replies, turns, edits, copies, themes, raw;
    char copied[4096], edited[256], theme[64];
} rec;

static void print(void *ud, const char *s, size_t n, int err) {
    rec *r = ud;
    if (r->len + n < sizeof r->out) memcpy(r->out + r->len, s, n), r->len += n, r->out[r->len] = 0;
    for (size_t i = 0; i < n; i++) r->lines += s[i] == '\n';
    r->errors += err;
}
static void on_turn(void *ud, const char *u, size_t n) {
    (void)u, (void)n;
    ((rec *)ud)->turns++;
}
static void on_reply(void *ud, const tr_message *m) {
    (void)m;
    ((rec *)ud)->replies++;
}
static int theme(void *ud, const char *name, char *err, size_t errlen) {
    rec *r = ud;
    if (strcmp(name, "dark") && strcmp(name, "light")) {
        snprintf(err, errlen, "no theme %s", name);
        return -1;
    }
    snprintf(r->theme, sizeof r->theme, "%s", name);
    r->themes++;
    return 0;
}
static int copy(void *ud, const char *text, size_t len, char *err, size_t errlen) {
    rec *r = ud;
    (void)err, (void)errlen;
    snprintf(r->copied, sizeof r->copied, "%.*s", (int)len, text);
    r->copies++;
    return 0;
}
static int raw(void *ud, int on) {
    rec *r = ud;
    return r->raw = on < 0 ? !r->raw : on;
}
static void edit(void *ud, const char *text, size_t len) {
    rec *r = ud;
    snprintf(r->edited, sizeof r->edited, "%.*s", (int)len, text);
    r->edits++;
}

static rec R;
static cmd_io plain_io = {.ud = &R, .print = print, .on_turn = on_turn, .on_reply = on_reply};
static cmd_io ui_io = {.ud = &R, .print = print, .on_turn = on_turn, .on_reply = on_reply,
                       .theme = theme, .raw = raw, .copy = copy, .edit = edit};

/* Runs one input with fresh records; returns the cmd code. */
static int run(cmd *k, const char *line, const cmd_io *io) {
    char err[512] = "";
    memset(&R, 0, sizeof R);
    int rc = cmd_submit(k, line, strlen(line), io, err, sizeof err);
    if (rc < 0) printf("  %s: %s\n", line, err);
    return rc;
}

static long long generated(chat *c) {
    chat_totals t;
    chat_get_totals(c, &t);
    return t.generated + t.prefill_new;
}

/* A bad line: CMD_BAD, exactly one error line, the model untouched. */
static void check_bad(chat *c, cmd *k, const char *line) {
    long long before = generated(c);
    size_t count = tr_count(chat_transcript(c));
    smp_params p = *chat_sampling(c);
    int rc = run(k, line, &plain_io);
    char name[96];
    snprintf(name, sizeof name, "'%s' is refused with one error line", line);
    T_CHECK(rc == CMD_BAD && R.errors == 1 && R.lines == 1 && generated(c) == before &&
                tr_count(chat_transcript(c)) == count && !memcmp(&p, chat_sampling(c), sizeof p),
            name, "rc %d, %d errors, %d lines: %s", rc, R.errors, R.lines, R.out);
}

int main(void) {
    char dir[1024], err[512];
    snprintf(dir, sizeof dir, "%s/models/tiny-chat", t_data());
    chat_opts o;
    chat_opts_default(&o);
    o.model_dir = dir;
    o.threads = 1;   /* tiny model: one thread is fastest */
    o.temp = 0;
    o.max_new = 12;
    chat *c;
    cmd *k;
    if (chat_create(&c, &o, err, sizeof err) < 0 || cmd_create(&k, c) < 0) {
        T_CHECK(0, "chat_create", "%s", err);
        return t_exit();
    }
    tr_transcript *t = chat_transcript(c);

    /* the table drives /help */
    size_t n;
    const cmd_info *tab = cmd_table(&n);
    T_CHECK(run(k, "/help", &plain_io) == CMD_DONE && R.lines == (int)n + 1, "/help lists every command",
            "%d lines for %zu commands", R.lines, n);
    int all = 1;
    for (size_t i = 0; i < n; i++) {
        char line[64], want[64];
        snprintf(line, sizeof line, "/help %s", tab[i].name);
        snprintf(want, sizeof want, "/%s", tab[i].name);
        all &= run(k, line, &plain_io) == CMD_DONE && R.lines == 1 && strstr(R.out, tab[i].help) && strstr(R.out, want) == R.out;
        all &= cmd_find(tab[i].name, strlen(tab[i].name)) == &tab[i];
    }
    T_CHECK(all, "/help CMD explains each command in one line", "");
    T_CHECK(cmd_find("te", 2) == NULL, "cmd_find matches whole names only", "");
    check_bad(c, k, "/help nosuch");

    /* settings */
    T_CHECK(run(k, "/temp 0.7", &plain_io) == CMD_DONE && fabsf(chat_sampling(c)->temp - 0.7f) < 1e-6, "/temp sets", "%s", R.out);
    T_CHECK(run(k, "/temp", &plain_io) == CMD_DONE && !strcmp(R.out, "temp 0.7\n"), "/temp alone shows it", "%s", R.out);
    check_bad(c, k, "/temp abc");
    check_bad(c, k, "/temp -1");
    check_bad(c, k, "/temp 1e9");
    T_CHECK(run(k, "/top-k 5", &plain_io) == CMD_DONE && chat_sampling(c)->top_k == 5, "/top-k sets", "");
    check_bad(c, k, "/top-k 2.5");
    check_bad(c, k, "/top-k -3");
    T_CHECK(run(k, "/top-p 0.9", &plain_io) == CMD_DONE && fabsf(chat_sampling(c)->top_p - 0.9f) < 1e-6, "/top-p sets", "");
    check_bad(c, k, "/top-p 0");
    check_bad(c, k, "/top-p 1.5");
    T_CHECK(run(k, "/min-p 0.05", &plain_io) == CMD_DONE && fabsf(chat_sampling(c)->min_p - 0.05f) < 1e-6, "/min-p sets", "");
    check_bad(c, k, "/min-p 2");
    T_CHECK(run(k, "/seed 7", &plain_io) == CMD_DONE && chat_sampling(c)->seed == 7 && smp_state(chat_sampler(c)) == 7,
            "/seed restarts the random stream", "");
    check_bad(c, k, "/seed x");
    check_bad(c, k, "/max-new -2");
    T_CHECK(run(k, "/think on", &plain_io) == CMD_DONE && chat_think(c) == 1, "/think on", "");
    T_CHECK(run(k, "/think off", &plain_io) == CMD_DONE && chat_think(c) == 0, "/think off", "");
    check_bad(c, k, "/think maybe");
    T_CHECK(run(k, "/system   Be brief.  ", &plain_io) == CMD_DONE && chat_system(c) && !strcmp(chat_system(c), "Be brief.") &&
                !strcmp(tr_settings_of(t)->system, "Be brief."),
            "/system sets the prompt (trimmed) and the transcript's copy", "");
    T_CHECK(run(k, "/system off", &plain_io) == CMD_DONE && !chat_system(c) && !tr_settings_of(t)->system,
            "/system off removes it", "");
    T_CHECK(run(k, "/settings", &plain_io) == CMD_DONE && strstr(R.out, "temp     0.7 (model default 1)") &&
                strstr(R.out, "top-k    5 (model default 64)") && strstr(R.out, "stop ids 1, 106"),
            "/settings shows values and model defaults", "%s", R.out);
    check_bad(c, k, "/settings now");
    T_CHECK(run(k, "/temp 0", &plain_io) == CMD_DONE && run(k, "/top-k 64", &plain_io) == CMD_DONE, "back to greedy", "");

    /* nothing to act on yet */
    check_bad(c, k, "/retry");
    check_bad(c, k, "/undo");
    check_bad(c, k, "/edit");
    check_bad(c, k, "/copy");
    check_bad(c, k, "/nosuch");
    check_bad(c, k, "/");
    check_bad(c, k, "/quit now");
    T_CHECK(run(k, "   ", &plain_io) == CMD_DONE && R.turns == 0 && tr_count(t) == 0, "a blank line sends nothing", "");

    /* messages: //text sends "/text" */
    T_CHECK(run(k, "//hello", &plain_io) == CMD_DONE && R.turns == 1 && R.replies == 1 && tr_count(t) == 2 &&
                !strcmp(tr_at(t, 0)->text, "/hello"),
            "//hello sends \"/hello\"", "%zu messages", tr_count(t));
    T_CHECK(run(k, "Good morning!", &plain_io) == CMD_DONE && tr_count(t) == 4, "a message is sent", "");
    const tr_message *reply = tr_at(t, 3);

    /* /dump: one line per cached token (plus a header), or a file */
    T_CHECK(run(k, "/dump", &plain_io) == CMD_DONE && R.lines == chat_ctx_used(c) + 1 && strstr(R.out, "<bos>"),
            "/dump lists every cached token", "%d lines, %d tokens", R.lines, chat_ctx_used(c));
    char path[256], line[512];
    snprintf(path, sizeof path, "/tmp/test_chat_cmd_%d.dump", (int)getpid());
    snprintf(line, sizeof line, "/dump %s", path);
    int lines = 0;
    if (run(k, line, &plain_io) == CMD_DONE) {
        FILE *f = fopen(path, "r");
        for (int ch; f && (ch = fgetc(f)) != EOF;) lines += ch == '\n';
        if (f) fclose(f);
    }
    T_CHECK(lines == chat_ctx_used(c), "/dump FILE writes every token", "%d lines", lines);
    unlink(path);
    check_bad(c, k, "/dump /nonexistent-dir/x");

    /* /stats and /context */
    T_CHECK(run(k, "/stats", &plain_io) == CMD_DONE && R.lines == 3 && strstr(R.out, "turn 2: prefill ") &&
                strstr(R.out, "session: "),
            "/stats: a line per turn and a total", "%s", R.out);
    T_CHECK(run(k, "/context", &plain_io) == CMD_DONE && strstr(R.out, "2 exchanges in context"), "/context", "%s", R.out);

    /* /copy and /theme: the UI's callbacks, or a message in plain mode */
    T_CHECK(run(k, "/copy", &ui_io) == CMD_DONE && R.copies == 1 && !strcmp(R.copied, reply->text), "/copy copies the last reply",
            "'%s'", R.copied);
    T_CHECK(run(k, "/copy 1", &ui_io) == CMD_DONE && !strcmp(R.copied, tr_at(t, 1)->text), "/copy 1 copies the first reply", "");
    T_CHECK(run(k, "/copy 9", &ui_io) == CMD_BAD && R.copies == 0, "/copy of a missing reply is refused", "");
    check_bad(c, k, "/copy");
    T_CHECK(run(k, "/theme light", &ui_io) == CMD_DONE && !strcmp(R.theme, "light"), "/theme calls the UI", "");
    T_CHECK(run(k, "/theme neon", &ui_io) == CMD_BAD && R.errors == 1, "/theme with an unknown name is an error", "");
    T_CHECK(run(k, "/theme light", &plain_io) == CMD_DONE && R.errors == 0 && strstr(R.out, "no effect"),
            "/theme in plain mode says it has no effect", "");
    check_bad(c, k, "/theme");
    T_CHECK(run(k, "/raw on", &ui_io) == CMD_DONE && R.raw == 1 && strstr(R.out, "raw text on"), "/raw on calls the UI", "%s", R.out);
    T_CHECK(run(k, "/raw", &ui_io) == CMD_DONE && R.raw == 1 && strstr(R.out, "raw text on"), "/raw without an argument toggles", "%s", R.out);
    T_CHECK(run(k, "/raw maybe", &ui_io) == CMD_BAD && R.errors == 1, "/raw with a bad argument is an error", "");
    T_CHECK(run(k, "/raw on", &plain_io) == CMD_DONE && R.errors == 0 && strstr(R.out, "plain mode"), "/raw in plain mode says so", "");

    /* /edit: the UI gets the text; the next message replaces it */
    T_CHECK(run(k, "/edit 1", &ui_io) == CMD_DONE && !strcmp(R.edited, "/hello") && cmd_editing(k) == 0,
            "/edit 1 offers the first message", "'%s'", R.edited);
    T_CHECK(run(k, "/temp", &plain_io) == CMD_DONE && cmd_editing(k) == 0, "commands keep the edit pending", "");
    T_CHECK(run(k, "Good morning!", &plain_io) == CMD_DONE && tr_count(t) == 2 && !strcmp(tr_at(t, 0)->text, "Good morning!") &&
                cmd_editing(k) == -1,
            "the next message replaces the edited one and what followed", "%zu", tr_count(t));
    check_bad(c, k, "/edit 5");
    check_bad(c, k, "/edit zero");
    T_CHECK(run(k, "/edit", &plain_io) == CMD_DONE && strstr(R.out, "Good morning!") && cmd_editing(k) == 0,
            "plain /edit prints the message", "%s", R.out);
    cmd_cancel_edit(k);
    T_CHECK(cmd_editing(k) == -1, "cmd_cancel_edit", "");

    /* /retry, /undo, /forget */
    T_CHECK(run(k, "/retry", &plain_io) == CMD_DONE && R.turns == 1 && R.replies == 1 && tr_at(t, 1)->n_alts == 1,
            "/retry", "");
    T_CHECK(run(k, "Tell me something about computers.", &plain_io) == CMD_DONE && tr_count(t) == 4, "another turn", "");
    T_CHECK(run(k, "/forget", &plain_io) == CMD_DONE && chat_first_in_context(c) == 2, "/forget", "%s", R.out);
    check_bad(c, k, "/forget");
    T_CHECK(run(k, "/undo", &plain_io) == CMD_DONE && tr_count(t) == 2, "/undo", "%s", R.out);

    /* /save and /load round trip; a bad /load keeps the chat */
    snprintf(path, sizeof path, "/tmp/test_chat_cmd_%d.json", (int)getpid());
    snprintf(line, sizeof line, "/save %s", path);
    T_CHECK(run(k, line, &plain_io) == CMD_DONE, "/save", "%s", R.out);
    T_CHECK(run(k, "What is a cat?", &plain_io) == CMD_DONE && tr_count(chat_transcript(c)) == 4, "a turn after saving", "");
    snprintf(line, sizeof line, "/load %s", path);
    T_CHECK(run(k, line, &plain_io) == CMD_DONE && tr_count(chat_transcript(c)) == 2 &&
                !strcmp(tr_at(chat_transcript(c), 0)->text, "Good morning!"),
            "/load brings the saved chat back", "%s", R.out);
    T_CHECK(run(k, "What is a cat?", &plain_io) == CMD_DONE && tr_count(chat_transcript(c)) == 4,
            "the loaded chat goes on", "");
    check_bad(c, k, "/load /nonexistent/chat.json");
    T_CHECK(tr_count(chat_transcript(c)) == 4, "a failed /load keeps the chat", "");
    unlink(path);
    snprintf(line, sizeof line, "%s.journal", path);
    unlink(line);
    snprintf(path, sizeof path, "/tmp/test_chat_cmd_%d.md", (int)getpid());
    snprintf(line, sizeof line, "/export %s", path);
    T_CHECK(run(k, line, &plain_io) == CMD_DONE && access(path, R_OK) == 0, "/export writes Markdown", "%s", R.out);
    unlink(path);

    T_CHECK(run(k, "/quit", &plain_io) == CMD_QUIT, "/quit", "");
    cmd_free(k);
    chat_free(c);
    return t_exit();
}
