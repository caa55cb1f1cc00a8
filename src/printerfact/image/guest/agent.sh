#!/bin/bash
# printerfact guest agent: the guest end of the command channel (host end: vm/framing.py).
# busybox init runs it on /dev/hvc0, where nixpkgs' test instrumentation runs its backdoor root
# shell, and it gives commands the same surroundings: bash, root, HOME=/root, /etc/profile
# sourced, cwd /tmp, stdin the console hvc0 (a tty that never ends), stderr ttyS0.
#
# The protocol itself runs on a virtio serial port of its own (`virtserialport`, found by its
# name in /sys/class/virtio-ports), not on the virtconsole: QEMU drops a virtconsole's output
# whenever the host socket is full (virtio-console.c, flush_buf: "silently dropping console
# data on EAGAIN"), which under load lost whole lines of replies, their end frames among them,
# and left the driver waiting for good.  A serial port is flow-controlled end to end: the
# guest's write waits until QEMU can pass the bytes on.
#
# Protocol, one request at a time, every frame one line:
#   banner   guest -> host  "PFREADY 2"                       once, when the agent is listening
#   request  host -> guest  "PFQ <id> <timeout> <command>"    timeout in seconds, 0 = none;
#                                                             the command with each backslash
#                                                             and newline escaped (\\, \n)
#                           "PFB <id> <timeout> <n>"          or a long command: its <n> bytes
#                           <n> bytes of command              follow as they are (bash's
#                                                             `read` takes a byte per syscall)
#   clock    host -> guest  "PFT <seconds since the epoch>"  set the clock (after a snapshot
#                                                             restore); no reply
#   reply    guest -> host  "PFO <id>"                        start of the reply
#                           base64 lines of the command's stdout, streamed as it is written
#                           "PFK <id>"                        keepalive, every KEEPALIVE seconds
#                                                             while the command runs, anywhere
#                                                             in the body (the host drops it):
#                                                             the driver's watchdog tells a
#                                                             stalled channel by its absence
#                           "PFR <id> <status> <timed-out>"   end, on a line of its own: exit
#                                                             status; timed-out is 1 when the
#                                                             timeout ended the command, 2 when
#                                                             the command had ended but a process
#                                                             it left held its stdout open past
#                                                             the timeout (both: status 124)
# A command runs as `bash <cmd file>` (not `bash -c`, so its size is not bounded by ARG_MAX).
# The channel is a raw tty both ways, so the command needs no other encoding (decoding is a
# builtin: no process per request; `read -N` cannot be used, it flushes a tty's input).
# As nixpkgs' `timeout T bash -c CMD | (base64 -w 0; echo)`, the reply ends when the command
# has exited and its stdout is closed (a background child that keeps it open delays the reply:
# "if the command detaches, it must close stdout").  At T seconds the command's process group
# gets SIGTERM and SIGCONT and the status is 124 (SIGKILL follows after a grace period, then
# the pipe itself is closed, so nothing can wedge the channel); a malformed T is a usage error,
# status 125.  The command runs in a session and process group of its own (what the group
# kill needs), with no controlling tty and stdin the console, as under nixpkgs: a command
# that reads stdin waits until its timeout.  Each reply has a pipe of its own, read
# to its end: once a reply is complete nobody holds that pipe, so a child left behind can never
# write into a later reply.
#
# Overridable for local tests: PF_AGENT_CHANNEL (default: the port named PORT_NAME; `-` means
# stdin and stdout), PF_AGENT_STDERR (/dev/ttyS0), PF_AGENT_TMPDIR (/run), PF_AGENT_PROFILE
# (/etc/profile), PF_AGENT_CWD (/tmp), PF_AGENT_KILL_AFTER (5 seconds), PF_AGENT_DATE (date:
# what sets the clock, which a test on the host must not).
# The paths and names this image shares with the Python side (image/contract.py); not there
# when the agent runs on the host for the framing tests.
[ -r /usr/lib/printerfact/contract.sh ] && . /usr/lib/printerfact/contract.sh
PORT_NAME=${PF_AGENT_PORT-}  # the driver's name for the port (vm/qemu_argv.py)
KEEPALIVE=${PF_AGENT_KEEPALIVE:-5}  # seconds; framing.KEEPALIVE_S on the host

