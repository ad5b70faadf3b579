#!/bin/sh
# Runs the libFuzzer targets built by `make fuzz`: first each target's regressions (tests/fuzz/regress/T/)
# once, then SECONDS of fuzzing from its seeds (tests/fuzz/corpus/T/; what it finds goes to B/corpus/T,
# crashes to B/crash/).  One summary line per target; exits non-zero if any target failed.
# Usage: tests/fuzz/run.sh B SECONDS TARGET...
B=$(cd "$1" && pwd); SECONDS_EACH=$2; shift 2
mkdir -p "$B/crash"
src=$(pwd)/tests/fuzz   # absolute: a target may change directory (fuzz_cmd works in a scratch one)
# The targets write scratch files (memory-backed when possible); a target that dies leaves its own behind,
# so they all go in one directory removed at the end.
base=${TMPDIR:-/tmp}; [ -z "${TMPDIR:-}" ] && [ -w /dev/shm ] && base=/dev/shm
TMPDIR=$(mktemp -d "$base/gc-fuzz-run.XXXXXX") || exit 1
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
export GC_TESTDATA="$(cd "$B/testdata" && pwd)"
status=0
for t in "$@"; do
  bin="$B/fuzz/$t"; log="$B/fuzz-$t.log"
  mkdir -p "$B/corpus/$t"
  if [ -d "$src/regress/$t" ] && [ -n "$(ls "$src/regress/$t")" ]; then
    if ! "$bin" "$src/regress/$t"/* > "$B/regress-$t.log" 2>&1; then
      echo "FAIL: $t regressions (see $B/regress-$t.log)"; status=1; continue
    fi
  fi
  dict=; [ -f "$src/$t.dict" ] && dict="-dict=$src/$t.dict"
  seed=; [ -n "${FUZZ_SEED:-}" ] && seed="-seed=$FUZZ_SEED"   # CI fixes the seed: a red run can be replayed
  "$bin" $dict $seed -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$B/crash/$t-" "$B/corpus/$t" "$src/corpus/$t" > "$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "ok: $t: ${runs:-?} runs in ${SECONDS_EACH}s, $cov, corpus $(ls "$B/corpus/$t" | wc -l) files"
  else
    echo "FAIL: $t (exit $rc): $(grep -m1 -E 'ERROR|invariant|runtime error' "$log") — see $log and $B/crash/"
    status=1
  fi
done
exit $status
