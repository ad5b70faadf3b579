#!/bin/sh
# A19 (NO_COLOR, TERM=dumb, themes), A18 (no terminal: plain output, nothing blocks, SIGPIPE, a bad
# model directory) and A21 (multi-byte text on screen and in plain output, never U+FFFD).
. "$(dirname "$0")/lib.sh"
ESC=$(printf '\033')
FFFD=$(printf '\357\277\275')
# SGR colour codes (39 and 49 only reset to the default colours)
COLOUR="$ESC\[\([0-9;]*;\)\{0,1\}\(3[0-8]\|4[0-8]\|9[0-7]\|10[0-7]\)[;m]"

# A19: without NO_COLOR the default theme uses colour (so the NO_COLOR check below can fail)
start 80 24 -m "$TINY" --temp 0 --max-new 16
wait_for "gemmachat" > /dev/null
tm capture-pane -p -e -t t > "$TMPD/esc"
check "A19: colour by default" grep -aq "$COLOUR" "$TMPD/esc"
lit "/theme light"
keys Enter
check "A19: /theme switches live" wait_for "› /theme light"
tm capture-pane -p -e -t t > "$TMPD/esc2"
check "A19: the new theme's colours are drawn" sh -c "! cmp -s '$TMPD/esc' '$TMPD/esc2'"
lit "/theme nosuch"
keys Enter
check "A19: /theme with a bad name is an error" wait_for "! /theme: theme 'nosuch' not found"
# A21: multi-byte text, echoed and answered, never shows U+FFFD
send "漢字テスト 😀 é — ok?" > /dev/null
check "A21: the message is shown as typed" wait_for "› 漢字テスト 😀 é — ok?"
check "A21: no U+FFFD on screen" no_fffd
keys C-d
wait_exit > /dev/null

# A19: NO_COLOR: attributes only, no colour escapes
RUN_ENV="NO_COLOR=1" start 80 24 -m "$TINY" --temp 0 --max-new 16
wait_for "gemmachat" > /dev/null
send "hello" > /dev/null
tm capture-pane -p -e -t t > "$TMPD/esc"
check "A19: NO_COLOR: no colour escapes" sh -c "! grep -aq '$COLOUR' '$TMPD/esc'"
check "A19: NO_COLOR: the status bar still stands out (reverse video)" grep -aq "$ESC\[[0-9;]*7m" "$TMPD/esc"
keys C-d
wait_exit > /dev/null

# A19: TERM=dumb falls back to plain mode: no escapes at all
RUN_ENV="TERM=dumb" start 80 24 -m "$TINY" --temp 0 --max-new 16
sleep 0.5
lit "hello"
keys Enter
sleep 1
tm capture-pane -p -e -t t > "$TMPD/esc"
check "A19: TERM=dumb: plain mode echoes without escapes" sh -c "grep -q hello '$TMPD/esc' && ! grep -aq '$ESC' '$TMPD/esc'"
keys C-d
check "A19: TERM=dumb: Ctrl-D ends it" test "$(wait_exit)" = "0"
check "A19: TERM=dumb: terminal as before" cmp -s "$TMPD/stty.before" "$TMPD/stty.after"

# A18: no terminal
t0=$(ms)
echo hi | timeout 20 "$GC" -m "$TINY" --temp 0 --max-new 16 > "$TMPD/out" 2> "$TMPD/err"
rc=$?
check "A18: piped stdin answers and exits 0" test "$rc" = 0
check "A18: no escape codes in the output" sh -c "! grep -aq '$ESC' '$TMPD/out'"
check "A18: output ends with a newline" test "$(tail -c 1 "$TMPD/out" | od -An -c | tr -d ' ')" = '\n'
check "A21: no U+FFFD in plain output" sh -c "! grep -aq '$FFFD' '$TMPD/out'"
timeout 20 "$GC" -m "$TINY" -p hi --max-new 16 < /dev/null > "$TMPD/out" 2> "$TMPD/err"
check "A18: -p with stdin at /dev/null does not wait" test "$?" = 0
timeout 20 sh -c "'$GC' -m '$TINY' -p hi --max-new 64 | head -c1 > '$TMPD/one'" 2> "$TMPD/err"
check "A18: a closed pipe ends it quietly" sh -c "test \$(wc -c < '$TMPD/one') = 1 && ! grep -q . '$TMPD/err'"
timeout 20 "$GC" -m "$TMPD/nosuch-model" -p hi > "$TMPD/out" 2> "$TMPD/err"
rc=$?
check "A18: a bad model directory fails naming it" sh -c "test $rc -ne 0 && test $rc -ne 124 && grep -q 'nosuch-model' '$TMPD/err'"
check "A18: all of it within the time limits" test $(( $(ms) - t0 )) -lt $((60000 * SCALE))
finish
