/* The chat core on the trained tiny-chat model against its golden conversation (greedy ids and the
 * exact tokens each turn feeds), and on tiny-e (random weights) for context limits. */
#include <json-c/json.h>
#include <math.h>
#include "app/chat.h"
#include "tests/t.h"
#include "tokenizer/cf.h"

typedef struct {
    int32_t *v;
    size_t n;
} ids;

/* golden.json key[i] (an array of arrays of ids) */
static ids golden_ids(json_object *g, const char *key, size_t i) {
    ids r = {0};
    json_object *a, *row;
    if (!json_object_object_get_ex(g, key, &a) || !(row = json_object_array_get_idx(a, i))) return r;
    r.n = json_object_array_length(row);
    r.v = malloc((r.n + 1) * sizeof *r.v);
    for (size_t k = 0; k < r.n; k++) r.v[k] = json_object_get_int(json_object_array_get_idx(row, k));
    return r;
}

static const char *golden_str(json_object *g, const char *key, size_t i) {
    json_object *a;
    if (!json_object_object_get_ex(g, key, &a)) return "";
    json_object *s = json_object_array_get_idx(a, i);
    return s ? json_object_get_string(s) : "";
}

static int same(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && (na == 0 || !memcmp(a, b, na * sizeof *a));
}

/* ---- callbacks that record what the chat streamed ------------------------------------------ */

typedef struct {
    char text[8192];
    size_t len;
    int texts, prefills, notices;
    int cancel_after_texts;     /* > 0: cancel once this many on_text calls came */
    int cancel_after_prefills;  /* > 0: cancel once this many on_prefill calls with progress came */
    int thought_calls;
} rec;

static void on_text(void *ud, const char *s, size_t n, int thought) {
    rec *r = ud;
    r->texts++;
    r->thought_calls += thought;
    if (r->len + n < sizeof r->text) memcpy(r->text + r->len, s, n), r->len += n;
}
static void on_prefill(void *ud, int done, int total) {
    rec *r = ud;
    (void)total;
    if (done > 0) r->prefills++;
}
static int cancelled(void *ud) {
    rec *r = ud;
    return (r->cancel_after_texts && r->texts >= r->cancel_after_texts) ||
           (r->cancel_after_prefills && r->prefills >= r->cancel_after_prefills);
}
static void on_notice(void *ud, const char *msg) {
    (void)msg;
    ((rec *)ud)->notices++;
}
static chat_cb cb_of(rec *r) {
    memset(r, 0, sizeof *r);
    return (chat_cb){r, on_text, on_prefill, cancelled, on_notice};
}

static tr_message *last(chat *c) {
    tr_transcript *t = chat_transcript(c);
    return tr_at(t, tr_count(t) - 1);
}

static int send(chat *c, const char *text, rec *r) {
    char err[512] = "";
    chat_cb cb = cb_of(r);
    int rc = chat_send(c, text, strlen(text), &cb, err, sizeof err);
    if (rc < 0) printf("  chat_send: %s\n", err);
    return rc;
}

/* The conversation as cf_render + the tokenizer give it (no generation prompt). */
static ids render_all(chat *c) {
    tr_transcript *t = chat_transcript(c);
    cf_message m[64];
    size_t n = 0;
    for (size_t i = 0; i < tr_count(t) && n < 64; i++) {
        tr_message *x = tr_at(t, i);
        m[n++] = (cf_message){x->role == TR_USER ? "user" : "assistant", x->text, x->len};
    }
    char *text, err[256];
    size_t len;
    ids r = {0};
    if (cf_render(CF_SMALL, m, n, 0, 0, &text, &len, err, sizeof err) < 0) return r;
    tok_encode(chat_tokenizer(c), text, len, &r.v, &r.n, err, sizeof err);
    free(text);
    return r;
}

