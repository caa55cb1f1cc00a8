#!/bin/busybox sh
# shellcheck shell=dash
# The guest end of `printerfact attach` (host end: debugging/attach.py, vm/channels.py).
# busybox init runs it on /dev/hvc1, a virtconsole of its own (never the test's command
# channel), as the session leader with hvc1 its controlling tty, and respawns it after each
# session.  A session:
#   1. the client connects to the window-size port, sends "rows cols TERM", then a newline on
#      hvc1, which this script waits for (nothing runs before someone attaches);
#   2. a root login shell runs in the foreground of hvc1: job control, and Ctrl-C / Ctrl-Z
#      reach its foreground job through the tty (ISIG);
#   3. each further size line is set on hvc1 (stty -F), so the foreground job gets SIGWINCH;
#   4. when the client leaves (Ctrl-]), the port reads EOF: the shell gets SIGHUP, as on a
#      hangup (bash passes it to its jobs); when the shell exits by itself, the client is told by
#      ESC ] printerfact-exit BEL, and leaves.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
PORT_NAME=org.printerfact.winsize
TTY=/dev/hvc1
PIDFILE=/run/printerfact-attach.pid
DETACHED=/run/printerfact-attach.detached
# Until a client comes only this waits (busybox's sh, as cheap as a process gets at boot).
IFS= read -r _ || exit 0
size=
for port in /sys/class/virtio-ports/*; do
    read -r name 2>/dev/null <"$port/name" && [ "$name" = "$PORT_NAME" ] && size=/dev/${port##*/}
done
[ -n "$size" ] && exec 3<"$size" || exit 1
rows=24 cols=80 term=vt100
# The port reads EOF until QEMU has told the guest a client is connected: a moment at most.
for _ in $(seq 50); do
    read -r rows cols term <&3 && break
    sleep 0.1
done
# A size busybox refuses (0: the client's terminal has none) leaves the tty's as it was.
resize() { [ "$2" -gt 0 ] 2>/dev/null && [ "$3" -gt 0 ] && stty -F "$1" rows "$2" cols "$3"; }
stty sane echo 2>/dev/null
resize "$TTY" "$rows" "$cols"
rm -f "$PIDFILE" "$DETACHED"
(
    trap - INT
    while read -r r c _; do resize "$TTY" "$r" "$c"; done <&3
    : >"$DETACHED"  # no exit marker: the next client must not get it
    [ -s "$PIDFILE" ] && kill -HUP "$(cat "$PIDFILE")"
) </dev/null >/dev/null 2>&1 &
relay=$!
exec 3<&-
export TERM="${term:-vt100}" USER=root HOME=/root
cd /root 2>/dev/null || cd /
# The shell's pid for the relay; `exec -l`: a login shell (/etc/profile), as ssh gives one.
bash -c 'echo $$ >'"$PIDFILE"'; exec -l bash'
kill "$relay" 2>/dev/null
rm -f "$PIDFILE"
[ -e "$DETACHED" ] || printf '\033]printerfact-exit\007'
rm -f "$DETACHED"
