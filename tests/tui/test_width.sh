#!/bin/sh
# A5 (resizes in the middle of a reply) and A6 (wide and combining characters in the input).
. "$(dirname "$0")/lib.sh"

# fits W: soon, no captured line is wider than W cells and the status bar is on the last row.
fits() {
    _end=$(( $(ms) + 2000 * SCALE ))
    while :; do
        _w=$(screen | wc -L)
        [ "$_w" -le "$1" ] && status_bar | grep -q "ctx .*\(idle\|generating\|prefill\)" && return 0
        [ "$(ms)" -gt "$_end" ] && { why "widest line $_w cells in a pane of $1; last row: $(status_bar)"; return 1; }
        sleep 0.03
    done
}
# Letters and digits only: what Markdown styling and wrapping cannot change.
letters() { tr -cd '[:alnum:]'; }

start 100 30 -m "$LONG" --temp 0 --max-new 300
tm set -s set-clipboard on
wait_for "gemmachat" > /dev/null
lit "hello"
keys Enter
wait_for "generating" > /dev/null
tm resize-window -t t -x 40 -y 12
check "A5: 40x12 mid-reply: rows fit, status bar last" fits 40
tm resize-window -t t -x 120 -y 40
check "A5: 120x40: rows fit, status bar last" fits 120
tm resize-window -t t -x 20 -y 6
check "A5: 20x6 says the terminal is too small" wait_for "too small"
check "A5: 20x6: nothing wider than the pane" test "$(screen | wc -L)" -le 20
tm resize-window -t t -x 120 -y 40
check "A5: back to 120x40: recovers" wait_for "gemmachat · tiny-dense"
check "A5: the reply completes" wait_for "idle" 30
check "A5: 120x40 at the end: rows fit" fits 120
# The text on screen is the reply's text: /copy puts it (OSC 52) in a tmux buffer to compare.
lit "/copy"
keys Enter
check "A5: /copy sends the reply through OSC 52" wait_for "copied"
tm show-buffer > "$TMPD/copied" 2>/dev/null
screen | sed -n '/^› hello$/,/^› \/copy$/p' | sed '1d;$d' > "$TMPD/shown"
check "A5: the reply on screen after the resizes is the transcript's text" \
    test "$(letters < "$TMPD/shown")" = "$(letters < "$TMPD/copied")"
check "A5: the copied text is not empty" test -s "$TMPD/copied"
keys C-d
check "A5: exit 0" test "$(wait_exit)" = "0"
check "A5: terminal restored" terminal_restored

# A6: the cursor after each character is where its cells say; the status bar stays aligned.
start 60 12 -m "$TINY" --temp 0 --max-new 20
wait_for "gemmachat" > /dev/null
# each item: text, cells it adds
set -- 漢 2 字 2 テ 2 ス 2 ト 2 😀 2 " " 1 é 1 " " 1 e 1 "$(printf '\314\201')" 0 " " 1 👩 2 \
       "$(printf '\342\200\215')" 0 🚀 2 " " 1 "$(printf '\360\237\207\251')" 1 "$(printf '\360\237\207\252')" 1
x=2
bad=""
typed=""
while [ $# -gt 0 ]; do
    lit "$1"
    typed="$typed$1"
    x=$((x + $2))
    _end=$(( $(ms) + 2000 * SCALE ))
    while [ "$(cursor | cut -d, -f1)" != "$x" ] && [ "$(ms)" -lt "$_end" ]; do sleep 0.02; done
    [ "$(cursor | cut -d, -f1)" = "$x" ] || bad="$bad after '$1': $(cursor) not $x;"
    shift 2
done
check "A6: cursor cell after every character${bad:+ ($bad)}" test -z "$bad"
shown="› 漢字テスト😀 é e$(printf '\314\201') 👩🚀"
check "A6: the echo shows the characters (ZWJ not drawn)" wait_for "$shown 🇩🇪"
check "A6: the status bar's right edge stays at the last cell" test "$(status_bar | wc -L)" = 59
keys BSpace BSpace BSpace
check "A6: three Backspaces remove three characters" sh -c "sleep 0.2; tmux -L '$SOCK' capture-pane -p -t t | grep -qx '$shown'"
check "A6: cursor after them" test "$(cursor)" = "23,10"
check "A6: no stray bytes left" sh -c "! tmux -L '$SOCK' capture-pane -p -t t | grep -q '🚀.'"
before=$(snap)
lit " 🇩🇪"
keys Enter
turn_done "$before" > /dev/null
check "A6: the message is stored byte for byte" grep -qF "$typed" "$(autosave)"
keys C-d
wait_exit > /dev/null
check "A6: terminal restored" terminal_restored
finish
