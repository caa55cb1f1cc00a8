#!/bin/bash
# printerfact guest agent: the guest end of the command channel (host end: driver/framing.py).
# busybox init runs it on /dev/hvc0 (stdin = stdout = the virtconsole), where nixpkgs' test
# instrumentation runs its backdoor root shell, and it gives commands the same surroundings:
# bash, root, HOME=/root, /etc/profile sourced, cwd /tmp, stdin the console, stderr ttyS0.
#
# Protocol, one request at a time, every frame one line:
#   banner   guest -> host  "PFREADY 1"                       once, when the agent is listening
#   request  host -> guest  "PFQ <id> <timeout> <command>"    timeout in seconds, 0 = none;
#                                                             the command with each backslash
#                                                             and newline escaped (\\, \n)
#   reply    guest -> host  "PFR <id> <status> <timed-out>"   exit status; timed-out is 1 when
#                                                             the timeout ended it (status 124)
#                           base64 lines of the command's stdout (any bytes, any length)
#                           "PFE <id>"                        end of this reply
# A command runs as `bash <cmd file>` (not `bash -c`, so its size is not bounded by ARG_MAX).
# The channel is a raw tty both ways, so the command needs no other encoding (decoding is a
# builtin: no process per request; `read -N` cannot be used, it flushes a tty's input).
# Like `timeout T bash -c CMD` under nixpkgs: at T seconds its process group gets SIGTERM and
# SIGCONT and the status is 124 (SIGKILL follows after a grace period, so nothing can wedge the
# channel); a malformed T is a usage error, status 125.  It runs in a process group of its own
# (what the group kill needs; a background one on the console, as under `timeout`) with stdin
# the console, as under nixpkgs: a command that reads stdin waits until its timeout.  stdout
# goes to a fresh file per request (old ones are removed in batches), so children left behind
# can neither hold the reply open nor leak into another one.
#
# Overridable for local tests: PF_AGENT_STDERR (default /dev/ttyS0), PF_AGENT_TMPDIR (/run),
# PF_AGENT_PROFILE (/etc/profile), PF_AGENT_CWD (/tmp), PF_AGENT_KILL_AFTER (5 seconds).

err=${PF_AGENT_STDERR:-/dev/ttyS0}
tmp=${PF_AGENT_TMPDIR:-/run}
kill_after=${PF_AGENT_KILL_AFTER:-5}
exec 2>>"$err"
# A tty would echo requests back and rewrite newlines: make hvc0 a clean byte pipe.
if [ -t 0 ]; then
    stty raw -echo
fi

export USER=root HOME=/root DISPLAY=:0.0
profile=${PF_AGENT_PROFILE-/etc/profile}
if [ -n "$profile" ] && [ -e "$profile" ]; then
    # shellcheck disable=SC1090
    . "$profile"
fi
export PAGER=  # commands see a tty on stdin: no pager may wait for a key
cd "${PF_AGENT_CWD:-/tmp}" || exit 1

# Completion notices of the running command (see run): a pipe opened read-write (through
# /dev/fd, which Linux allows for pipes), so it never reports EOF; no process to make it.
exec 3<> <(:)
cmd="$tmp/pf-agent.$$.cmd"  # one file, rewritten per request: no command reads it afterwards
trap 'rm -f "$tmp/pf-agent.$$".*' EXIT

# run LIMIT: run $cmd with stdout to $out; sets status and timed_out.
run() {
    timed_out=0
    if [[ ! $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
        echo "timeout: invalid time interval '$1'" >&2
        status=125
        return
    fi
    # The subshell reports the command's pid (its session and process group), then its status.
    # Job control gives the command a process group of its own; the subshell's job notices
    # ("[1]+ Done") go to /dev/null, the command's stderr (fd 4) to the console.
    (
        set -m
        bash -- "$cmd" <&5 >"$out" 2>&4 3>&- 4>&- 5<&- &
        echo "pid $!" >&3
        wait -f "$!"
        echo "status $?" >&3
    ) 5<&0 </dev/null 4>&2 2>/dev/null &
    local tag pid
    read -r -u 3 tag pid
    if [[ $1 =~ ^0+(\.0+)?$ ]]; then
        read -r -u 3 tag status
    elif ! read -r -t "$1" -u 3 tag status; then
        timed_out=1
        kill -TERM -- "-$pid" 2>/dev/null
        kill -CONT -- "-$pid" 2>/dev/null
        if ! read -r -t "$kill_after" -u 3 tag status; then
            kill -KILL -- "-$pid" 2>/dev/null
            read -r -u 3 tag status
        fi
        status=124
    fi
    wait "$!" 2>/dev/null
}

echo "PFREADY 1"
while IFS= read -r request; do
    tag=${request%% *} request=${request#* }
    id=${request%% *} request=${request#* }
    limit=${request%% *}
    [ "$tag" = PFQ ] || continue
    case $id in '' | *[!0-9]*) continue ;; esac
    printf '%b' "${request#* }" >"$cmd"
    # A fresh output file per request: a child left behind by an earlier command cannot write
    # into this reply.  Old ones go in batches (rm is a process, the reply should not wait).
    if ((id % 64 == 0)); then rm -f "$tmp/pf-agent.$$".*.out; fi
    out="$tmp/pf-agent.$$.$id.out"
    : >"$out"
    run "$limit"
    echo "PFR $id $status $timed_out"
    base64 <"$out"
    echo "PFE $id"
done
