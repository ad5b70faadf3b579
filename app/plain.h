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

/* Runs the chat.  Returns the exit status: 0 (also when stdout closed early), 1 on a runtime error,
 * 2 on an unknown command or bad argument in the one-shot modes or empty input, 130 when Ctrl-C
 * cancelled the one-shot prompt before its reply began. */
int plain_run(chat *c, const plain_opts *o);

/* Sends the user messages of src again, in order, printing the new replies, and names the first
 * token where a reply differs from the saved one.  Returns 0 when every reply is identical, 1
 * otherwise or on error. */
int plain_replay(chat *c, tr_transcript *src);
#endif
