/* placeholder until this subcommand lands */
#include <stdio.h>
#include "app/tool.h"
int tool_tokenize(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "gemmatool: tool_tokenize is not built yet\n"); return 1; }
int tool_detokenize(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "gemmatool: tool_detokenize is not built yet\n"); return 1; }
int tool_render(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "gemmatool: tool_render is not built yet\n"); return 1; }
