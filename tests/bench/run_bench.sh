#!/bin/sh
# Real-shape benchmarks (not part of `make test`, which runs only test_*.sh): synthesizes E2B and E4B once,
# then runs `gemmatool bench` at bf16 / q8 / q4 with prompts of 128 and 512 tokens, 64 generated tokens and
# 2 threads, in ROUNDS interleaved rounds (every configuration once per round), and prints the medians as a
# Markdown table.  Every run also takes a read-bandwidth probe just before its decode, so "% of probe" is
# judged in the same time window (spec/perf-baseline.md).
#
# Usage: tests/bench/run_bench.sh [DIR]
#   DIR       checkpoints, the quantized-weights cache and results.jsonl (default $GC_BENCH_DIR, else
#             /tmp/gc-bench); needs ~26 GB for the two bf16 checkpoints and ~11 GB for the q8/q4 caches.
# Environment (defaults in brackets): SHAPES [e2b e4b], QUANTS [bf16 q8 q4], PROMPTS [128 512], GEN [64],
#   THREADS [2], ROUNDS [3], BIN [bin] (the folder holding gemmatool).
# The shapes run one after the other (two bf16 checkpoints do not fit in the page cache together); within a
# shape the rounds interleave weights and prompt lengths.  Before a shape's rounds, one short unmeasured run
# per weight format builds the q8/q4 cache and brings the weights into memory.
set -u
DIR=${1:-${GC_BENCH_DIR:-/tmp/gc-bench}}
SHAPES=${SHAPES:-"e2b e4b"}
QUANTS=${QUANTS:-"bf16 q8 q4"}
PROMPTS=${PROMPTS:-"128 512"}
GEN=${GEN:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
T=${BIN:-bin}/gemmatool
[ -x "$T" ] || { echo "run_bench.sh: $T not found (build with make, or set BIN)" >&2; exit 2; }
mkdir -p "$DIR/cache" || exit 1
results="$DIR/results-$(date +%Y%m%d-%H%M%S).jsonl"

quant_opt() { [ "$1" = bf16 ] && echo "" || echo "--quant $1"; }
drop() { for f in "$@"; do [ -f "$f" ] && dd if="$f" iflag=nocache count=0 status=none 2>/dev/null; done; }
# One short unmeasured run: builds the q8/q4 cache and brings the weights into memory.
warm() {
  echo "warm-up: $1 $2" >&2
  # shellcheck disable=SC2046
  "$T" bench --model "$DIR/$1" $(quant_opt "$2") --cache-dir "$DIR/cache" --threads "$THREADS" \
    --prompt 8 --gen 2 --bw-mib 64 --json >/dev/null || exit 1
}

for shape in $SHAPES; do
  if [ ! -f "$DIR/$shape/config.json" ]; then   # synth writes config.json last
    echo "synthesizing $shape into $DIR/$shape ..." >&2
    "$T" synth --shape "$shape" --out "$DIR/$shape" >&2 || exit 1
  fi
  # Start from a cold page cache for this shape (its checkpoint and the cached q8/q4 weights), as after
  # `synth` or a reboot: pages cached earlier by other readers may sit in 4 KB folios, which stay that
  # size and cost up to a fifth of the decode speed (docs/perf.md).  The warm-up runs read them back:
  # the q8/q4 ones first, since building a cache leaves part of the checkpoint in 4 KB folios; then the
  # checkpoint is dropped once more, so that the bf16 runs read it as a fresh start would.
  drop "$DIR/$shape"/*.safetensors "$DIR"/cache/*.gcq
  for q in $QUANTS; do [ "$q" = bf16 ] || warm "$shape" "$q"; done
  drop "$DIR/$shape"/*.safetensors
  for q in $QUANTS; do [ "$q" = bf16 ] && warm "$shape" "$q"; done
  r=1
  while [ "$r" -le "$ROUNDS" ]; do
    for q in $QUANTS; do
      for p in $PROMPTS; do
        echo "round $r: $shape $q prompt $p" >&2
        # shellcheck disable=SC2046
        json=$("$T" bench --model "$DIR/$shape" $(quant_opt "$q") --cache-dir "$DIR/cache" --threads "$THREADS" \
          --prompt "$p" --gen "$GEN" --json) || exit 1
        printf '{"shape":"%s","quant":"%s","round":%d,%s\n' "$shape" "$q" "$r" "${json#\{}" >> "$results"
      done
    done
    r=$((r + 1))
  done
done

echo "raw results: $results" >&2
cpu=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //')
model=$(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | sed 's/.*: //')
echo "Host: $cpu (cpuinfo model $model), $THREADS threads, $GEN generated tokens, medians of $ROUNDS interleaved rounds."
echo
awk -v order="$SHAPES" -v qorder="$QUANTS" -v porder="$PROMPTS" '
function num(line, key,    m) {
  if (!match(line, "\"" key "\":[^,}]*")) return "";
  m = substr(line, RSTART, RLENGTH); sub(/^[^:]*:/, "", m); gsub(/"/, "", m); return m;
}
function median(list,    v, n, i, j, t) {
  n = split(list, v, " ");
  for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t; }
  return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2;
}
BEGIN { nf = split("prefill_tok_s ttft_ms decode_tok_s bw_gbs decode_pct_of_bw bytes_per_token peak_rss_mb load_ms", f, " ") }
{
  k = num($0, "shape") SUBSEP num($0, "quant") SUBSEP num($0, "prompt");
  w[k] = num($0, "weights");
  for (i = 1; i <= nf; i++) vals[k, f[i]] = vals[k, f[i]] " " num($0, f[i]);
}
END {
  print "| shape | weights | prompt | prefill tok/s | ttft ms | decode tok/s | probe GB/s | decode % of probe | GB per token | peak RSS MB | load ms |";
  print "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |";
  ns = split(order, S, " "); nq = split(qorder, Q, " "); np = split(porder, P, " ");
  for (a = 1; a <= ns; a++) for (b = 1; b <= nq; b++) for (c = 1; c <= np; c++) {
    k = S[a] SUBSEP Q[b] SUBSEP P[c];
    if (!(k in w)) continue;
    printf "| %s | %s | %s | %.1f | %.0f | %.2f | %.1f | %.0f %% | %.2f | %.0f | %.0f |\n", S[a], w[k], P[c],
      median(vals[k, "prefill_tok_s"]), median(vals[k, "ttft_ms"]), median(vals[k, "decode_tok_s"]),
      median(vals[k, "bw_gbs"]), median(vals[k, "decode_pct_of_bw"]), median(vals[k, "bytes_per_token"]) / 1e9,
      median(vals[k, "peak_rss_mb"]), median(vals[k, "load_ms"]);
  }
}' "$results"
