#!/bin/sh
# A11 (/retry and /undo through the cache), A17 (thinking folded, counted, kept out of later turns:
# a saved chat with a thought channel is loaded), A16 (a small context fills up: never silent).
. "$(dirname "$0")/lib.sh"

# sampled, so that a retried reply differs from the first
start 100 30 -m "$TINY" --temp 1 --seed 7 --max-new 24
wait_for "gemmachat" > /dev/null
check "A11: first exchange" send "hello"
c1=$(ctx_used)
check "A11: second exchange" send "how are you?"
c2=$(ctx_used)
before=$(snap)
lit "/retry"
keys Enter
check "A11: /retry answers again" turn_done "$before"
lit "/stats"
keys Enter
wait_for "turn 2:" > /dev/null
new=$(screen | sed -n 's/.*turn 2: prefill \([0-9]*\) new.*/\1/p' | tail -n 1)
check "A11: the retry fed no user tokens again (prefill $new new)" test "$new" -le 1
check "A11: one reply to the message on screen" test "$(screen | grep -c '^› how are you?$')" = 1
shown_now=$(screen | sed -n '/^› \/retry$/{n;n;p;q}')
keys M-Right
check "A11: Alt-Right flips to the earlier reply" wait_for "reply 2 of 2"
shown_alt=$(screen | sed -n '/^› \/retry$/{n;n;p;q}')
check "A11: ... which is shown instead" test "$shown_alt" != "$shown_now"
keys M-Right
check "A11: and back" wait_for "reply 1 of 2"
shown_back=$(screen | sed -n '/^› \/retry$/{n;n;p;q}')
check "A11: ... to the retried one ($shown_back)" test "$shown_back" = "$shown_now"
lit "/undo"
keys Enter
check "A11: /undo removes the exchange from the screen" wait_gone "› how are you?"
check "A11: the first exchange stays" wait_for "› hello"
u=$(ctx_used)
# (the kept reply's closing "<turn|>" may stay in the cache)
check "A11: /undo gives back that exchange's tokens ($c2 -> $u, after the first $c1)" \
    test "$u" -ge "$c1" -a "$u" -le $((c1 + 2))
check "A11: the next turn reuses the cache as /undo left it" send "how are you?"
lit "/stats"
keys Enter
wait_for "turn 2:" > /dev/null
cached=$(screen | sed -n 's/.*turn 2: prefill [0-9]* new \/ \([0-9]*\) cached.*/\1/p' | tail -n 1)
check "A11: ... all $u tokens of it ($cached cached)" test "$cached" = "$u"
keys C-d
wait_exit > /dev/null

# A17: a saved chat whose reply has a thought channel
printf 'hello\n/save %s\n' "$TMPD/s.json" | "$GC" -m "$TINY" --temp 0 --plain --max-new 8 > /dev/null 2>&1
sed 's/{"role":"model","text":"[^"]*","ids":\[[0-9,]*\]/{"role":"model","text":"<|channel>thought\\nI should greet them warmly.<channel|>Hello **there**!","ids":[]/; s/"thought_tokens":0,"gen_ms":[1-9]/"thought_tokens":6,"gen_ms":1/' \
    "$TMPD/s.json" > "$TMPD/t.json"
start 100 30 -m "$TINY" --temp 0 --max-new 8 --load "$TMPD/t.json"
check "A17: the loaded reply is shown" wait_for "Hello there!"
check "A17: thinking folded, its tokens counted" wait_for "▸ thinking · 6 tokens"
check "A17: folded: the thought is not shown" sh -c "! tmux -L '$SOCK' capture-pane -p -t t | grep -aq 'greet them'"
tm capture-pane -p -e -t t | grep -a "thinking ·" > "$TMPD/line"
# dim, or grey where the terminal has it
check "A17: the thinking line is dimmed" grep -aq "$(printf '\033')\[\([0-9;]*;\)\{0,1\}\(2\|90\|38;5;8\)[;m]" "$TMPD/line"
keys C-t
check "A17: Ctrl-T unfolds it" wait_for "┊ I should greet them warmly."
keys C-t
check "A17: Ctrl-T folds it again" wait_gone "greet them"
keys F2
check "Markdown: F2 shows the raw text" wait_for "Hello **there**!"
keys F2
check "Markdown: F2 again styles it" wait_for "Hello there!"
check "A17: next turn" send "how are you?"
lit "/dump $TMPD/dump"
keys Enter
wait_for "wrote" > /dev/null
check "A17: the next prompt has the reply without its thinking" sh -c "grep -q 'ere' '$TMPD/dump' && ! grep -aq 'greet\|channel' '$TMPD/dump'"
keys C-d
wait_exit > /dev/null

# A16: a 512-token context fills up; the oldest exchanges go, with a note, the system prompt stays
start 100 30 -m "$TINY" --temp 0 --max-new 32 --ctx 512 --system "You are terse."
wait_for "gemmachat" > /dev/null
long="please tell me about the weather today and tomorrow and the day after that, in detail, thanks"
i=0
ok=1
while [ $i -lt 12 ] && ! screen | grep -q "dropped"; do
    send "$i $long" > /dev/null || { ok=0; break; }
    i=$((i + 1))
done
check "A16: turns keep working as the context fills" test "$ok" = 1
check "A16: dropping the oldest exchange is announced" wait_for "dropped"
check "A16: the context stays within 512" test "$(ctx_used)" -le 512
check "A16: another turn still works" send "and now?"
lit "/context"
keys Enter
check "A16: the system prompt is still in the context" wait_for "system"
keys C-d
check "A16: exit 0" test "$(wait_exit)" = "0"
check "A16: terminal restored" terminal_restored
finish
