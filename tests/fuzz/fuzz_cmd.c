/* Fuzz target: what a user submits (cmd_submit) on the tiny-chat model.  The input is up to 12 lines,
 * each submitted in turn to a conversation reset before every input (empty transcript, model default
 * sampling with a fixed seed, replies cut after 4 tokens).  The commands that take a file name only
 * run with a plain name (letters, digits, '.', '_', '-'; no leading '.'), inside a scratch directory
 * holding two saved transcripts, "t.json" and "e.json" (its reply is empty).  Invariants: every result is a CMD_ code, or <0 with a
 * message; a refused line (CMD_BAD) printed an error line and did not change the conversation. */
#include <ctype.h>
#include "app/cmd.h"
#include "tests/fuzz/fuzz.h"

#define CMD_TARGET "fuzz_cmd"

typedef struct {
    int errors, texts;
} cmd_rec;

static void cmd_print(void *ud, const char *s, size_t n, int err) {
    cmd_rec *r = ud;
    if (n && !s) fuzz_die(CMD_TARGET, "print of NULL text");
    r->errors += err;
}
static void cmd_on_text(void *ud, const char *s, size_t n, int thought) {
    (void)s, (void)n, (void)thought;
    ((cmd_rec *)ud)->texts++;
}
static int cmd_cancelled(void *ud) { return ((cmd_rec *)ud)->texts > 4; }
static int cmd_copy(void *ud, const char *s, size_t n, char *err, size_t errlen) {
    (void)ud, (void)s, (void)n, (void)err, (void)errlen;
    return 0;
}
static int cmd_theme(void *ud, const char *name, char *err, size_t errlen) {
    (void)ud;
    if (strcmp(name, "dark")) return snprintf(err, errlen, "no theme %s", name), -1;
    return 0;
}

/* Whether the line may run: file-taking commands only with a plain name inside the scratch dir. */
static int cmd_safe(const char *line, size_t len) {
    static const char *const file_cmds[] = {"/save", "/load", "/export", "/dump"};
    size_t e = 0;
    while (e < len && !isspace((unsigned char)line[e])) e++;
    for (size_t i = 0; i < sizeof file_cmds / sizeof *file_cmds; i++) {
        if (e != strlen(file_cmds[i]) || memcmp(line, file_cmds[i], e)) continue;
        while (e < len && isspace((unsigned char)line[e])) e++;
        if (e < len && line[e] == '.') return 0;
        for (; e < len; e++)
            if (!isalnum((unsigned char)line[e]) && !strchr("._-", line[e]) && !isspace((unsigned char)line[e]))
                return 0;
    }
    return 1;
}

static chat *cmd_chat(void) {
    static chat *c;
    if (c) return c;
    chat_opts o;
    chat_opts_default(&o);
    o.model_dir = fuzz_data_path("models/tiny-chat");
    o.threads = 1;
    o.ctx = 512;
    char err[1024], path[600];
    if (chat_create(&c, &o, err, sizeof err) < 0) fuzz_die(CMD_TARGET, "chat_create: %s", err);
    if (chdir(fuzz_tmpdir()) < 0) fuzz_die(CMD_TARGET, "cannot enter the scratch directory");
    /* t.json: one exchange; e.json: a reply interrupted before its first token */
    static const char *const replies[2] = {"hi there", ""}, *const names[2] = {"t.json", "e.json"};
    for (int i = 0; i < 2; i++) {
        tr_transcript *t;
        if (tr_create(&t) < 0) fuzz_die(CMD_TARGET, "tr_create failed");
        tr_message m = {.role = TR_USER, .text = "hello", .len = 5};
        tr_message r = {.role = TR_MODEL, .text = (char *)replies[i], .len = strlen(replies[i])};
        snprintf(r.stop, sizeof r.stop, "%s", i ? "stopped_early" : "stop_id");
        tr_append(t, &m);
        tr_append(t, &r);
        snprintf(path, sizeof path, "%s/%s", fuzz_tmpdir(), names[i]);
        if (tr_save(t, path, err, sizeof err) < 0) fuzz_die(CMD_TARGET, "%s", err);
        tr_free(t);
    }
    return c;
}

static int fuzz_cmd_one(const uint8_t *data, size_t n) {
    chat *c = cmd_chat();
    cmd *k;
    tr_transcript *fresh;
    char err[1024] = "";
    if (tr_create(&fresh) < 0 || chat_set_transcript(c, fresh, err, sizeof err) < 0 || cmd_create(&k, c) < 0)
        fuzz_die(CMD_TARGET, "reset failed: %s", err);
    smp_params p = *chat_default_sampling(c);
    p.seed = 1;
    chat_set_sampling(c, &p, 1);
    chat_set_max_new(c, 4);
    chat_set_think(c, 0);
    chat_set_system(c, NULL, err, sizeof err);
    cmd_rec rec = {0};
    cmd_io io = {.ud = &rec, .print = cmd_print, .copy = cmd_copy, .theme = cmd_theme,
                 .chat = {.ud = &rec, .on_text = cmd_on_text, .cancelled = cmd_cancelled}};
    const char *s = (const char *)data, *end = s + n;
    for (int line = 0; line < 12 && s < end; line++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
        if (cmd_safe(s, len)) {
            size_t before = tr_count(chat_transcript(c));
            int used = chat_ctx_used(c);
            memset(&rec, 0, sizeof rec);
            err[0] = 0;
            int rc = cmd_submit(k, s, len, &io, err, sizeof err);
            if (rc < 0) fuzz_check_err(CMD_TARGET, err, NULL);
            else if (rc > CMD_BAD) fuzz_die(CMD_TARGET, "unknown result %d", rc);
            if (rc == CMD_BAD && (!rec.errors || tr_count(chat_transcript(c)) != before || chat_ctx_used(c) != used))
                fuzz_die(CMD_TARGET, "a refused line printed %d errors or changed the conversation", rec.errors);
            if (rc == CMD_QUIT) break;
        }
        s += len + 1;
    }
    cmd_free(k);
    return 0;
}
FUZZ_TARGET(fuzz_cmd_one)
