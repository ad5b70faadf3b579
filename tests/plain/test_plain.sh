#!/bin/sh
# Plain mode of bin/gemmachat: byte-exact greedy replies of tiny-chat (expected text read from its
# golden.json), command errors, //text, EOF, SIGPIPE, Ctrl-C and exit codes.
G="$GC_BIN/gemmachat"
M="$GC_TESTDATA/models/tiny-chat"
E="$GC_TESTDATA/models/tiny-e"
T=$(mktemp -d)
export XDG_DATA_HOME="$T/data"   # the autosaves of --plain stay in here
trap 'rm -rf "$T"' EXIT

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1${2:+ — $2}"; }
check() { if [ "$2" = 1 ]; then pass "$1"; else fail "$1" "$3"; fi; }

# golden KEY I: the I-th string of the array KEY in golden.json, JSON escapes undone.
golden() {
  awk -v key="$1" -v idx="$2" '
    function unescape(s,   o, i, c) {
      o = ""
      for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\\") {
          c = substr(s, ++i, 1)
          if (c == "n") c = "\n"; else if (c == "t") c = "\t"; else if (c == "u") { c = "<\\u>"; i += 4 }
        }
        o = o c
      }
      return o
    }
    index($0, "\"" key "\": [") { inside = 1; n = 0; next }
    inside && $0 ~ /^ *\]/ { exit }
    inside { s = $0; sub(/^ *"/, "", s); sub(/",? *$/, "", s); if (n++ == idx) { printf "%s", unescape(s); exit } }
  ' "$M/golden.json"
}

U0=$(golden chat_users 0); U1=$(golden chat_users 1); U2=$(golden chat_users 2)
R0=$(golden chat_generated_text 0); R1=$(golden chat_generated_text 1); R2=$(golden chat_generated_text 2)
check "golden texts read" "$([ -n "$U0" ] && [ -n "$R2" ] && [ "$U1" != "$U2" ] && echo 1)" "users '$U0' replies '$R0'"
# The golden turns are greedy with at most 40 new tokens.  One thread: the tiny models run fastest so.
GREEDY="--temp 0 --max-new 40 --threads 1"

# -p: the reply and one newline on stdout, nothing on stderr
"$G" --threads 1 -m "$M" $GREEDY -p "$U0" > "$T/out" 2> "$T/err"; rc=$?
printf '%s\n' "$R0" > "$T/want"
check "-p exits 0" "$([ $rc = 0 ] && echo 1)" "rc $rc: $(head -c 300 "$T/err")"
check "-p reply byte for byte" "$(cmp -s "$T/out" "$T/want" && echo 1)" "got '$(cat "$T/out")'"
check "-p writes nothing to stderr" "$([ ! -s "$T/err" ] && echo 1)" "$(head -c 300 "$T/err")"
check "-p output has no escape codes" "$(grep -q "$(printf '\033')" "$T/out" || echo 1)"

# --plain: three turns on one conversation, as the golden file ran them
printf '%s\n%s\n%s\n' "$U0" "$U1" "$U2" | "$G" --threads 1 -m "$M" $GREEDY --plain > "$T/out" 2> "$T/err"; rc=$?
printf '%s\n%s\n%s\n' "$R0" "$R1" "$R2" > "$T/want"
check "--plain three turns exit 0" "$([ $rc = 0 ] && echo 1)" "rc $rc"
check "--plain three greedy replies byte for byte" "$(cmp -s "$T/out" "$T/want" && echo 1)" "got '$(cat "$T/out")'"
check "--plain writes nothing to stderr" "$([ ! -s "$T/err" ] && echo 1)" "$(head -c 300 "$T/err")"

# stdin not a terminal, no --plain: all of stdin is one prompt
printf '%s\n' "$U0" | "$G" --threads 1 -m "$M" $GREEDY > "$T/out" 2> "$T/err"; rc=$?
printf '%s\n' "$R0" > "$T/want"
check "piped stdin is one prompt" "$([ $rc = 0 ] && cmp -s "$T/out" "$T/want" && echo 1)" "rc $rc, got '$(cat "$T/out")'"

# unknown command and bad argument: one error line each on stderr, the model is not called
printf '/nosuch\n/temp abc\n/stats\n' | "$G" --threads 1 -m "$M" --plain > "$T/out" 2> "$T/err"; rc=$?
check "bad commands do not end --plain" "$([ $rc = 0 ] && echo 1)" "rc $rc"
check "unknown command: one error line" "$([ "$(grep -c 'unknown command /nosuch' "$T/err")" = 1 ] && echo 1)" "$(cat "$T/err")"
check "bad argument: one error line" "$([ "$(grep -c "^/temp: .*'abc'" "$T/err")" = 1 ] && [ "$(wc -l < "$T/err")" = 2 ] && echo 1)" "$(cat "$T/err")"
check "bad commands never reach the model" "$(grep -q '^session: prefill 0 new / 0 cached, 0 generated' "$T/out" && echo 1)" "$(cat "$T/out")"
"$G" --threads 1 -m "$M" -p /nosuch > "$T/out" 2> "$T/err"; rc=$?
check "-p with an unknown command exits 2" "$([ $rc = 2 ] && [ ! -s "$T/out" ] && echo 1)" "rc $rc"

