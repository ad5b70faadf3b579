/* placeholder until this subcommand lands */
#include <stdio.h>
#include "app/tool.h"
int tool_logits(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "gemmatool: tool_logits is not built yet\n"); return 1; }
int tool_chat(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "gemmatool: tool_chat is not built yet\n"); return 1; }
