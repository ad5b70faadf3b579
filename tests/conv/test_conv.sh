#!/bin/sh
# Conversations in plain mode (bin/gemmachat --plain): autosave, /save onto a full disk and a read-only
# directory, SIGTERM and SIGHUP, malformed transcripts through --load and /load, /sessions and /load N,
# --replay and /replay of a seeded chat that used /retry and /temp mid-way, --no-autosave.
G="$GC_BIN/gemmachat"
M="$GC_TESTDATA/models/tiny-chat"
LONG="$GC_TESTDATA/models/tiny-dense"        # random weights: replies run until --max-new
T=$(mktemp -d)
export XDG_DATA_HOME="$T/data" HOME="$T/home"
CHATS="$XDG_DATA_HOME/gemmachat/chats"
trap 'rm -rf "$T"' EXIT
RUN="--threads 1 -m $M"

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1${2:+ — $2}"; }
check() { if [ "$2" = 1 ]; then pass "$1"; else fail "$1" "$3"; fi; }
newest() { ls -t "$CHATS"/*.json 2>/dev/null | head -n 1; }
# the JSON transcript's messages, one per line (the writer puts each on its own line)
roles() { grep -c '^{"role":' "$1"; }

# --plain autosaves after every turn; -p and piped input do not
printf 'Good morning!\nWhat is a cat?\n' | "$G" $RUN --temp 0 --max-new 20 --plain > "$T/out" 2> "$T/err"; rc=$?
A=$(newest)
check "--plain autosaves the chat in \$XDG_DATA_HOME/gemmachat/chats" "$([ $rc = 0 ] && [ -n "$A" ] && [ "$(roles "$A")" = 4 ] && echo 1)" "rc $rc, '$A': $(cat "$T/err")"
check "the autosave is private (0600) in a 0700 directory" "$([ "$(stat -c %a "$A")" = 600 ] && [ "$(stat -c %a "$CHATS")" = 700 ] && echo 1)"
check "a clean exit leaves the journal holding only its header" "$([ "$(wc -l < "$A.journal")" = 1 ] && echo 1)" "$(wc -l < "$A.journal") lines"
n=$(ls "$CHATS" | wc -l)
"$G" $RUN --temp 0 --max-new 5 -p hi > /dev/null 2>&1
printf 'hi\n' | "$G" $RUN --temp 0 --max-new 5 > /dev/null 2>&1
printf 'hi\n' | "$G" $RUN --temp 0 --max-new 5 --plain --no-autosave > /dev/null 2>&1
check "-p, piped input and --no-autosave save nothing" "$([ "$(ls "$CHATS" | wc -l)" = "$n" ] && echo 1)" "$(ls "$CHATS")"

# /save onto /dev/full: one clear error, the chat goes on
printf 'Good morning!\n/save /dev/full\nWhat is a cat?\n' | "$G" $RUN --temp 0 --max-new 10 --plain > "$T/out" 2> "$T/err"; rc=$?
check "/save /dev/full: an error naming it, 'No space left'" "$(grep -q '^/save: /dev/full: .*No space left' "$T/err" && [ "$(grep -c '/dev/full' "$T/err")" = 1 ] && echo 1)" "$(cat "$T/err")"
check "/save /dev/full: the chat goes on" "$([ $rc = 0 ] && [ "$(wc -l < "$T/out")" = 2 ] && [ "$(roles "$(newest)")" = 4 ] && echo 1)" "rc $rc: $(cat "$T/out")"
check "/dev/full is still a device" "$([ -c /dev/full ] && echo 1)"

# /save into a read-only directory: the old file stays as it was
mkdir -p "$T/ro"
printf 'Good morning!\n/save %s\n' "$T/ro/keep.json" | "$G" $RUN --temp 0 --max-new 10 --plain > /dev/null 2>&1
cp "$T/ro/keep.json" "$T/keep.orig"
if [ "$(id -u)" = 0 ]; then   # root writes through permissions: a read-only bind mount in a private namespace
  ro() { unshare -m sh -c 'mount --make-rprivate / && mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"' "$T/ro" "$@"; }
else
  chmod 555 "$T/ro"
  ro() { "$@"; }
fi
printf 'What is a cat?\n/save %s\nTell me something about computers.\n' "$T/ro/keep.json" |
  ro "$G" $RUN --temp 0 --max-new 10 --plain > "$T/out" 2> "$T/err"; rc=$?
chmod 755 "$T/ro"
check "/save into a read-only directory: an error naming the file" "$(grep -q "^/save: $T/ro/keep.json" "$T/err" && echo 1)" "$(cat "$T/err")"
check "/save into a read-only directory: the old file is intact" "$(cmp -s "$T/ro/keep.json" "$T/keep.orig" && [ "$(ls "$T/ro")" = keep.json ] && echo 1)" "$(ls "$T/ro")"
check "/save into a read-only directory: the chat goes on" "$([ $rc = 0 ] && [ "$(wc -l < "$T/out")" = 2 ] && echo 1)" "rc $rc: $(cat "$T/out")"

# SIGTERM during a reply: the reply stops, is kept (stopped early) and saved; exit 128+15
rm -rf "$CHATS" "$T/out"
mkfifo "$T/in"
"$G" --threads 1 -m "$LONG" --temp 0 --max-new 20000 --plain < "$T/in" > "$T/out" 2> "$T/err" &
pid=$!
exec 3> "$T/in"
printf 'Tell me a long story\n' >&3
i=0; while [ ! -s "$T/out" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $pid; wait $pid; rc=$?
exec 3>&-
A=$(newest)
check "SIGTERM mid-reply: exit 143" "$([ $rc = 143 ] && echo 1)" "rc $rc: $(tail -c 300 "$T/err")"
check "SIGTERM mid-reply: the partial reply is in the snapshot, stopped early" "$([ -n "$A" ] && [ "$(roles "$A")" = 2 ] && grep -q '"stop":"stopped_early"' "$A" && [ "$(wc -l < "$A.journal")" = 1 ] && echo 1)" "'$A'"

# SIGHUP while waiting for input, after a setting changed: saved, exit 128+1
rm -rf "$CHATS" "$T/in" "$T/out"
mkfifo "$T/in"
"$G" $RUN --temp 0 --max-new 10 --plain < "$T/in" > "$T/out" 2> "$T/err" &
pid=$!
exec 3> "$T/in"
printf 'Good morning!\n/system Answer briefly.\n' >&3
i=0; while ! grep -q 'system prompt set' "$T/out" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
kill -HUP $pid; wait $pid; rc=$?
exec 3>&-
A=$(newest)
check "SIGHUP while idle: exit 129" "$([ $rc = 129 ] && echo 1)" "rc $rc: $(cat "$T/err")"
check "SIGHUP while idle: the turn and the new system prompt are in the snapshot" "$([ -n "$A" ] && [ "$(roles "$A")" = 2 ] && grep -q '"system":"Answer briefly."' "$A" && [ "$(wc -l < "$A.journal")" = 1 ] && echo 1)" "'$A'"

# --resume: the newest chat, its cache rebuilt first, continued in the same file
printf 'What is a cat?\n' | "$G" $RUN --temp 0 --max-new 10 --resume --plain > "$T/out" 2> "$T/err"; rc=$?
check "--resume rebuilds the cache before the first turn" "$(grep -q 'restoring the conversation (2 messages)' "$T/err" && grep -q 'restored [0-9]* tokens' "$T/err" && echo 1)" "$(cat "$T/err")"
check "--resume continues in the same file, with its system prompt" "$([ $rc = 0 ] && [ "$(newest)" = "$A" ] && [ "$(roles "$A")" = 4 ] && grep -q '"system":"Answer briefly."' "$A" && echo 1)" "rc $rc"

# /sessions and /load N
printf '/sessions\n/load 1\n/stats\n' | "$G" $RUN --temp 0 --plain --no-autosave > "$T/out" 2> "$T/err"; rc=$?
check "/sessions lists the saved chats, newest first, with turns and first question" "$(grep -q "saved chats in $CHATS" "$T/out" && grep -q '^   1  .* 2 turns  Good morning!' "$T/out" && echo 1)" "$(cat "$T/out" "$T/err")"
check "/load 1 loads the newest and rebuilds its cache" "$([ $rc = 0 ] && grep -q "^loaded $A: 4 messages" "$T/out" && grep -q '^session: prefill [1-9][0-9]* new' "$T/out" && echo 1)" "$(cat "$T/out")"

# malformed transcripts: --load refuses with one line naming the file; /load refuses and the chat goes on
total=0; refused=0; kept=0
for f in "$GC_ROOT"/tests/malformed/transcript/*; do
  total=$((total + 1))
  "$G" $RUN --load "$f" -p hi > "$T/out" 2> "$T/err"; rc=$?
  [ $rc = 1 ] && [ ! -s "$T/out" ] && [ "$(wc -l < "$T/err")" = 1 ] && grep -qF "$f" "$T/err" && refused=$((refused + 1))
  printf 'Good morning!\n/load %s\nWhat is a cat?\n' "$f" | "$G" $RUN --temp 0 --max-new 8 --plain --no-autosave > "$T/out" 2> "$T/err"
  grep -qF "/load: $f" "$T/err" && grep -q 'current chat is kept' "$T/err" && [ "$(wc -l < "$T/out")" = 2 ] && kept=$((kept + 1))
done
check "every malformed transcript: --load exits 1 with one line naming the file" "$([ $total -ge 25 ] && [ $refused = $total ] && echo 1)" "$refused of $total"
check "every malformed transcript: /load refuses it and the chat goes on" "$([ $kept = $total ] && echo 1)" "$kept of $total"

# a seeded chat with /retry and /temp mid-way replays token for token
printf 'Good morning!\n/retry\n/temp 1.3\nWhat is a cat?\n/retry\n/save %s\n' "$T/seeded.json" |
  "$G" $RUN --temp 0.8 --seed 5 --max-new 24 --plain --no-autosave > "$T/out" 2> "$T/err"
sed -n '2p;5p' "$T/out" > "$T/want"
"$G" $RUN --replay "$T/seeded.json" > "$T/rout" 2> "$T/rerr"; rc=$?
check "--replay of a seeded chat with /retry and /temp: identical, nothing on stderr" "$([ $rc = 0 ] && [ ! -s "$T/rerr" ] && echo 1)" "rc $rc: $(cat "$T/rerr")"
check "--replay prints the replies the chat kept, byte for byte" "$(cmp -s "$T/rout" "$T/want" && echo 1)" "got '$(cat "$T/rout")', want '$(cat "$T/want")'"
"$G" $RUN --replay "$T/seeded.json" --seed 6 > "$T/rout" 2> "$T/rerr"; rc=$?
check "--replay with another seed: exit 1, the first differing token named" "$([ $rc = 1 ] && grep -q 'replay turn 1.*differs from the saved one at token [0-9]* (saved: id [0-9]*, now: id [0-9]*)' "$T/rerr" && echo 1)" "rc $rc: $(cat "$T/rerr")"
printf '/replay %s\n' "$T/seeded.json" | "$G" $RUN --plain --no-autosave > "$T/rout" 2> "$T/rerr"; rc=$?
check "/replay FILE in plain mode: all 4 replies identical" "$([ $rc = 0 ] && grep -q '^replayed 2 turns: all 4 replies identical' "$T/rout" && [ "$(head -n 2 "$T/rout")" = "$(cat "$T/want")" ] && echo 1)" "rc $rc: $(cat "$T/rout" "$T/rerr")"
exit 0