# settings commands change what the next turn does
printf '/max-new 3\n%s\n/temp 0.5\n/settings\n' "$U0" | "$G" --threads 1 -m "$M" --temp 0 --plain > "$T/out" 2> "$T/err"
check "/max-new cuts the next reply" "$(printf '%s' "$R0" | grep -qF "$(sed -n 2p "$T/out")" && [ "$(sed -n 2p "$T/out" | wc -c)" -lt 20 ] && echo 1)" "$(sed -n 2p "$T/out")"
check "/settings shows the new values and the model defaults" "$(grep -q '^temp     0.5 (model default 1)' "$T/out" && grep -q '^max-new  3' "$T/out" && echo 1)" "$(cat "$T/out")"

# //text sends a message that starts with "/"
printf '//hello there\n/edit\n' | "$G" --threads 1 -m "$M" --temp 0 --max-new 5 --plain > "$T/out" 2> "$T/err"; rc=$?
check "//text is sent as a message starting with /" "$([ $rc = 0 ] && grep -qx '/hello there' "$T/out" && ! grep -q unknown "$T/err" && echo 1)" "$(cat "$T/out" "$T/err")"

# /retry and /undo by cache truncation: the retry prefills nothing, the undo frees the exchange
printf '%s\n/retry\n/stats\n/undo\n/context\n' "$U0" | "$G" --threads 1 -m "$M" $GREEDY --plain > "$T/out" 2> "$T/err"
check "/retry gives the same greedy reply" "$([ "$(grep -cxF "$R0" "$T/out")" = 2 ] && echo 1)" "$(cat "$T/out")"
check "/retry prefills nothing" "$(grep -q '^turn 1: prefill 0 new / 15 cached' "$T/out" && echo 1)" "$(grep '^turn' "$T/out")"
check "/undo empties the context but the system part" "$(grep -q 'removed the last exchange; context ' "$T/out" && grep -q '^  history          0' "$T/out" && echo 1)" "$(cat "$T/out")"

# transcripts: /save, --load continues, --resume takes the newest chat, --replay regenerates
printf '%s\n/save %s\n' "$U0" "$T/s.json" | "$G" --threads 1 -m "$M" $GREEDY --plain > "$T/out" 2> "$T/err"
check "/save in plain mode" "$([ -s "$T/s.json" ] && grep -q "^saved $T/s.json" "$T/out" && echo 1)" "$(cat "$T/out" "$T/err")"
printf '%s\n' "$U1" | "$G" --threads 1 -m "$M" --plain --load "$T/s.json" > "$T/out" 2> "$T/err"; rc=$?
printf '%s\n' "$R1" > "$T/want"
check "--load continues the chat: golden turn 2" "$([ $rc = 0 ] && cmp -s "$T/out" "$T/want" && echo 1)" "rc $rc, got '$(cat "$T/out" "$T/err")'"
mkdir -p "$T/xdg/gemmachat/chats" && cp "$T/s.json" "$T/xdg/gemmachat/chats/chat-1.json"
printf '%s\n' "$U1" | XDG_DATA_HOME="$T/xdg" "$G" --threads 1 -m "$M" --plain --resume > "$T/out" 2> "$T/err"; rc=$?
check "--resume continues the newest chat" "$([ $rc = 0 ] && cmp -s "$T/out" "$T/want" && echo 1)" "rc $rc, got '$(cat "$T/out" "$T/err")'"
"$G" --threads 1 -m "$M" --replay "$T/s.json" --save "$T/r.json" > "$T/out" 2> "$T/err"; rc=$?
printf '%s\n' "$R0" > "$T/want"
check "--replay reproduces the reply byte for byte" "$([ $rc = 0 ] && cmp -s "$T/out" "$T/want" && [ ! -s "$T/err" ] && echo 1)" "rc $rc: $(cat "$T/err")"
"$G" --threads 1 -m "$M" --replay "$T/r.json" > "$T/out" 2> "$T/err"; rc=$?
check "--replay --save writes a transcript that replays too" "$([ $rc = 0 ] && cmp -s "$T/out" "$T/want" && echo 1)" "rc $rc: $(cat "$T/err")"
"$G" --threads 1 -m "$M" --replay "$T/s.json" --max-new 5 > "$T/out" 2> "$T/err"; rc=$?
check "--replay names the first divergent token" "$([ $rc = 1 ] && grep -q 'differs from the saved one at token 5 ' "$T/err" && echo 1)" "rc $rc: $(cat "$T/err")"
"$G" --threads 1 -m "$M" --load "$T/no-such.json" --plain < /dev/null > "$T/out" 2> "$T/err"; rc=$?
check "--load of a missing file exits 1 naming it" "$([ $rc = 1 ] && grep -q "$T/no-such.json" "$T/err" && echo 1)" "rc $rc: $(cat "$T/err")"

