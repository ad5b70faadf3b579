#!/bin/sh
# A15 (SIGTERM and SIGHUP save the chat and restore the terminal) and A23 (a fatal signal still
# restores termios and the cursor).  /quit, Ctrl-D and double Ctrl-C are covered by the other tests.
. "$(dirname "$0")/lib.sh"

# SIGTERM in the middle of a reply
start 80 24 -m "$LONG" --temp 0 --max-new 2000
wait_for "gemmachat" > /dev/null
lit "hello"
keys Enter
wait_for "generating" > /dev/null
kill -TERM "$(app_pid)"
check "A15: SIGTERM exits with 143" test "$(wait_exit)" = "143"
check "A15: terminal restored after SIGTERM" terminal_restored
check "A15: stty -a shows icanon echo" sh -c "grep -q ' icanon' '$TMPD/stty.a' && grep -q ' echo ' '$TMPD/stty.a'"
f=$(autosave)
check "A15: the chat was saved, the cut reply included" grep -q '"stop":"stopped_early"' "$f"
check "A15: the saved chat loads" sh -c "'$GC' -m '$LONG' --load '$f' -p /stats > /dev/null 2>&1"

# SIGHUP at the prompt
start 80 24 -m "$TINY" --temp 0 --max-new 8
wait_for "gemmachat" > /dev/null
send "hello" > /dev/null
kill -HUP "$(app_pid)"
check "A15: SIGHUP exits with 129" test "$(wait_exit)" = "129"
check "A15: terminal restored after SIGHUP" terminal_restored
check "A15: the chat was saved" grep -q '"text":"hello"' "$(autosave)"

# SIGSEGV: the handler restores what it can, then the default action runs
start 80 24 -m "$TINY" --temp 0
wait_for "gemmachat" > /dev/null
lit "typed"
wait_for "› typed" > /dev/null
kill -SEGV "$(app_pid)"
check "A23: SIGSEGV ends the program (139)" test "$(wait_exit)" = "139"
check "A23: terminal restored after SIGSEGV" terminal_restored
finish
