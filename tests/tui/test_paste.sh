#!/bin/sh
# A8 (a 10 KB bracketed paste is one message, shown collapsed, recalled whole from history),
# A3 (Ctrl-C during its prefill gives it back), A20 (history across restarts).
. "$(dirname "$0")/lib.sh"
FAST="$GC_TESTDATA/models/tiny-moe"   # prefills 10 KB in about a second

# 128 lines of 79 characters and a newline: 10240 bytes
i=0
: > "$TMPD/paste"
while [ $i -lt 128 ]; do
    printf 'line %03d the quick brown fox jumps over the lazy dog while pasting ten kilobytes abcd\n' $i |
        cut -c1-79 >> "$TMPD/paste"
    i=$((i + 1))
done
# The user messages of the autosave, newlines unescaped, one per line of output: their byte counts.
user_sizes() {
    grep '"role":"user"' "$(autosave)" | sed 's/.*"text":"\([^"]*\)".*/\1/; s/\\n/N/g' |
        while IFS= read -r t; do printf '%s' "$t" | wc -c; done | tr '\n' ' '
}

start 100 30 -m "$FAST" --temp 0 --max-new 4
wait_for "gemmachat" > /dev/null
check "A8: the paste file is 10240 bytes" test "$(wc -c < "$TMPD/paste")" -eq 10240
tm load-buffer "$TMPD/paste"
tm paste-buffer -p -t t
check "A8: the input shows the paste collapsed" wait_for "› [pasted 128 lines, 10.0 KB]"
before=$(snap)
keys Enter
check "A8: it is sent and answered" turn_done "$before"
check "A8: exactly one user message of 10240 bytes" test "$(user_sizes)" = "10240 "
keys Up
check "A8: history recall shows it collapsed" wait_for "› [pasted 128 lines, 10.0 KB]"
before=$(snap)
keys Enter
turn_done "$before" > /dev/null
check "A8: the recalled entry is the whole 10240 bytes" test "$(user_sizes)" = "10240 10240 "
# A20: a multi-line entry, then quit
lit "first line"
keys C-j
lit "second line"
before=$(snap)
keys Enter
turn_done "$before" > /dev/null
lit "/quit"
keys Enter
check "A23: /quit exits 0" test "$(wait_exit)" = "0"
check "A23: terminal restored after /quit" terminal_restored
h="$XDG_STATE_HOME/gemmachat/history"
check "A20: history file mode 0600" test "$(stat -c %a "$h")" = "600"
# over the cap: the next start keeps the newest 1000 entries
i=0
while [ $i -lt 1200 ]; do echo "old entry $i"; i=$((i + 1)); done > "$TMPD/old"
cat "$h" >> "$TMPD/old"
cp "$TMPD/old" "$h"

start 100 30 -m "$TINY" --temp 0 --max-new 8
wait_for "gemmachat" > /dev/null
keys Up
check "A20: after a restart Up recalls the last entry" wait_for "› /quit"
keys Up
check "A20: and the multi-line one before it" wait_for "› first line"
check "A20: both its lines" wait_for "  second line"
check "A20: the file is trimmed to 1000 entries" test "$(wc -l < "$h")" -eq 1000
check "A20: the newest entries kept" sh -c "tail -n 2 '$h' | grep -q 'first line'"
keys C-u

# A3: Ctrl-C while the paste is prefilled: back to idle quickly, nothing in the cache, text back
before=$(ctx_used)
tm load-buffer "$TMPD/paste"
tm paste-buffer -p -t t
wait_for "› [pasted 128 lines" > /dev/null
keys Enter
check "A3: the paste is prefilled" wait_for "prefill" 10
t0=$(ms)
keys C-c
wait_for "idle" > /dev/null
t=$(( $(ms) - t0 ))
check "A3: idle again $t ms after Ctrl-C (< 500 ms and capture time)" test "$t" -lt $((600 * SCALE))
check "A3: the cache is as before the paste ($before)" test "$(ctx_used)" = "$before"
check "A3: the pasted text is back in the input" wait_for "› [pasted 128 lines, 10.0 KB]"
check "A3: the cancelled message is not in the transcript" sh -c "! tmux -L '$SOCK' capture-pane -p -t t | grep -aq 'line 127'"
keys C-c
check "A3: Ctrl-C then clears it" wait_gone "[pasted"
keys C-c
keys C-c
check "A3: two more quit" test "$(wait_exit)" = "0"
finish