static void test_golden(const char *dir, json_object *g) {
    chat_opts o;
    chat_opts_default(&o);
    o.model_dir = dir;
    o.threads = 1;   /* tiny models: one thread is fastest, and robust on a loaded machine */
    o.temp = 0;
    json_object *mx;
    json_object_object_get_ex(g, "max_new_per_turn", &mx);
    o.max_new = json_object_get_int(mx);
    chat *c;
    char err[512];
    if (chat_create(&c, &o, err, sizeof err) < 0) {
        T_CHECK(0, "chat_create tiny-chat", "%s", err);
        return;
    }
    T_CHECK(o.max_new == 40, "golden max_new_per_turn read", "got %d", o.max_new);
    ids turn[3], gen[3];
    for (int i = 0; i < 3; i++) turn[i] = golden_ids(g, "chat_turns", i), gen[i] = golden_ids(g, "chat_generated", i);
    rec r;
    int n_cache;
    const int32_t *cache;

    /* turn 1: the prompt is the golden turn, the greedy reply the golden ids (cut at max_new) */
    T_CHECK(send(c, golden_str(g, "chat_users", 0), &r) == 0, "turn 1 sent", "");
    tr_transcript *t = chat_transcript(c);
    tr_message *u = tr_at(t, 0), *m = last(c);
    T_CHECK(tr_count(t) == 2 && u->role == TR_USER && m->role == TR_MODEL, "turn 1: user + model message", "%zu", tr_count(t));
    T_CHECK(same(u->ids, u->n_ids, turn[0].v, turn[0].n), "turn 1 feeds chat_turns[0]", "%zu ids", u->n_ids);
    T_CHECK(same(m->ids, m->n_ids, gen[0].v, gen[0].n), "turn 1 greedy reply = chat_generated[0]", "%zu ids", m->n_ids);
    T_CHECK(!strcmp(m->stop, "length"), "turn 1 cut by max-new", "stop %s", m->stop);
    T_CHECK(m->prefill_new == (int)turn[0].n && m->prefill_cached == 0, "turn 1 prefill counters",
            "%d new %d cached", m->prefill_new, m->prefill_cached);
    T_CHECK(!strcmp(m->text, golden_str(g, "chat_generated_text", 0)), "turn 1 text = chat_generated_text[0]", "'%s'", m->text);
    T_CHECK(r.len == m->len && !memcmp(r.text, m->text, m->len), "streamed text = stored text", "%zu vs %zu", r.len, m->len);
    cache = chat_cache_ids(c, &n_cache);
    T_CHECK(n_cache == (int)(turn[0].n + gen[0].n) && !memcmp(cache, turn[0].v, turn[0].n * 4) &&
                !memcmp(cache + turn[0].n, gen[0].v, gen[0].n * 4),
            "cache holds turn 1 and its whole reply", "%d ids", n_cache);
    ids rendered = render_all(c);
    T_CHECK(rendered.n > (size_t)n_cache && !memcmp(rendered.v, cache, (size_t)n_cache * 4),
            "cache is a prefix of cf_render of the conversation", "%zu rendered, %d cached", rendered.n, n_cache);
    free(rendered.v);

    /* turn 2: only its own tokens are prefilled; the reply ends on <turn|>, which is not fed */
    T_CHECK(send(c, golden_str(g, "chat_users", 1), &r) == 0, "turn 2 sent", "");
    m = last(c);
    u = tr_at(t, 2);
    T_CHECK(m->prefill_new == (int)turn[1].n && m->prefill_cached == (int)(turn[0].n + gen[0].n),
            "turn 2 prefills only its own tokens", "%d new / %d cached", m->prefill_new, m->prefill_cached);
    T_CHECK(same(u->ids, u->n_ids, turn[1].v, turn[1].n), "turn 2 feeds chat_turns[1]", "%zu ids", u->n_ids);
    T_CHECK(same(m->ids, m->n_ids, gen[1].v, gen[1].n), "turn 2 greedy reply = chat_generated[1]", "%zu ids", m->n_ids);
    T_CHECK(!strcmp(m->stop, "stop_id"), "turn 2 ends on a stop id", "stop %s", m->stop);
    T_CHECK(!strcmp(m->text, golden_str(g, "chat_generated_text", 1)), "turn 2 text has no <turn|>", "'%s'", m->text);
    cache = chat_cache_ids(c, &n_cache);
    T_CHECK(n_cache == m->prefill_cached + m->prefill_new + (int)gen[1].n - 1 && cache[n_cache - 1] != 106,
            "the stop id is not fed", "%d cached", n_cache);

    /* turn 3 */
    T_CHECK(send(c, golden_str(g, "chat_users", 2), &r) == 0, "turn 3 sent", "");
    m = last(c);
    int turn3_cached = m->prefill_cached;
    T_CHECK(m->prefill_new == (int)turn[2].n, "turn 3 prefills only its own tokens", "%d new", m->prefill_new);
    T_CHECK(same(m->ids, m->n_ids, gen[2].v, gen[2].n), "turn 3 greedy reply = chat_generated[2]", "%zu ids", m->n_ids);
    chat_totals before, after;
    chat_get_totals(c, &before);

    /* retry: nothing prefilled, same greedy reply, the old one kept */
    chat_cb cb = cb_of(&r);
    T_CHECK(chat_retry(c, &cb, err, sizeof err) == 0, "retry", "%s", err);
    m = last(c);
    chat_get_totals(c, &after);
    T_CHECK(m->prefill_new == 0 && after.prefill_new == before.prefill_new, "retry prefills nothing",
            "%d new", m->prefill_new);
    T_CHECK(same(m->ids, m->n_ids, gen[2].v, gen[2].n) && m->n_alts == 1 &&
                same(m->alts[0].ids, m->alts[0].n_ids, gen[2].v, gen[2].n),
            "retry: greedy reply again, old one an alternative", "%zu alts", m->n_alts);
    T_CHECK(tr_count(t) == 6, "retry keeps the message count", "%zu", tr_count(t));
    int used_before = chat_ctx_used(c);
    T_CHECK(chat_select_alt(c, 5, 0, err, sizeof err) == 0 && same(last(c)->ids, last(c)->n_ids, gen[2].v, gen[2].n) &&
                chat_ctx_used(c) <= used_before && chat_ctx_used(c) >= turn3_cached,
            "select an alternative: the cache keeps the shared prefix", "%d of %d", chat_ctx_used(c), used_before);
    T_CHECK(chat_select_alt(c, 5, 3, err, sizeof err) < 0 && chat_select_alt(c, 0, 0, err, sizeof err) < 0,
            "selecting a missing alternative fails", "");

    /* undo: the cache keeps exactly the turns before, closed by <turn|>\n */
    T_CHECK(chat_undo(c, err, sizeof err) == 0 && tr_count(t) == 4, "undo drops the last exchange", "%s", err);
    T_CHECK(chat_ctx_used(c) == turn3_cached + 2, "undo truncates the cache to the previous turn's end",
            "%d vs %d", chat_ctx_used(c), turn3_cached + 2);
    T_CHECK(send(c, golden_str(g, "chat_users", 2), &r) == 0, "turn 3 again", "");
    m = last(c);
    T_CHECK(m->prefill_new == (int)turn[2].n - 2 && m->prefill_cached == turn3_cached + 2,
            "after undo only the new user turn is prefilled", "%d new", m->prefill_new);
    T_CHECK(same(m->ids, m->n_ids, gen[2].v, gen[2].n), "turn 3 again = chat_generated[2]", "");

    /* edit: turn 2's message replaced; the cache is cut where the texts part */
    size_t common = 0;
    while (common < turn[1].n && common < turn[2].n && turn[1].v[common] == turn[2].v[common]) common++;
    int turn2_start = (int)(turn[0].n + gen[0].n);
    const char *u2 = golden_str(g, "chat_users", 1), *u3 = golden_str(g, "chat_users", 2);
    cb = cb_of(&r);
    T_CHECK(chat_edit(c, 2, u3, strlen(u3), &cb, err, sizeof err) == 0 && tr_count(t) == 4 &&
                !strcmp(tr_at(t, 2)->text, u3),
            "edit replaces the message and drops what followed", "%s", err);
    m = last(c);
    T_CHECK(m->prefill_cached == turn2_start + (int)common && m->prefill_new == (int)(turn[2].n - common),
            "edit prefills only from the first changed token", "%d cached / %d new", m->prefill_cached, m->prefill_new);
    cb = cb_of(&r);
    T_CHECK(chat_edit(c, 2, u2, strlen(u2), &cb, err, sizeof err) == 0, "edit back", "%s", err);
    m = last(c);
    T_CHECK(same(m->ids, m->n_ids, gen[1].v, gen[1].n) && m->prefill_new == (int)(turn[1].n - common),
            "edited back: the golden turn 2 reply again", "%d new", m->prefill_new);
    char big[4096] = "";
    for (int i = 0; i < 40; i++) strcat(big, "Tell me something about computers. ");
    cb = cb_of(&r);
    r.cancel_after_prefills = 1;
    T_CHECK(chat_edit(c, 0, big, strlen(big), &cb, err, sizeof err) == 1 && tr_count(t) == 4 &&
                !strcmp(tr_at(t, 0)->text, golden_str(g, "chat_users", 0)) && same(last(c)->ids, last(c)->n_ids, gen[1].v, gen[1].n),
            "a cancelled edit leaves the conversation as it was", "%zu messages", tr_count(t));
    T_CHECK(send(c, u3, &r) == 0 && same(last(c)->ids, last(c)->n_ids, gen[2].v, gen[2].n),
            "after the cancelled edit the chat goes on as before", "%d new", last(c)->prefill_new);

    /* cancel during prefill: the message is not added, the cache is as before */
    int used = chat_ctx_used(c);
    int32_t *snap = malloc((size_t)used * 4);
    memcpy(snap, chat_cache_ids(c, &n_cache), (size_t)used * 4);
    cb = cb_of(&r);
    r.cancel_after_prefills = 1;
    int rc = chat_send(c, big, strlen(big), &cb, err, sizeof err);
    cache = chat_cache_ids(c, &n_cache);
    T_CHECK(rc == 1, "cancel during prefill returns 1", "rc %d", rc);
    T_CHECK(tr_count(t) == 6, "cancelled message not added", "%zu", tr_count(t));
    T_CHECK(n_cache == used && !memcmp(cache, snap, (size_t)used * 4), "cancelled prefill rolls the cache back",
            "%d vs %d", n_cache, used);
    T_CHECK(r.texts == 0, "no reply text after a cancelled prefill", "%d", r.texts);
    free(snap);

    /* cancel during the reply: stopped_early, the partial reply stays in context closed by <turn|> */
    cb = cb_of(&r);
    r.cancel_after_texts = 3;
    const char *u1 = golden_str(g, "chat_users", 0);
    rc = chat_send(c, u1, strlen(u1), &cb, err, sizeof err);
    m = last(c);
    cache = chat_cache_ids(c, &n_cache);
    T_CHECK(rc == 0 && !strcmp(m->stop, "stopped_early"), "cancel during the reply stops it", "rc %d stop %s", rc, m->stop);
    T_CHECK(m->n_ids >= 1 && m->n_ids < gen[0].n, "partial reply kept", "%zu ids", m->n_ids);
    T_CHECK(cache[n_cache - 1] == tok_id(chat_tokenizer(c), "<turn|>") &&
                !memcmp(cache + n_cache - 1 - m->n_ids, m->ids, m->n_ids * 4),
            "partial reply in the cache, closed by <turn|>", "last %d", cache[n_cache - 1]);
    int before_next = n_cache;
    T_CHECK(send(c, u2, &r) == 0 && last(c)->prefill_cached == before_next,
            "the next turn reuses the interrupted reply", "%d cached of %d", last(c)->prefill_cached, before_next);

    /* stop ids: generation_config's plus <turn|> */
    const int32_t *stop;
    int ns = chat_stop_ids(c, &stop), has1 = 0, has106 = 0;
    for (int i = 0; i < ns; i++) has1 |= stop[i] == 1, has106 |= stop[i] == 106;
    T_CHECK(has1 && has106, "tiny-chat stop ids include <eos> and <turn|>", "%d ids", ns);

    for (int i = 0; i < 3; i++) free(turn[i].v), free(gen[i].v);
    chat_free(c);
}

