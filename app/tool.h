/* The subcommands of bin/gemmatool (see ../shared/spec/cli.md); each returns the process exit code. */
#ifndef TOOL_H
#define TOOL_H
int tool_logits(int argc, char **argv);
int tool_chat(int argc, char **argv);
int tool_tokenize(int argc, char **argv);
int tool_detokenize(int argc, char **argv);
int tool_render(int argc, char **argv);
int tool_synth(int argc, char **argv);
int tool_bench(int argc, char **argv);
#endif
