#!/bin/sh
# Unpacks the compressed fixtures of tests/data into $1 (once; a stamp records it).
set -e
out=$1
here=$(cd "$(dirname "$0")" && pwd)
stamp="$out/.stamp"
newest=$(ls -t "$here"/data/models/* "$here"/data/tokenizer/gemma4/* "$here"/../models/tiny-chat/* | head -1)
if [ -f "$stamp" ] && [ "$stamp" -nt "$newest" ]; then exit 0; fi
rm -rf "$out"; mkdir -p "$out/models" "$out/tokenizer"
for f in "$here"/data/models/*.tar.xz; do
  case "$f" in *-golden.tar.xz) continue;; esac
  xz -dc "$f" | tar -x -C "$out/models"
done
for base in $(ls "$here"/data/models/ | sed -n 's/\.tar\.xz\.part[0-9]*$//p' | sort -u); do
  cat "$here"/data/models/"$base".tar.xz.part* | xz -dc | tar -x -C "$out/models"
done
# tiny-chat: the weights are the bundled demo model, the reference logits are packed apart.
mkdir -p "$out/models/tiny-chat"
cp "$here"/../models/tiny-chat/* "$out/models/tiny-chat/"
xz -dc "$here/data/models/tiny-chat-golden.tar.xz" | tar -x -C "$out/models/tiny-chat"
cp -r "$here"/data/tokenizer/* "$out/tokenizer/"
xz -d "$out/tokenizer/gemma4/tokenizer.json.xz"
chmod -R u+w "$out"
touch "$stamp"
