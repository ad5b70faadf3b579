#!/bin/sh
# A1 (three turns, cached prefill), A4 (Ctrl-C at the prompt), A9 (multi-line input),
# A10 (commands, bad commands, //text, Tab completion), in one 100x30 session.
. "$(dirname "$0")/lib.sh"

start 100 30 -m "$TINY" --temp 0 --max-new 40
check "A1: banner shown" wait_for "gemmachat · tiny-chat"
check "A1: status bar on the last row: model, greedy, context, idle" \
    sh -c "tmux -L '$SOCK' capture-pane -p -t t | tail -n 1 | grep -q 'tiny-chat │ greedy .*ctx 0/4096 (0%) .*idle'"
check "A1: cursor after the prompt on the input row" test "$(cursor)" = "2,28"

check "A1: first reply" send "hello"
c1=$(ctx_used)
check "A1: second reply" send "how are you?"
c2=$(ctx_used)
check "A1: third reply" send "tell me a joke"
lit "/stats"
keys Enter
check "A1: /stats lists three turns" wait_for "turn 3: prefill"
# turns 2 and 3 find everything before them in the cache
t2=$(screen | sed -n 's/.*turn 2: prefill [0-9]* new \/ \([0-9]*\) cached.*/\1/p')
t3=$(screen | sed -n 's/.*turn 3: prefill [0-9]* new \/ \([0-9]*\) cached.*/\1/p')
check "A1: turn 2 prefill cached = context after turn 1 ($t2 = $c1)" test "$t2" = "$c1"
check "A1: turn 3 prefill cached = context after turn 2 ($t3 = $c2)" test "$t3" = "$c2"
check "A1: three user messages on screen" sh -c "tmux -L '$SOCK' capture-pane -p -S - -t t | grep -c '^› \(hello\|how are you?\|tell me a joke\)' | grep -qx 3"

# A10: commands change settings; bad ones cost nothing
lit "/temp 0.7"
keys Enter
check "A10: /temp 0.7 shows in the status bar" wait_for "T0.7"
lit "/settings"
keys Enter
check "A10: /settings shows the temperature" wait_for "0.7"
before=$(ctx_used)
lit "/temp abc"
keys Enter
check "A10: bad argument is a one-line error" wait_for "! /temp: "
lit "/nosuch"
keys Enter
check "A10: unknown command is an error" wait_for "! unknown command /nosuch"
check "A10: the model was not called (context $before unchanged)" test "$(ctx_used)" = "$before"
check "A10: /temp unchanged by the bad value" sh -c "tmux -L '$SOCK' capture-pane -p -t t | tail -n 1 | grep -q 'T0.7'"
lit "/temp 0"
keys Enter
wait_for "greedy" > /dev/null
check "A10: //hello sends /hello" send "//hello"
check "A10: the message shown is /hello" sh -c "tmux -L '$SOCK' capture-pane -p -t t | grep -qx '› /hello'"
lit "/te"
keys Tab
check "A10: Tab completes /te to /temp" wait_for "› /temp"
check "A10: completion adds a space (cursor at 8)" test "$(cursor | cut -d, -f1)" = "8"
keys C-u
mkdir -p "$TMPD/d"
: > "$TMPD/d/compl-file.json"
lit "/save $TMPD/d/compl-f"
keys Tab
check "A10: Tab completes a file path" wait_for "› /save $TMPD/d/compl-file.json"

# A4: Ctrl-C with text clears it; at an empty prompt it warns, then quits
keys C-u
lit "some text"
wait_for "› some text" > /dev/null
keys C-c
check "A4: Ctrl-C with text clears the input" wait_gone "› some text"
check "A4: no quit hint for that" sh -c "! tmux -L '$SOCK' capture-pane -p -t t | grep -q 'Ctrl-C again'"

# A9: a, Alt-Enter, b, Ctrl-J, c, Enter is one message a\nb\nc
lit "a"
keys M-Enter
lit "b"
keys C-j
lit "c"
check "A9: the input grows to three rows" wait_for "  c"
before=$(snap)
keys Enter
turn_done "$before" > /dev/null
check "A9: one message of three lines" \
    sh -c "tmux -L '$SOCK' capture-pane -p -t t | grep -A2 '^› a$' | tr '\n' '|' | grep -q '^› a|  b|  c|'"

keys C-c
check "A4: Ctrl-C at an empty prompt shows the quit hint" wait_for "Ctrl-C again or Ctrl-D to quit"
keys C-c
check "A4: a second Ctrl-C exits 0" test "$(wait_exit)" = "0"
check "A4/A23: terminal restored after double Ctrl-C" terminal_restored
f=$(autosave)
check "A1: the autosave parses" sh -c "'$GC' -m '$TINY' --load '$f' -p /stats > '$TMPD/stats' 2>&1"
check "A9: saved as one message a\\nb\\nc" grep -qF '"a\nb\nc"' "$f"
check "A1: no U+FFFD on screen" no_fffd
finish
