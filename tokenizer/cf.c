/* The Gemma 4 chat template (Google's 2026-07-09 version) for plain text messages, rendered the way
 * its Jinja code does it, quirks included (see the comments at each step). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/cf.h"
#include "tokenizer/tok_impl.h"

#define OPEN_CH "<|channel>"
#define CLOSE_CH "<channel|>"

cf_variant cf_detect(const char *tpl, size_t len) {
    /* Only the 26B/31B template writes an empty thought channel into the generation prompt. */
    static const char *const marks[] = {"'<|channel>thought\\n<channel|>'", "<|channel>thought\n<channel|>"};
    for (size_t i = 0; i < 2; i++)
        if (memmem(tpl, len, marks[i], strlen(marks[i]))) return CF_LARGE;
    return CF_SMALL;
}

/* Byte length of the Python-whitespace character (str.isspace) starting at s, else 0. */
static size_t space_at(const unsigned char *s, size_t n) {
    if (n >= 1 && ((s[0] >= 0x09 && s[0] <= 0x0D) || (s[0] >= 0x1C && s[0] <= 0x20))) return 1;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
    if (n < 3) return 0;
    if (s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) return 3;                       /* U+1680 */
    if (s[0] == 0xE2 && s[1] == 0x80 && ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
        return 3;                                                                          /* U+2000-200A, 2028, 2029, 202F */
    if (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) return 3;                       /* U+205F */
    if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3;                       /* U+3000 */
    return 0;
}

/* Python str.strip(): the kept part of s[0..n) as an offset and a length. */
static void trim(const char *s, size_t n, size_t *from, size_t *len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t a = 0, b = n, k;
    while (a < b && (k = space_at(u + a, b - a))) a += k;
    while (b > a) {
        k = 0;
        for (size_t w = 1; w <= 3 && w <= b - a && !k; w++)
            if (space_at(u + b - w, w) == w) k = w;
        if (!k) break;
        b -= k;
    }
    *from = a;
    *len = b - a;
}

/* The template's strip_thinking: split on <channel|>; of a part holding <|channel>, keep only what
 * precedes it; join; trim.  (So a stray <channel|> vanishes and an unclosed <|channel> cuts to the end.) */
static int strip_into(tok_buf *out, const char *s, size_t n) {
    tok_buf kept = {0};
    const char *end = s + n;
    int rc = 0;
    for (const char *part = s; !rc;) {
        const char *close = tok_find(part, (size_t)(end - part), CLOSE_CH, strlen(CLOSE_CH));
        const char *stop = close ? close : end;
        const char *open = tok_find(part, (size_t)(stop - part), OPEN_CH, strlen(OPEN_CH));
        rc = tok_buf_put(&kept, part, (size_t)((open ? open : stop) - part));
        if (!close) break;
        part = close + strlen(CLOSE_CH);
    }
    size_t from, len;
    trim(kept.p, kept.len, &from, &len);
    if (!rc && len) rc = tok_buf_put(out, kept.p + from, len);   /* kept.p is NULL when nothing was kept */
    free(kept.p);
    return rc;
}

char *cf_strip_thinking(const char *content, size_t len, size_t *out_len) {
    tok_buf b = {0};
    if (strip_into(&b, content, len) || tok_buf_put(&b, "", 1)) {
        free(b.p);
        return NULL;
    }
    *out_len = b.len - 1;
    return b.p;
}

static int put_str(tok_buf *b, const char *s) { return tok_buf_put(b, s, strlen(s)); }

static int put_trimmed(tok_buf *b, const cf_message *m) {
    if (!m->content) return 0;
    size_t from, len;
    trim(m->content, m->len, &from, &len);
    return tok_buf_put(b, m->content + from, len);
}

static int role_is(const cf_message *m, const char *r) { return !strcmp(m->role, r); }

static int render(tok_buf *b, cf_variant v, const cf_message *msgs, size_t n, int gen, int think) {
    int rc = put_str(b, "<bos>");
    int first_sys = n && (role_is(&msgs[0], "system") || role_is(&msgs[0], "developer"));
    if (think || first_sys) {
        rc |= put_str(b, "<|turn>system\n");
        if (think) rc |= put_str(b, "<|think|>\n");
        if (first_sys) rc |= put_trimmed(b, &msgs[0]);
        rc |= put_str(b, "<turn|>\n");
    }
    const char *prev_role = NULL;   /* the raw role of the previous non-tool message */
    for (size_t i = first_sys ? 1 : 0; i < n && !rc; i++) {
        const cf_message *m = &msgs[i];
        if (role_is(m, "tool")) continue;   /* tool results without a tool call render nothing */
        const char *role = role_is(m, "assistant") ? "model" : m->role;
        int model = !strcmp(role, "model");
        /* "assistant" after "assistant" continues the same model turn (raw roles, as the template) */
        if (!(model && prev_role && !strcmp(prev_role, "assistant")))
            rc |= put_str(b, "<|turn>") | put_str(b, role) | put_str(b, "\n");
        if (model) rc |= m->content ? strip_into(b, m->content, m->len) : 0;
        else rc |= put_trimmed(b, m);
        const cf_message *next = NULL;
        for (size_t j = i + 1; j < n && !next; j++)
            if (!role_is(&msgs[j], "tool")) next = &msgs[j];
        if (!(model && next && role_is(next, "assistant"))) rc |= put_str(b, "<turn|>\n");
        prev_role = m->role;
    }
    if (gen) {
        rc |= put_str(b, "<|turn>model\n");
        if (v == CF_LARGE && !think) rc |= put_str(b, OPEN_CH "thought\n" CLOSE_CH);
    }
    return rc;
}

int cf_render(cf_variant v, const cf_message *msgs, size_t n, int add_generation_prompt, int enable_thinking,
              char **text, size_t *len, char *err, size_t errlen) {
    *text = NULL;
    *len = 0;
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role) {
            snprintf(err, errlen, "chat message %zu has no role", i);
            return -1;
        }
    tok_buf b = {0};
    if (render(&b, v, msgs, n, add_generation_prompt, enable_thinking) || tok_buf_put(&b, "", 1)) {
        free(b.p);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *text = b.p;
    *len = b.len - 1;
    return 0;
}