/* Thoughts of earlier replies never reach the model again, and a system prompt comes first. */
static void test_thinking(const char *dir) {
    chat_opts o;
    chat_opts_default(&o);
    o.model_dir = dir;
    o.threads = 1;
    o.temp = 0;
    o.max_new = 4;
    o.system = "Be brief.";
    chat *c;
    char err[512];
    if (chat_create(&c, &o, err, sizeof err) < 0) {
        T_CHECK(0, "chat_create (thinking)", "%s", err);
        return;
    }
    tr_transcript *t = chat_transcript(c);
    const char *reply = "<|channel>thought\nsecret plan<channel|>Hello.";
    tr_message u = {.role = TR_USER, .text = "Hi", .len = 2};
    tr_message m = {.role = TR_MODEL, .text = (char *)reply, .len = strlen(reply), .stop = "stop_id"};
    tr_append(t, &u);
    tr_append(t, &m);
    chat_set_think(c, 1);
    rec r;
    T_CHECK(send(c, "And now?", &r) == 0, "send after a reply with a thought", "");
    int n;
    const int32_t *cache = chat_cache_ids(c, &n);
    const tok_tokenizer *tok = chat_tokenizer(c);
    int open = tok_id(tok, "<|channel>"), think = tok_id(tok, "<|think|>"), found_open = 0, found_think = 0;
    for (int i = 0; i < n; i++) found_open |= cache[i] == open, found_think |= cache[i] == think;
    T_CHECK(open >= 0 && !found_open, "earlier thoughts are not in the context", "");
    T_CHECK(found_think, "thinking on puts <|think|> in the prompt", "");
    char *text;
    size_t len;
    tok_decode(tok, cache, (size_t)n, 0, &text, &len, err, sizeof err);
    T_CHECK(text && strstr(text, "<|turn>system\n<|think|>\nBe brief.<turn|>") == text + strlen("<bos>"),
            "system turn first, with <|think|>", "%.60s", text ? text : "");
    free(text);
    chat_free(c);
}