err=${PF_AGENT_STDERR:-/dev/ttyS0}
tmp=${PF_AGENT_TMPDIR:-/run}
kill_after=${PF_AGENT_KILL_AFTER:-5}
exec 2>>"$err"
# A tty would echo requests back and rewrite newlines: make it a clean byte pipe, as nixpkgs'
# backdoor does with hvc0.
if [ -t 0 ]; then
    stty raw -echo
fi

# The channel: fd 6 reads requests, fd 7 writes replies.
channel=${PF_AGENT_CHANNEL-}
if [ -z "$channel" ]; then
    for port in /sys/class/virtio-ports/*; do
        read -r name 2>/dev/null <"$port/name" && [ "$name" = "$PORT_NAME" ] && channel=/dev/${port##*/}
    done
fi
if [ "$channel" = - ]; then
    exec 6<&0 7>&1
elif [ -c "$channel" ] && exec 6<>"$channel"; then  # a port opens once: one fd, two names
    exec 7>&6
else
    echo "agent: no usable virtio port named $PORT_NAME" >&2
    sleep 1  # busybox init respawns the agent: the port may not be there yet
    exit 1
fi

export USER=root HOME=/root DISPLAY=:0.0
profile=${PF_AGENT_PROFILE-/etc/profile}
if [ -n "$profile" ] && [ -e "$profile" ]; then
    # shellcheck disable=SC1090
    . "$profile"
fi
export PAGER=  # commands see a tty on stdin: no pager may wait for a key
cd "${PF_AGENT_CWD:-/tmp}" || exit 1

# Notices of the running command (see run), one line each on fd 3, and a byte on fd 8 after
# each, to wake the agent.  Pipes opened read-write (through /dev/fd, which Linux allows for
# pipes), so they never report EOF; no process to make them.  Only fd 8 is ever read with a
# timeout: bash's `read -t` may consume a byte and still report the timeout, which would cut
# a notice but only costs a wake-up; fd 3 is read when it has data, never timed.
exec 3<> <(:) 8<> <(:)
cmd="$tmp/pf-agent.$$.cmd"  # one file, rewritten per request: no command reads it afterwards
trap 'rm -f "$cmd"' EXIT

# usec SECONDS: sets `us` to SECONDS (e.g. "1.5") in microseconds.
usec() {
    local whole=${1%%.*} frac=
    [[ $1 == *.* ]] && frac=${1#*.}
    frac=${frac}000000
    us=$((10#$whole * 1000000 + 10#${frac:0:6}))
}

# notice WORDS: one notice (from the run's subshell).
notice() {
    echo "$*" >&3
    echo >&8
}

# notices DEADLINE: take the run's notices until it reported both its status and the end of
# its output, with a keepalive frame every KEEPALIVE seconds meanwhile; false once the
# monotonic-enough EPOCHREALTIME passes DEADLINE (µs; empty: none).
notices() {
    local tag val now left t next_keepalive
    usec "$KEEPALIVE"
    local keepalive=$us
    next_keepalive=$((${EPOCHREALTIME/./} + keepalive))
    while :; do
        while read -r -t 0 -u 3; do  # whole lines: each notice is one write
            read -r -u 3 tag val
            case $tag in
                pid) pid=$val ;;
                b64) b64=$val ;;
                status) status=$val ;;
                eof) eof=1 ;;
            esac
        done
        [[ -z $status || -z $eof ]] || return 0
        now=${EPOCHREALTIME/./}
        if ((now >= next_keepalive)); then
            echo "PFK $id" >&7  # one write: whole, wherever it lands between the encoder's
            next_keepalive=$((now + keepalive))
        fi
        left=$((next_keepalive - now))
        if [[ -n $1 ]]; then
            (($1 > now)) || return 1
            (($1 - now > left)) || left=$(($1 - now))
        fi
        printf -v t '%d.%06d' $((left / 1000000)) $((left % 1000000))
        read -r -t "$t" -N 1 -u 8 _ || :  # a wake-up or the time: either way, look again
    done
}

