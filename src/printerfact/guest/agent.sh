#!/bin/sh
# printerfact guest agent: the guest end of the command channel (host end: driver/framing.py).
# busybox init runs it on /dev/hvc0 (stdin = stdout = the virtconsole); POSIX sh + busybox only.
#
# Protocol, one request at a time, every frame one line of ASCII:
#   banner   guest -> host  "PFREADY 1"                       once, when the agent is listening
#   request  host -> guest  "PFQ <id> <timeout> <b64(cmd)>"   timeout in seconds, 0 = none
#   reply    guest -> host  "PFR <id> <status>"               exit status of `sh <cmd file>`
#                           base64 lines of the command's stdout (any bytes, any length)
#                           "PFE <id>"                        end of this reply
# The command goes through a file, not `sh -c`, so its size is not bounded by ARG_MAX.
# stdout goes to a file, not a pipe, so a command that leaves children behind cannot keep the
# reply open; a fresh file per request (removed once the reply is sent), so such a child
# writing later cannot leak into another request's reply; stdin is /dev/null so a command cannot eat the channel; stderr goes to the serial
# console.  The timeout is enforced here too (SIGKILL, status 137), so a hung command does not
# wedge the channel; the host discards replies whose id it no longer waits for.
#
# Overridable for local tests: PF_AGENT_STDERR (default /dev/ttyS0), PF_AGENT_TMPDIR (/tmp).

err=${PF_AGENT_STDERR:-/dev/ttyS0}
tmp=${PF_AGENT_TMPDIR:-/tmp}
exec 2>>"$err"
# A tty would echo requests back and rewrite newlines: make hvc0 a clean byte pipe.
if [ -t 0 ]; then
    stty raw -echo
fi
out=
cmd=
trap 'rm -f "$out" "$cmd"' EXIT

echo "PFREADY 1"
while IFS=' ' read -r tag id limit b64; do
    [ "$tag" = PFQ ] || continue
    case $id in '' | *[!0-9]*) continue ;; esac
    out="$tmp/pf-agent.$$.$id.out"
    cmd="$tmp/pf-agent.$$.$id.cmd"
    printf '%s' "$b64" | base64 -d >"$cmd"
    if [ "$limit" -gt 0 ] 2>/dev/null; then
        timeout -s KILL "$limit" sh "$cmd" >"$out" </dev/null
    else
        sh "$cmd" >"$out" </dev/null
    fi
    status=$?
    echo "PFR $id $status"
    base64 <"$out"
    echo "PFE $id"
    rm -f "$out" "$cmd"
done
