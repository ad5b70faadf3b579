/* cmd — what the user submits, the same in the TUI and in plain mode: a slash command, a message
 * (`//text` sends "/text"), or the replacement for a message chosen with /edit.  Output goes through
 * callbacks; nothing here touches the screen. */
#ifndef CMD_H
#define CMD_H
#include <stddef.h>
#include "app/chat.h"

typedef struct {
    const char *name;     /* without the slash: "temp" */
    const char *args;     /* synopsis of the arguments, "" if none */
    const char *help;     /* one line */
} cmd_info;

/* The command table: what /help lists, Tab completes and cmd_submit dispatches. */
const cmd_info *cmd_table(size_t *n);
/* The entry named name (without the slash), NULL if none. */
const cmd_info *cmd_find(const char *name, size_t len);

typedef struct {
    void *ud;
    /* Command output: whole lines, each ending in '\n'; err: 1 for a one-line error. */
    void (*print)(void *ud, const char *text, size_t len, int err);
    /* A message is about to go to the model (also for /retry: the message answered again). */
    void (*on_turn)(void *ud, const char *user, size_t len);
    /* Its reply is complete (stopped, cut by length or interrupted); m is the transcript's message. */
    void (*on_reply)(void *ud, const tr_message *m);
    /* /theme NAME; NULL where themes do not apply (plain mode says so). */
    int (*theme)(void *ud, const char *name, char *err, size_t errlen);
    /* /raw on|off: 1 shows replies as plain text, 0 styles their Markdown; NULL in plain mode. */
    int (*raw)(void *ud, int on);
    /* /copy; NULL where there is no clipboard. */
    int (*copy)(void *ud, const char *text, size_t len, char *err, size_t errlen);
    /* /edit: offers the message for editing (the TUI fills its input line); NULL: the text is printed
     * and the next message submitted replaces it. */
    void (*edit)(void *ud, const char *text, size_t len);
    chat_cb chat;         /* generation callbacks */
} cmd_io;

enum {
    CMD_DONE = 0,         /* handled */
    CMD_QUIT = 1,         /* /quit */
    CMD_CANCELLED = 2,    /* prefill cancelled: nothing changed; a UI gives the input back */
    CMD_BAD = 3           /* unknown command or bad argument: one error line printed, model not called */
};

typedef struct cmd cmd;
int cmd_create(cmd **out, chat *c);
void cmd_free(cmd *k);
/* Handles one submitted input (len bytes, no trailing newline needed).  Returns a CMD_ code, or <0
 * when the model failed (err filled; the conversation is as before the input). */
int cmd_submit(cmd *k, const char *input, size_t len, const cmd_io *io, char *err, size_t errlen);
/* Replay (/replay, gemmachat --replay): the current conversation is replaced by src's settings, each
 * of src's user turns is sent again through io (on_turn, the chat callbacks, on_reply) and its
 * replies regenerated as they were made (chat_replay); each reply that departs from the saved one
 * is reported as an error line naming the turn and the first differing token.  src stays the
 * caller's.  Returns CMD_DONE, CMD_CANCELLED when the user stopped it, or <0 (err filled). */
typedef struct {
    int turns;            /* user turns sent */
    int replies;          /* replies compared with saved ones (alternatives included) */
    int differ;           /* of those, how many differ */
} cmd_replay_result;
int cmd_replay(cmd *k, tr_transcript *src, const chat_replay_opts *o, const cmd_io *io, cmd_replay_result *res,
               char *err, size_t errlen);
/* The transcript index of the message /edit chose, -1 if none; cancel drops the choice. */
long cmd_editing(const cmd *k);
void cmd_cancel_edit(cmd *k);
#endif
