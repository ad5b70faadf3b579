/* plain — the chat without a screen, for pipes, scripts and dumb terminals: replies stream to stdout
 * (flushed per chunk), everything else goes to stderr; no escape codes, no spinner, never a wait for
 * input that is not coming.  Ctrl-C stops the reply, not the program; a closed stdout ends quietly. */
#ifndef PLAIN_H
#define PLAIN_H
#include "app/chat.h"

typedef enum {
    PLAIN_ONESHOT,        /* answer prompt and return (-p TEXT) */
    PLAIN_LINES,          /* one user turn per line of stdin (--plain); EOF or /quit ends */
    PLAIN_ALL             /* all of stdin is one prompt (stdin is not a terminal) */
} plain_mode;

typedef struct {
    plain_mode mode;
    const char *prompt;   /* PLAIN_ONESHOT */
} plain_opts;

/* Runs the chat.  A conversation already in the chat (--load, --resume) has its cache rebuilt
 * first in PLAIN_LINES.  Returns the exit status: 0 (also when stdout closed early), 1 on a runtime
 * error, 2 on an unknown command or bad argument in the one-shot modes or empty input, 130 when
 * Ctrl-C cancelled the one-shot prompt before its reply began, 128+N after SIGTERM or SIGHUP (N):
 * a reply in progress stops and is kept; the caller then saves (chat_emergency_save). */
int plain_run(chat *c, const plain_opts *o);

/* Replays src (cmd_replay): prints the new replies, and on stderr the first token where a reply
 * differs from the saved one.  Returns 0 when every reply is identical, 1 otherwise or on error,
 * 128+N after signal N (SIGTERM, SIGHUP). */
int plain_replay(chat *c, tr_transcript *src, const chat_replay_opts *o);
#endif