/* A small context fills: the oldest exchanges leave the context, never the transcript. */
static void test_context_full(const char *dir) {
    chat_opts o;
    chat_opts_default(&o);
    o.model_dir = dir;
    o.threads = 1;
    o.temp = 0;
    o.max_new = 16;
    o.ctx = 160;
    chat *c;
    char err[512];
    if (chat_create(&c, &o, err, sizeof err) < 0) {
        T_CHECK(0, "chat_create tiny-e", "%s", err);
        return;
    }
    rec r;
    int notices = 0, ok = 1, within = 1;
    for (int i = 0; i < 8; i++) {
        ok &= send(c, "Tell me something about computers, please, in a few words.", &r) == 0;
        notices += r.notices;
        within &= chat_ctx_used(c) <= chat_ctx_size(c) && last(c)->n_ids <= 16;
    }
    tr_transcript *t = chat_transcript(c);
    T_CHECK(ok, "8 turns in a 160-token context", "");
    T_CHECK(within, "cache within the context, replies within max-new", "");
    T_CHECK(notices > 0, "dropping exchanges is announced", "%d notices", notices);
    T_CHECK(tr_count(t) == 16 && chat_first_in_context(c) > 0 && chat_first_in_context(c) % 2 == 0,
            "transcript keeps every message; whole exchanges leave the context", "first %zu of %zu",
            chat_first_in_context(c), tr_count(t));
    size_t before = chat_first_in_context(c);
    T_CHECK(chat_forget(c, err, sizeof err) == 0 && chat_first_in_context(c) == before + 2,
            "forget drops one more exchange", "%zu", chat_first_in_context(c));
    T_CHECK(send(c, "x", &r) == 0 && last(c)->prefill_cached >= 1, "a turn after forget works", "");
    chat_context x;
    T_CHECK(chat_get_context(c, &x, err, sizeof err) == 0 && x.used == chat_ctx_used(c) &&
                x.system + x.history + x.last_reply == x.used && x.dropped == (int)chat_first_in_context(c) / 2,
            "context breakdown adds up", "%d+%d+%d vs %d", x.system, x.history, x.last_reply, x.used);
    const int32_t *stop;
    int ns = chat_stop_ids(c, &stop), has106 = 0;
    for (int i = 0; i < ns; i++) has106 |= stop[i] == tok_id(chat_tokenizer(c), "<turn|>");
    T_CHECK(has106, "<turn|> is a stop id even when generation_config lacks it", "%d ids", ns);
    char *huge = malloc(4001);
    for (int i = 0; i < 4000; i++) huge[i] = "abcdefgh "[i % 9];
    huge[4000] = 0;
    size_t count = tr_count(t);
    chat_cb cb = cb_of(&r);
    T_CHECK(chat_send(c, huge, 4000, &cb, err, sizeof err) < 0 && strstr(err, "too long") && tr_count(t) == count,
            "a message longer than the context is refused", "%s", err);
    free(huge);
    chat_free(c);
}