# EOF: an empty stdin ends --plain at once; a last line without newline is still a turn
"$G" --threads 1 -m "$M" --plain < /dev/null > "$T/out" 2> "$T/err"; rc=$?
check "--plain at EOF exits 0 with no output" "$([ $rc = 0 ] && [ ! -s "$T/out" ] && echo 1)" "rc $rc"
printf '%s' "$U0" | "$G" --threads 1 -m "$M" $GREEDY --plain > "$T/out" 2> "$T/err"
printf '%s\n' "$R0" > "$T/want"
check "a last line without newline is answered" "$(cmp -s "$T/out" "$T/want" && echo 1)" "got '$(cat "$T/out")'"
"$G" --threads 1 -m "$M" < /dev/null > "$T/out" 2> "$T/err"; rc=$?
check "empty piped stdin is a usage error" "$([ $rc = 2 ] && [ -s "$T/err" ] && [ ! -s "$T/out" ] && echo 1)" "rc $rc"
"$G" --threads 1 -m "$M" -p "$U0" $GREEDY < /dev/null > "$T/out" 2> "$T/err"; rc=$?
check "-p ignores stdin" "$([ $rc = 0 ] && cmp -s "$T/out" "$T/want" && echo 1)" "rc $rc"

# a closed stdout ends quietly with status 0
( "$G" --threads 1 -m "$M" $GREEDY -p "$U0" 2> "$T/err"; echo $? > "$T/rc" ) | head -c1 > "$T/out"
check "| head -c1 exits 0 quietly" "$([ "$(cat "$T/rc")" = 0 ] && [ ! -s "$T/err" ] && [ "$(cat "$T/out")" = "$(printf '%s' "$R0" | head -c1)" ] && echo 1)" "rc $(cat "$T/rc"): $(cat "$T/err")"
( "$G" --threads 1 -m "$M" $GREEDY -p "$U0" 2> "$T/err"; echo $? > "$T/rc" ) | true
check "a stdout closed before the reply exits 0 quietly" "$([ "$(cat "$T/rc")" = 0 ] && [ ! -s "$T/err" ] && echo 1)" "rc $(cat "$T/rc"): $(cat "$T/err")"

# Ctrl-C during a long reply stops the reply, not the program
# (tiny-e's random weights run on for thousands of tokens; the signal comes once the reply streams)
"$G" --threads 1 -m "$E" --temp 0 --max-new 4000 -p "Hello there" > "$T/long" 2> "$T/longerr" &
pid=$!
i=0
while [ ! -s "$T/long" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $pid 2>/dev/null
wait $pid; rc=$?
check "Ctrl-C stops the reply: exit 0" "$([ $rc = 0 ] && echo 1)" "rc $rc"
check "Ctrl-C marks the reply interrupted" "$(grep -q 'interrupted' "$T/longerr" && echo 1)" "$(tail -c 300 "$T/longerr")"
check "the partial reply ends with a newline" "$([ -s "$T/long" ] && [ "$(tail -c1 "$T/long" | od -An -c | tr -d ' ')" = '\n' ] && echo 1)"

# exit codes and messages
"$G" -m "$T/no-such-model" -p hi > "$T/out" 2> "$T/err"; rc=$?
check "a bad model dir exits 1 naming the path" "$([ $rc = 1 ] && grep -q "$T/no-such-model" "$T/err" && [ "$(wc -l < "$T/err")" = 1 ] && echo 1)" "rc $rc: $(cat "$T/err")"
"$G" --threads 1 -m "$M" --no-such-option > "$T/out" 2> "$T/err"; rc=$?
check "an unknown option exits 2" "$([ $rc = 2 ] && grep -q -- '--no-such-option' "$T/err" && echo 1)" "rc $rc"
"$G" --threads 1 -m "$M" --temp hot -p hi > "$T/out" 2> "$T/err"; rc=$?
check "a bad option value exits 2" "$([ $rc = 2 ] && grep -q -- '--temp' "$T/err" && echo 1)" "rc $rc"
"$G" --threads 1 -m "$M" -p hi --plain > "$T/out" 2> "$T/err"; rc=$?
check "-p with --plain exits 2" "$([ $rc = 2 ] && echo 1)" "rc $rc"
"$G" --help > "$T/out" 2> "$T/err"; rc=$?
check "--help exits 0 with the usage" "$([ $rc = 0 ] && grep -q -- '--plain' "$T/out" && echo 1)" "rc $rc"
"$G" $GREEDY -p "$U0" > "$T/out" 2> "$T/err"; rc=$?
printf '%s\n' "$R0" > "$T/want"
check "without -m the demo model answers" "$([ $rc = 0 ] && cmp -s "$T/out" "$T/want" && echo 1)" "rc $rc: $(cat "$T/err")"
exit 0
