/* cf — the Gemma 4 chat format: renders a conversation exactly as the model's chat template does. */
#ifndef CF_H
#define CF_H
#include <stddef.h>

typedef enum {
    CF_SMALL = 0,   /* E2B / E4B template */
    CF_LARGE = 1    /* 26B-A4B / 31B: thinking off adds an empty thought channel to the prompt */
} cf_variant;

typedef struct {
    const char *role;      /* "system", "developer", "user", "assistant" (or "model") */
    const char *content;
    size_t len;            /* bytes of content (content may hold NULs) */
} cf_message;

/* Which variant a chat_template.jinja text is (CF_SMALL when unrecognised). */
cf_variant cf_detect(const char *template_text, size_t len);
/* Renders messages; *text malloc'd, NUL-terminated. */
int cf_render(cf_variant v, const cf_message *msgs, size_t n, int add_generation_prompt,
              int enable_thinking, char **text, size_t *len, char *err, size_t errlen);
/* strip_thinking of a previous model turn: cuts every <|channel>...<channel|> span, then trims. */
char *cf_strip_thinking(const char *content, size_t len, size_t *out_len);

/* cf_detect on a chat_template.jinja file; -1 with a message if it cannot be read. */
int cf_detect_file(const char *path, cf_variant *v, char *err, size_t errlen);
/* The variant of a model directory: its chat_template.jinja, else the chat_template inside its
 * tokenizer_config.json (a string, or a list of {name, template}: "default", else the first);
 * CF_SMALL when neither is there. */
cf_variant cf_detect_dir(const char *dir);
#endif
