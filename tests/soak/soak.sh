#!/bin/sh
# Soak test (not part of `make test`): a scripted chat of TURNS user turns (default 2000) on the bundled
# tiny-chat model in plain mode, mixing messages with the commands that edit the conversation and
# the context (/retry, /undo, /forget, /edit, /save, /load, /system, ...), with the context kept small so
# it fills and old exchanges are dropped.  While it runs, the resident memory and the open file
# descriptors of the process are sampled every second.
#
# Passes when gemmachat exits 0, the memory after the first tenth of the run grows by less than
# SOAK_RSS_SLACK_KB (default 16384) plus twice the size of the final saved transcript to the end (the
# conversation itself stays in memory for /save, /undo and /edit: ~0.4 kB a turn, no more), the number
# of open descriptors never grows, and the last /save holds the conversation.  Writes OUT/samples.csv
# (seconds, rss_kb, fds, phase: 1 from the final save and load on), the outputs and a summary; OUT
# defaults to build-soak.
#
# Usage: tests/soak/soak.sh [TURNS] [GEMMACHAT]        e.g. tests/soak/soak.sh 5000 build/bin/gemmachat
#        SOAK_SECONDS=1800 tests/soak/soak.sh 1000000    (at most TURNS, ending after about 30 minutes)
set -u
TURNS=${1:-2000}
BIN=${2:-bin/gemmachat}
OUT=${SOAK_OUT:-build-soak}
SLACK=${SOAK_RSS_SLACK_KB:-16384}
SECONDS_LIMIT=${SOAK_SECONDS:-}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
[ -x "$BIN" ] || { echo "FAIL: soak: $BIN is not built"; exit 1; }

# The script: one line per turn, cycling through messages and commands.
script() {
  i=0
  while [ $i -lt "$TURNS" ]; do
    # with SOAK_SECONDS, stop after that long (the pipe runs a few hundred lines ahead of the chat)
    [ -n "$SECONDS_LIMIT" ] && [ $((i % 50)) -eq 0 ] && [ $(( $(date +%s) - start )) -ge "$SECONDS_LIMIT" ] && break
    case $((i % 40)) in
      9) echo "/stats" ;;
      19) echo "/retry" ;;
      29) echo "/context" ;;
      39) echo "/undo" ;;
      *)
        case $((i % 10)) in
          0) echo "Tell me about the sea, turn $i." ;;
          1) echo "//this line starts with a slash and is sent as a message ($i)" ;;
          2) echo "Ünïcödé, 漢字 and 😀 in one line, turn $i" ;;
          3) echo "/save $OUT/chat.json" ;;
          4) printf 'A long line: %s\n' "$(printf 'word%d ' $(seq 1 60))" ;;
          5) echo "/temp 0.$((i % 9 + 1))" ;;
          6) echo "/forget" ;;
          7) echo "/system Answer in one short sentence ($i)." ;;
          8) echo "/edit" ;;
          9) echo "What did I say before? ($i)" ;;
        esac ;;
    esac
    i=$((i + 1))
  done
  echo "$i" > "$OUT/turns"
  echo "Last question before saving."
  echo "/save $OUT/before-load.json"
  echo "/load $OUT/before-load.json"
  echo "And one after loading it back."
  echo "/save $OUT/final.json"
}

start=$(date +%s)
if [ -n "$SECONDS_LIMIT" ]; then   # generated as the chat goes, so that it can stop on time
  mkfifo "$OUT/script.fifo" 2>/dev/null || [ -p "$OUT/script.fifo" ] || { echo "FAIL: soak: cannot make a fifo in $OUT"; exit 1; }
  script > "$OUT/script.fifo" &
  "$BIN" --plain --ctx 384 --max-new 12 --seed 1 < "$OUT/script.fifo" > "$OUT/stdout.txt" 2> "$OUT/stderr.txt" &
else
  script > "$OUT/script.txt"
  "$BIN" --plain --ctx 384 --max-new 12 --seed 1 < "$OUT/script.txt" > "$OUT/stdout.txt" 2> "$OUT/stderr.txt" &
fi
pid=$!
echo "seconds,rss_kb,fds,phase" > "$OUT/samples.csv"
phase=0
while kill -0 $pid 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' /proc/$pid/status 2>/dev/null)
  fds=$(ls /proc/$pid/fd 2>/dev/null | wc -l)
  # phase 1 from the final save on: loading a transcript holds its whole JSON document for a moment,
  # a peak that is reported, not counted as growth
  [ "$phase" = 0 ] && [ -f "$OUT/before-load.json" ] && phase=1
  [ -n "$rss" ] && echo "$(( $(date +%s) - start )),$rss,$fds,$phase" >> "$OUT/samples.csv"
  sleep 1
done
wait $pid
rc=$?
secs=$(( $(date +%s) - start ))

# Memory: the maximum over the second tenth of the chat's samples (the model is loaded and the context
# has filled by then) against the maximum over the chat's last tenth; the final save and load (phase 1)
# are reported apart.  Descriptors: the fewest open in the last tenth against the fewest in the second
# (a save holds one or two for a moment; a leak never closes).
conv_kb=$(( $(stat -c %s "$OUT/final.json" 2>/dev/null || echo 0) / 1024 ))
summary=$(awk -F, -v slack="$((SLACK + 2 * conv_kb))" 'NR > 1 && $4 == 1 { if ($2 > load) load = $2 }
  NR > 1 && $4 != 1 { rss[++n] = $2; fd[n] = $3 }
  END {
    if (n < 3) { print "too few samples"; exit 1 }
    k = int(n / 10); if (k < 1) k = 1
    fd_early = fd_late = 1e9
    for (i = 1; i <= n; i++) {
      if (i > k && i <= 2 * k) { if (rss[i] > early) early = rss[i]; if (fd[i] < fd_early) fd_early = fd[i] }
      if (i > n - k) { if (rss[i] > late) late = rss[i]; if (fd[i] < fd_late) fd_late = fd[i] }
      if (rss[i] > peak) peak = rss[i]
      if (fd[i] > fdmax) fdmax = fd[i]
    }
    printf "%d samples; RSS early %d kB, late %d kB, peak %d kB (growth %d kB, allowed %d kB), %d kB at most while saving and loading the whole chat at the end; open fds %d early, %d late, %d at most\n", n, early, late, peak, late - early, slack, load, fd_early, fd_late, fdmax
    exit (late - early > slack || fd_late > fd_early) ? 1 : 0
  }' "$OUT/samples.csv")
mem_ok=$?
users=$(grep -o '"role":"user"' "$OUT/final.json" 2>/dev/null | wc -l)
echo "soak: $(cat "$OUT/turns" 2>/dev/null || echo "$TURNS") turns in ${secs}s, exit status $rc; $summary; final.json ($conv_kb kB) holds $users user messages" | tee "$OUT/summary.txt"
[ $rc -eq 0 ] && echo "PASS: soak: gemmachat exited cleanly" || echo "FAIL: soak: gemmachat exited with status $rc (see $OUT/stderr.txt)"
[ $mem_ok -eq 0 ] && echo "PASS: soak: memory and descriptors stay flat" || echo "FAIL: soak: memory or descriptors grew: $summary"
[ "$users" -gt 0 ] && echo "PASS: soak: the conversation was saved and loaded back" || echo "FAIL: soak: $OUT/final.json holds no conversation"
[ $rc -eq 0 ] && [ $mem_ok -eq 0 ] && [ "$users" -gt 0 ]
