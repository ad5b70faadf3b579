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

# /save onto a full file system (a 64 KiB tmpfs; without root, a 48 KiB file-size limit): the old file
# stays, the chat goes on
mkdir -p "$T/full"
printf 'Good morning!\n/save %s\n' "$T/full/keep.json" | "$G" $RUN --temp 0 --max-new 10 --plain --no-autosave > /dev/null 2>&1
cp "$T/full/keep.json" "$T/full.orig"
# a chat of 70 kB: an earlier reply kept as an alternative (it is saved, but not in the model's context)
{ printf '{"format":"gemmachat-transcript","version":2,"model":{"dir":"","config_sha256":""},"settings":{},"messages":[\n'
  printf '{"role":"user","text":"Hello"},{"role":"model","text":"Hi.","stop":"stop_id","alternatives":[{"text":"'
  head -c 70000 /dev/zero | tr '\0' x
  printf '"}]}]}\n'; } > "$T/big.json"
if [ "$(id -u)" = 0 ]; then
  full() { unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs -o size=64k tmpfs "$0" && cp "$1" "$0/keep.json" && shift && "$@"; s=$?; cp "$0/keep.json" "$0.after"; exit $s' "$T/full" "$T/full.orig" "$@"; }
  why="No space left"
else
  full() { ( ulimit -f 96; "$@"; s=$?; cp "$T/full/keep.json" "$T/full.after"; exit $s ); }
  why="File too large"
fi
printf 'Good morning!\n/save %s\nWhat is a cat?\n' "$T/full/keep.json" |
  full "$G" $RUN --temp 0 --max-new 10 --load "$T/big.json" --plain --no-autosave > "$T/out" 2> "$T/err"; rc=$?
check "/save onto a full disk: an error naming the file and why" "$(grep -q "^/save: $T/full/keep.json.*$why" "$T/err" && echo 1)" "$(cat "$T/err")"
check "/save onto a full disk: the old file is intact" "$(cmp -s "$T/full.after" "$T/full.orig" && echo 1)"
check "/save onto a full disk: the chat goes on" "$([ $rc = 0 ] && [ "$(wc -l < "$T/out")" = 2 ] && echo 1)" "rc $rc: $(cat "$T/out")"

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
"$G" --threads 1 -m "$GC_TESTDATA/models/tiny-e" --load "$T/seeded.json" -p /stats > "$T/out" 2> "$T/err"; rc=$?
check "a chat saved with another model loads with a note saying so" "$([ $rc = 0 ] && grep -q "note: $T/seeded.json was saved with another model configuration" "$T/err" && echo 1)" "rc $rc: $(cat "$T/err")"

# /edit on a terminal goes through $EDITOR (here a script that edits the file), and the result replaces
# the message; script(1) gives the chat a terminal
printf '#!/bin/sh\nsed -i "s/cat/dog/" "$1"\n' > "$T/ed.sh"; chmod +x "$T/ed.sh"
printf 'What is a cat?\n/edit\n/save %s\n/quit\n' "$T/edited.json" |
  EDITOR="$T/ed.sh" VISUAL= script -qec "$G $RUN --temp 0 --max-new 8 --plain --no-autosave" /dev/null > "$T/out" 2>&1; rc=$?
check "/edit on a terminal: \$EDITOR edits the message, the edit replaces it" "$([ $rc = 0 ] && [ "$(roles "$T/edited.json")" = 2 ] && grep -q '"text":"What is a dog?"' "$T/edited.json" && echo 1)" "rc $rc: $(tail -c 300 "$T/out")"
printf 'What is a cat?\n/edit\nGood morning!\n/save %s\n/quit\n' "$T/edited.json" |
  EDITOR=false VISUAL= script -qec "$G $RUN --temp 0 --max-new 8 --plain --no-autosave" /dev/null > "$T/out" 2>&1; rc=$?
check "/edit with a failing editor: said so, the message kept, the next line a new turn" "$([ $rc = 0 ] && grep -q 'false failed; the message is left as it was' "$T/out" && [ "$(roles "$T/edited.json")" = 4 ] && grep -q '"text":"What is a cat?"' "$T/edited.json" && echo 1)" "rc $rc: $(tail -c 300 "$T/out")"
exit 0
