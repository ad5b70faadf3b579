/* bin/gemmatool — the engine's command-line tool; the interface is the contract of spec/cli.md. */
#include <stdio.h>
#include <string.h>
#include "app/tool.h"

static const struct { const char *name; int (*fn)(int, char **); const char *help; } cmds[] = {
    {"logits", tool_logits, "--model DIR --ids IDS [--prefill N] --out FILE"},
    {"chat", tool_chat, "--model DIR --turn IDS [--turn IDS ...] --max-new N [--stop IDS] [--out FILE]"},
    {"tokenize", tool_tokenize, "--tokenizer FILE|DIR [--jsonl]"},
    {"detokenize", tool_detokenize, "--tokenizer FILE|DIR [--jsonl]"},
    {"render", tool_render, "--tokenizer FILE|DIR [--template FILE] --jsonl"},
    {"synth", tool_synth, "--shape e2b|e4b|26b-a4b|31b --out DIR [--dtype bf16|f32] [--seed N]"},
    {"bench", tool_bench, "--model DIR [--prompt N] [--gen N] [--threads N] [--quant TYPE] [--json]"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: gemmatool COMMAND [options]\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  gemmatool %-10s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "gemmatool: unknown command '%s' (try --help)\n", argv[1]);
    return 2;
}