/* What on_text shows is the stored reply without the channel markers, thought text flagged.  tiny-e's
 * greedy reply to "Hello there" opens a thought channel at token 707. */
typedef struct {
    char plain[16384], thought[16384];
    size_t np, nt;
} split;

static void on_split(void *ud, const char *s, size_t n, int thought) {
    split *x = ud;
    char *buf = thought ? x->thought : x->plain;
    size_t *len = thought ? &x->nt : &x->np;
    if (*len + n < sizeof x->plain) memcpy(buf + *len, s, n), *len += n;
}

static void test_thought_stream(const char *dir) {
    chat_opts o;
    chat_opts_default(&o);
    o.model_dir = dir;
    o.threads = 1;
    o.temp = 0;
    o.max_new = 760;
    chat *c;
    char err[512];
    if (chat_create(&c, &o, err, sizeof err) < 0) {
        T_CHECK(0, "chat_create tiny-e (thought)", "%s", err);
        return;
    }
    static split x;
    chat_cb cb = {.ud = &x, .on_text = on_split};
    T_CHECK(chat_send(c, "Hello there", 11, &cb, err, sizeof err) == 0, "long tiny-e reply", "%s", err);
    const tr_message *m = last(c);
    const char *open = strstr(m->text, "<|channel>");
    T_CHECK(open != NULL && x.nt > 0, "the reply opens a thought channel", "%zu thought bytes", x.nt);
    if (open) {
        size_t before = (size_t)(open - m->text), after = m->len - before - strlen("<|channel>");
        T_CHECK(x.np == before && !memcmp(x.plain, m->text, before), "text before the thought shown plain", "%zu vs %zu", x.np, before);
        T_CHECK(x.nt == after && !memcmp(x.thought, open + strlen("<|channel>"), after) && !memmem(x.thought, x.nt, "<|channel>", 10),
                "thought shown flagged, without the marker", "%zu vs %zu", x.nt, after);
        T_CHECK(m->thought_tokens > 0 && m->thought_tokens < (int)m->n_ids, "thought tokens counted apart", "%d", m->thought_tokens);
    }
    chat_free(c);
}

static void test_errors(void) {
    chat_opts o;
    chat_opts_default(&o);
    o.model_dir = "/nonexistent/model-dir";
    chat *c = (chat *)1;
    char err[512] = "";
    T_CHECK(chat_create(&c, &o, err, sizeof err) < 0 && c == NULL && strstr(err, "/nonexistent/model-dir"),
            "a missing model dir is an error naming it", "%s", err);
}

int main(void) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/models/tiny-chat", t_data());
    snprintf(path, sizeof path, "%s/golden.json", dir);
    json_object *g = json_object_from_file(path);
    T_CHECK(g != NULL, "golden.json of tiny-chat", "%s", path);
    if (g) test_golden(dir, g);
    json_object_put(g);
    test_thinking(dir);
    snprintf(dir, sizeof dir, "%s/models/tiny-e", t_data());
    test_context_full(dir);
    test_thought_stream(dir);
    test_errors();
    return t_exit();
}
