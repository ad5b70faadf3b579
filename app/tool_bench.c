/* placeholder until this subcommand lands */
#include <stdio.h>
#include "app/tool.h"
int tool_synth(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "gemmatool: tool_synth is not built yet\n"); return 1; }
int tool_bench(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "gemmatool: tool_bench is not built yet\n"); return 1; }
