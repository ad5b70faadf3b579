#!/bin/sh
# Runs every test program (build/tests/test_*) and every script (tests/**/test_*.sh).
# Each prints lines "PASS: name" / "FAIL: name"; a program that dies or prints no result counts as failed.
# Usage: tests/run.sh BUILD_DIR BIN_DIR [filter]
B=$1; BIN=$2; FILTER=${3:-}
export GC_TESTDATA="$(cd "$B/testdata" && pwd)" GC_BIN="$(cd "$BIN" && pwd)" GC_ROOT="$(pwd)"
# Our pool does the threading (k_matmul runs OpenBLAS single-threaded); OpenBLAS's own idle server threads
# would only start and stop underneath the allocation-counting tests.
export OPENBLAS_NUM_THREADS=1
passed=0; failed=0
log="$B/test.log"; : > "$log"
run_one() {
  name=$1; shift
  out=$("$@" 2>&1); rc=$?
  printf '%s\n' "$out" >> "$log"
  p=$(printf '%s\n' "$out" | grep -c '^PASS: ')
  f=$(printf '%s\n' "$out" | grep -c '^FAIL: ')
  printf '%s\n' "$out" | grep '^FAIL: '
  if [ $rc -ne 0 ] && [ $f -eq 0 ]; then f=1; echo "FAIL: $name exited with status $rc"; printf '%s\n' "$out" | tail -20; fi
  if [ $p -eq 0 ] && [ $f -eq 0 ]; then f=1; echo "FAIL: $name reported no result"; fi
  echo "  $name: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
}
for t in "$B"/tests/test_*; do
  [ -x "$t" ] || continue
  case "$t" in *"$FILTER"*) ;; *) continue;; esac
  run_one "$(basename "$t")" "$t"
done
for t in $(find tests -name 'test_*.sh' | sort); do
  case "$t" in *"$FILTER"*) ;; *) continue;; esac
  run_one "$t" sh "$t"
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
