# Sourced by tests/tui/test_*.sh: a private tmux server per test (always killed), an isolated HOME and
# XDG dirs, and helpers that poll the screen with short timeouts instead of sleeping.
set -u
NAME=$(basename "$0" .sh)
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/gc-tui.XXXXXX")
RUNS=0
SOCK="gc-$NAME-$$-0"
export HOME="$TMPD/home" XDG_STATE_HOME="$TMPD/state" XDG_DATA_HOME="$TMPD/data" \
       XDG_CONFIG_HOME="$TMPD/config" XDG_CACHE_HOME="$TMPD/cache" LANG=C.UTF-8 LC_ALL=C.UTF-8
unset NO_COLOR TMUX
mkdir -p "$HOME"
GC="$GC_BIN/gemmachat"
TINY="$GC_TESTDATA/models/tiny-chat"        # trained: short, sensible replies
LONG="$GC_TESTDATA/models/tiny-dense"       # random weights: replies run until --max-new
SCALE=1                                     # sanitized builds are slower
[ -n "${GC_SANITIZED:-}" ] && SCALE=5
FAILS=0

pass() { printf 'PASS: %s: %s\n' "$NAME" "$1"; }
fail() { printf 'FAIL: %s: %s%s\n' "$NAME" "$1" "${2:+ — $2}"; FAILS=$((FAILS + 1)); }
# check NAME COMMAND...: PASS if the command succeeds.
check() { _n=$1; shift; if "$@"; then pass "$_n"; else fail "$_n" "$(tail -c 300 "$TMPD/why" 2>/dev/null)"; fi; : > "$TMPD/why"; }
why() { printf '%s\n' "$*" >> "$TMPD/why"; }

tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
# The program still running when the server goes saves its chat on the way out: wait for it.
cleanup() {
    _p=$(app_pid 2>/dev/null)
    tm kill-server 2>/dev/null
    _i=0
    while [ -n "$_p" ] && kill -0 "$_p" 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.05; _i=$((_i + 1)); done
    rm -rf "$TMPD" 2>/dev/null || { sleep 0.5; rm -rf "$TMPD"; }
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ms() { date +%s%3N; }

# start W H ARGS...: runs gemmachat ARGS in a new W x H session (with the variables in $RUN_ENV,
# e.g. RUN_ENV="NO_COLOR=1 TERM=dumb").  The pane's shell records the
# terminal settings before and after, then the exit status, then reads one line (to see whether the
# terminal still wraps pastes in brackets) and waits, so the screen stays readable.
start() {
    _w=$1 _h=$2
    shift 2
    tm kill-server 2>/dev/null
    RUNS=$((RUNS + 1))
    SOCK="gc-$NAME-$$-$RUNS"   # a new server: the old one may still be going away
    rm -f "$TMPD/status" "$TMPD/stty.before" "$TMPD/stty.after" "$TMPD/pasted" "$TMPD/err"
    cat > "$TMPD/run.sh" <<RUN
stty -g > "$TMPD/stty.before"
env ${RUN_ENV:-} "$GC" "\$@" 2> "$TMPD/err"
s=\$?
stty -g > "$TMPD/stty.after"
stty -a > "$TMPD/stty.a"
echo \$s > "$TMPD/status"
while :; do IFS= read -r line; [ -n "\$line" ] && break; done   # past any stray Enter or Ctrl-D
printf '%s' "\$line" > "$TMPD/pasted"
exec sleep 600
RUN
    tm new-session -d -s t -x "$_w" -y "$_h" sh "$TMPD/run.sh" "$@"
}

screen() { tm capture-pane -p -t t; }
# The program's pid: the child of the pane's shell (from /proc, as procps may not be installed).
app_pid() {
    _pp=$(tm display -p -t t '#{pane_pid}')
    for _s in /proc/[0-9]*/stat; do
        read -r _l < "$_s" 2>/dev/null || continue
        set -- ${_l##*) }   # after "pid (comm) ": state, ppid, ...
        [ "$2" = "$_pp" ] && { _s=${_s#/proc/}; echo "${_s%/stat}"; return 0; }
    done
    return 1
}
cursor() { tm display -p -t t '#{cursor_x},#{cursor_y}'; }
keys() { tm send-keys -t t "$@"; }
lit() { tm send-keys -t t -l -- "$1"; }
status_bar() { screen | tail -n 1; }

# wait_for TEXT [SECONDS]: until TEXT is on the screen (fixed string); 1 on timeout.
wait_for() {
    _end=$(( $(ms) + ${2:-5} * 1000 * SCALE ))
    while :; do
        screen > "$TMPD/screen" 2>/dev/null
        grep -aqF -- "$1" "$TMPD/screen" && return 0
        [ "$(ms)" -gt "$_end" ] && { why "timed out waiting for '$1'; screen:"; tail -n 6 "$TMPD/screen" >> "$TMPD/why"; return 1; }
        sleep 0.03
    done
}

# wait_gone TEXT [SECONDS]: until TEXT is no longer on the screen.
wait_gone() {
    _end=$(( $(ms) + ${2:-5} * 1000 * SCALE ))
    while screen | grep -aqF -- "$1"; do
        [ "$(ms)" -gt "$_end" ] && { why "timed out waiting for '$1' to go"; return 1; }
        sleep 0.03
    done
    return 0
}

# wait_exit [SECONDS]: until gemmachat has exited; prints its status.
wait_exit() {
    _end=$(( $(ms) + ${1:-5} * 1000 * SCALE ))
    while [ ! -s "$TMPD/status" ]; do
        [ "$(ms)" -gt "$_end" ] && { why "gemmachat did not exit"; echo none; return 1; }
        sleep 0.03
    done
    cat "$TMPD/status"
}

# The number after "ctx " in the status bar (tokens in the context).
ctx_used() { status_bar | sed -n 's/.*ctx \([0-9]*\)\/.*/\1/p'; }

# A fingerprint of the autosaved chat and its journal: it changes with every completed turn.
snap() { f=$(autosave); if [ -n "$f" ]; then cat "$f" "$f.journal" 2>/dev/null | cksum; else echo none; fi; }

# turn_done SNAP [SECONDS]: until the autosave differs from SNAP and the state is idle again, and
# stays so a moment (the journal changes as a turn starts, before the screen may show it).
turn_done() {
    _end=$(( $(ms) + ${2:-20} * 1000 * SCALE ))
    while :; do
        _s=$(snap)
        if [ "$_s" != "$1" ] && status_bar | grep -q "idle"; then
            sleep 0.15
            [ "$(snap)" = "$_s" ] && status_bar | grep -q "idle" && return 0
        fi
        [ "$(ms)" -gt "$_end" ] && { why "the turn did not end: $(status_bar)"; return 1; }
        sleep 0.05
    done
}

# send TEXT: types a message, sends it and waits for its reply.
send() {
    _snap=$(snap)
    lit "$1"
    keys Enter
    turn_done "$_snap"
}

# The terminal is as it was: termios identical; checked after every exit.
terminal_restored() {
    [ -s "$TMPD/stty.after" ] && cmp -s "$TMPD/stty.before" "$TMPD/stty.after" ||
        { why "stty before: $(cat "$TMPD/stty.before" 2>/dev/null) after: $(cat "$TMPD/stty.after" 2>/dev/null)"; return 1; }
    [ "$(tm display -p -t t '#{alternate_on} #{cursor_flag} #{mouse_any_flag}')" = "0 1 0" ] ||
        { why "alternate/cursor/mouse: $(tm display -p -t t '#{alternate_on} #{cursor_flag} #{mouse_any_flag}')"; return 1; }
    # bracketed paste is off again: a paste reaches the shell without the bracket sequences
    printf 'plain' | tm load-buffer -
    tm paste-buffer -p -t t
    keys Enter
    _end=$(( $(ms) + 3000 ))
    while [ ! -e "$TMPD/pasted" ] && [ "$(ms)" -lt "$_end" ]; do sleep 0.03; done
    [ "$(cat "$TMPD/pasted" 2>/dev/null)" = "plain" ] || { why "paste after exit: $(od -c "$TMPD/pasted" | head -2)"; return 1; }
}

# The newest autosaved chat.
autosave() { ls -t "$XDG_DATA_HOME"/gemmachat/chats/*.json 2>/dev/null | head -n 1; }

# reply_tps FILE: tokens per second of the first reply in a saved chat (ids / gen_ms).
reply_tps() {
    grep '"role":"model"' "$1" | head -n 1 | sed 's/"alternatives".*//' |
        sed 's/.*"ids":\[\([0-9,]*\)\].*"gen_ms":\([0-9.]*\).*/\1 \2/' |
        awk '{ n = split($1, a, ","); if ($2 > 0) printf "%.1f\n", n * 1000 / $2 }'
}

# No U+FFFD anywhere on the screen.
no_fffd() { ! screen | grep -q "$(printf '\357\277\275')"; }

finish() { [ "$FAILS" -eq 0 ]; }