# run LIMIT: run $cmd, its stdout base64-encoded to ours; sets status and timed_out.
run() {
    timed_out=0 status= eof= pid= b64=
    if [[ ! $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
        echo "timeout: invalid time interval '$1'" >&2
        status=125
        return
    fi
    # The subshell reports the encoder's pid, the command's pid (its session and process
    # group), its status, and the end of its output; the command's stderr (fd 4) goes to the
    # console.  `exec {o}>` keeps no other copy of the pipe.  setsid gives the command a
    # session of its own, without a controlling tty, as under nixpkgs' backdoor (a systemd
    # service): reading the console blocks in place of stopping the command with SIGTTIN, so a
    # plain `wait` is right (bash 5.2's `wait -f` on a job killed while stopped could spin
    # for good and never report the status).
    (
        exec {o}> >(exec base64 >&7)
        notice b64 $!
        b=$!
        setsid bash -- "$cmd" <&5 >&"$o" 2>&4 3>&- 4>&- 5<&- 6<&- 7>&- 8>&- {o}>&- &
        notice pid $!
        exec {o}>&-
        wait "$!"
        notice status $?
        wait "$b"
        notice eof
    ) 5<&0 </dev/null 4>&2 2>/dev/null &
    local deadline=
    if [[ ! $1 =~ ^0+(\.0+)?$ ]]; then
        usec "$1"
        deadline=$((${EPOCHREALTIME/./} + us))
    fi
    if ! notices "$deadline"; then
        while [[ -z $pid ]]; do notices $((${EPOCHREALTIME/./} + 100000)) || :; done
        # As `timeout`: the whole group, so children left behind holding stdout go too.
        timed_out=1
        [[ -n $status ]] && timed_out=2
        usec "$kill_after"
        # The pid too: setsid may not have made the group yet when the timeout is tiny.
        kill -TERM -- "-$pid" "$pid" 2>/dev/null
        kill -CONT -- "-$pid" "$pid" 2>/dev/null
        if ! notices $((${EPOCHREALTIME/./} + us)); then
            kill -KILL -- "-$pid" "$pid" 2>/dev/null
            # Still open: held by a process outside the group.  Closing the pipe ends the
            # reply (losing what the encoder held unencoded); that process's next write fails
            # (EPIPE), it cannot reach a later reply.
            notices $((${EPOCHREALTIME/./} + us)) || kill -KILL "$b64" 2>/dev/null
            notices ""
        fi
        status=124
    fi
    wait "$!" 2>/dev/null
}

echo "PFREADY 2" >&7
while IFS= read -r -u 6 request; do
    tag=${request%% *} request=${request#* }
    if [ "$tag" = PFT ]; then  # the host's clock after a snapshot restore; no reply
        case $request in '' | *[!0-9]*) continue ;; esac
        ${PF_AGENT_DATE:-date} -s "@$request" >/dev/null
        continue
    fi
    id=${request%% *} request=${request#* }
    limit=${request%% *}
    [ "$tag" = PFQ ] || [ "$tag" = PFB ] || continue
    case $id in '' | *[!0-9]*) continue ;; esac
    request=${request#* }
    if [ "$tag" = PFB ]; then
        dd of="$cmd" bs=65536 count="$request" iflag=fullblock,count_bytes <&6 2>/dev/null
    else
        printf '%b' "$request" >"$cmd"
    fi
    if [ -e /run/pf-share-deferred ]; then  # a snapshot node: see mount-shared.sh
        text=$request
        [ "$tag" = PFB ] && IFS= read -r -d '' text <"$cmd"
        if [[ $text == *shared* ]]; then
            rm -f /run/pf-share-deferred
            . "$PF_LIB/mount-shared.sh"
        fi
        text=
    fi
    echo "PFO $id" >&7
    run "$limit"
    # On a line of its own: an encoder killed above may have stopped mid-line.
    printf '\nPFR %s %s %s\n' "$id" "$status" "$timed_out" >&7
done
