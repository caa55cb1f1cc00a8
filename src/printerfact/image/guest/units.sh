# Unit bookkeeping of the portable image, sourced by service.sh, shutdown.sh, systemctl and
# journalctl.  The files per unit, their states and the transitions between them: states.sh
# (rc.sh, busybox sh, sources that alone).  A unit is named as systemd names it: `factd` means
# factd.service.
. /usr/lib/printerfact/states.sh
SERVICES=$PF_SERVICES_DIR
# Aliases, as NixOS links them (systemd-lib.nix, generateUnits): the name loads the other unit.
declare -A ALIASES=([default.target]=multi-user.target)
# Every target of the image -> its Description (read_targets fills it from guest/targets.sh).
declare -A TARGETS=()
read_targets() {
    target() { TARGETS[$1]=$3; }
    . "$PF_LIB/targets.sh"
}

# report_in_one_write ARGS...: systemctl and journalctl call it first.  systemd's tools write
# through C stdio, fully buffered on a pipe, so a short report reaches the pipe in one write and
# `journalctl -u x | grep -q y` cannot die of SIGPIPE under the driver's pipefail.  Bash's stdout
# is line-buffered: run the tool once more with its output collected, then write it at once.
report_in_one_write() {
    if [[ -n ${PF_COLLECTING-} ]]; then
        unset PF_COLLECTING  # services the tool starts must not inherit it
        return 0
    fi
    local out rc=0
    out=$(PF_COLLECTING=1 "$0" "$@") || rc=$?
    [[ -z $out ]] || cat <<<"$out"
    exit "$rc"
}

# unit_of NAME: sets `unit` to the unit NAME loads: with the .service suffix systemd implies,
# an alias's unit for an alias.
unit_of() {
    if [[ $1 == *.* ]]; then unit=$1; else unit=$1.service; fi
    unit=${ALIASES[$unit]:-$unit}
}

# A unit exists if the node defines it (a service), it is a target, or the image made it (a
# state file).
unit_loaded() {
    [[ -e $UNITS/$1 ]] || { [[ $1 == *.service ]] && [[ -e $SERVICES/${1%.service} ]]; } ||
        [[ -n ${TARGETS[$1]-} ]]
}

# unit_state U: sets `state` (inactive when the unit never ran).
unit_state() {
    state=inactive
    if [[ -e $UNITS/$1 ]]; then read -r state <"$UNITS/$1"; fi
}

# in_state UNIT STATE...: whether the unit is in one of the states (sets `state`).
in_state() {
    local u=$1 want
    shift
    unit_state "$u"
    for want; do [[ $state == "$want" ]] && return 0; done
    return 1
}

# no_job UNIT: whether no job is pending for the unit.
no_job() {
    [[ ! -e $UNITS/$1.job ]]
}

# await SECONDS TEST UNIT [ARG...]: until `TEST UNIT ARG...` succeeds (status 0), or SECONDS
# have passed (status 1).  Blocks on UNIT's FIFO (states.sh), written to at every change of its
# state or job; the read's 1 s timeout only catches what is written without it (by hand).
await() {
    local end fifo=$WAITERS/$3 fd rc=0
    end=$((${EPOCHREALTIME/./} + $1 * 1000000))
    shift
    "$@" && return 0
    [[ -p $fifo ]] || mkfifo "$fifo" 2>/dev/null || [[ -p $fifo ]] || return 1
    exec {fd}<>"$fifo"  # from now on no wake-up is lost: test again, then read
    until "$@"; do
        if ((${EPOCHREALTIME/./} >= end)); then rc=1; break; fi
        read -r -t 1 -u "$fd" _
    done
    exec {fd}<&-
    return "$rc"
}

# journal U IDENT PID MESSAGE: one journal entry of U, also on the console as journald's
# ForwardToConsole does in NixOS test VMs.
journal() {
    printf '%(%b %d %H:%M:%S)T %s %s[%s]: %s\n' -1 "$HOSTNAME" "$2" "$3" "$4" >>"$UNITS/$1.log"
    printf '%s[%s]: %s\n' "$2" "$3" "$4" >/dev/console
}
