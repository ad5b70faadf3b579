#!/bin/sh
# gemmatool synth + bench on the tiny synthetic shape: the commands work end to end, every figure of the
# JSON line is present and sane, the bandwidth probe stays out of the peak RSS, and bad options are refused.
T=${GC_BIN:-bin}/gemmatool
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gc-bench-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1 — $2"; }
check() { if eval "$2"; then pass "$1"; else fail "$1" "$3"; fi; }
# field NAME: the value of "NAME": in $json (numbers, true/false, or a string without its quotes)
field() { printf '%s\n' "$json" | sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }
# awk_true EXPR: the awk expression EXPR (over variables set with -v) holds
awk_true() { e=$1; shift; awk "$@" "BEGIN { exit !($e) }" </dev/null; }

out=$("$T" synth --shape tiny --out "$tmp/m" --seed 3 2>&1); rc=$?
check "synth tiny writes a checkpoint" '[ $rc -eq 0 ] && [ -s "$tmp/m/model.safetensors" ] && [ -s "$tmp/m/config.json" ] && [ -s "$tmp/m/tokenizer.json" ]' "$out"

json=$("$T" bench --model "$tmp/m" --prompt 24 --gen 6 --threads 1 --bw-mib 256 --json 2>&1)
rc=$?
check "bench --json exits 0 with one line" '[ $rc -eq 0 ] && [ "$(printf "%s\n" "$json" | wc -l)" -eq 1 ]' "rc $rc: $json"
missing=""
for f in prefill_tok_s decode_tok_s ttft_ms load_ms peak_rss_mb threads weights bw_gbs bytes_per_token decode_pct_of_bw; do
  [ -n "$(field $f)" ] || missing="$missing $f"
done
check "bench --json has every figure" '[ -z "$missing" ]' "missing:$missing in $json"
check "bench reports the weights and threads asked for" '[ "$(field weights)" = bf16 ] && [ "$(field threads)" = 1 ] && [ "$(field finite)" = true ]' "$json"
p=$(field prefill_tok_s); d=$(field decode_tok_s); tt=$(field ttft_ms); bw=$(field bw_gbs)
bpt=$(field bytes_per_token); pct=$(field decode_pct_of_bw); rss=$(field peak_rss_mb)
check "bench speeds and bandwidth are positive" 'awk_true "p > 0 && d > 0 && bw > 0" -v p="$p" -v d="$d" -v bw="$bw"' "$json"
# The first token comes after the whole prefill: ttft >= 24 tokens at the prefill rate.
check "bench ttft covers the prefill" 'awk_true "tt + 0.002 >= 24 / p * 1000 * 0.999" -v tt="$tt" -v p="$p"' "ttft $tt, prefill $p tok/s"
size=$(wc -c < "$tmp/m/model.safetensors")
# A token reads at least the tied LM head (4096 x 64 bf16) and never more than the whole file.
check "bench bytes per token between the LM head and the file size" 'awk_true "b >= 4096 * 64 * 2 && b < s" -v b="$bpt" -v s="$size"' "$bpt of $size"
check "bench decode_pct_of_bw = bytes x tok/s / probe" 'awk_true "(b * d / (bw * 1e9) * 100 - c) ^ 2 < (b * d / (bw * 1e9) + 0.1) ^ 2" -v b="$bpt" -v d="$d" -v bw="$bw" -v c="$pct"' "$json"
# The 256 MiB probe buffer lives in a child process, so it is not in the peak RSS.
check "bench peak RSS leaves out the probe buffer" 'awk_true "r > 1 && r < 200" -v r="$rss"' "peak_rss_mb $rss"

# Quantized copies: the matrices count at 34 (q8) and 20 (q4) bytes per 32 weights instead of 64.
json=$("$T" bench --model "$tmp/m" --prompt 8 --gen 2 --threads 1 --bw-mib 16 --quant q8 --cache-dir "$tmp/cache" --json 2>&1); rc=$?
q8=$(field bytes_per_token)
check "bench --quant q8 reports q8 weights" '[ $rc -eq 0 ] && [ "$(field weights)" = q8 ] && [ "$(field finite)" = true ]' "rc $rc: $json"
check "bench q8 bytes per token = 34/64 of bf16" 'awk_true "q / b > 0.52 && q / b < 0.54" -v q="$q8" -v b="$bpt"' "q8 $q8, bf16 $bpt"
json=$("$T" bench --model "$tmp/m" --prompt 8 --gen 2 --threads 1 --bw-mib 16 --quant q4 --cache-dir "$tmp/cache" --json 2>&1); rc=$?
q4=$(field bytes_per_token)
check "bench q4 bytes per token = 20/64 of bf16" '[ $rc -eq 0 ] && [ "$(field weights)" = q4 ] && awk_true "q / b > 0.30 && q / b < 0.325" -v q="$q4" -v b="$bpt"' "rc $rc: q4 $q4, bf16 $bpt"

plain=$("$T" bench --model "$tmp/m" --prompt 8 --gen 2 --threads 2 --bw-mib 16 2>&1); rc=$?
check "bench plain output: one line per figure" '[ $rc -eq 0 ] && printf "%s\n" "$plain" | grep -q "^prefill .*tok/s" && printf "%s\n" "$plain" | grep -q "^decode .*tok/s" && printf "%s\n" "$plain" | grep -q "^peak RSS" && printf "%s\n" "$plain" | grep -q "^threads  *2$"' "$plain"

json=$("$T" synth --shape tiny-moe --out "$tmp/moe" >/dev/null 2>&1 && "$T" bench --model "$tmp/moe" --prompt 8 --gen 3 --bw-mib 16 --json 2>&1); rc=$?
check "bench runs the MoE shape" '[ $rc -eq 0 ] && [ "$(field finite)" = true ] && awk_true "d > 0" -v d="$(field decode_tok_s)"' "$json"

err=$("$T" bench --prompt 4 2>&1); rc=$?
check "bench without --model is refused" '[ $rc -ne 0 ] && printf "%s" "$err" | grep -q -- "--model"' "rc $rc: $err"
err=$("$T" bench --model "$tmp/nowhere" --json 2>&1); rc=$?
check "bench on a missing directory names it" '[ $rc -ne 0 ] && printf "%s" "$err" | grep -q nowhere' "rc $rc: $err"
err=$("$T" bench --model "$tmp/m" --prompt 0 2>&1); rc=$?
check "bench --prompt 0 is refused" '[ $rc -ne 0 ] && printf "%s" "$err" | grep -q -- "--prompt"' "rc $rc: $err"
err=$("$T" synth --shape e3b --out "$tmp/x" 2>&1); rc=$?
check "synth refuses an unknown shape" '[ $rc -ne 0 ] && printf "%s" "$err" | grep -q e3b && [ ! -e "$tmp/x/config.json" ]' "rc $rc: $err"
err=$("$T" synth --shape e2b --out "$tmp/x" --dtype f16 2>&1); rc=$?
check "synth refuses --dtype f16" '[ $rc -ne 0 ] && printf "%s" "$err" | grep -q f16' "rc $rc: $err"
err=$("$T" synth --shape e2b 2>&1); rc=$?
check "synth needs --out" '[ $rc -ne 0 ] && printf "%s" "$err" | grep -q -- "--out"' "rc $rc: $err"
