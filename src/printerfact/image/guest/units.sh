# Unit bookkeeping of the portable image, sourced by service.sh, shutdown.sh, systemctl and
# journalctl (bash; rc.sh, busybox sh, writes the same files).  A unit is named as systemd
# names it: `factd` means factd.service.
# Its state lives in /run/units (docs/architecture.md, "Guest contract"):
#   U          ActiveState: activating, active, deactivating, failed or inactive (none: inactive)
#   U.job      a pending job, `start` or `stop`: what `systemctl list-jobs` shows
#   U.pid      MainPID while the service runs
#   U.result   "<Result> <ExecMainStatus>" of its last run, e.g. "exit-code 1"
#   U.stopping present while `systemctl stop` stops it (its end is then no failure)
#   U.log      its journal, one "Mon DD HH:MM:SS host ident[pid]: message" line per entry
UNITS=/run/units
SERVICES=/etc/printerfact/services
# Aliases, as NixOS links them (systemd-lib.nix, generateUnits): the name loads the other unit.
declare -A ALIASES=([default.target]=multi-user.target)
# Every target of the image -> its Description (read_targets fills it from guest/targets.sh).
declare -A TARGETS=()
read_targets() {
    target() { TARGETS[$1]=$3; }
    . /usr/lib/printerfact/targets.sh
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

set_state() {
    echo "$2" >"$UNITS/$1"
}

# journal U IDENT PID MESSAGE: one journal entry of U, also on the console as journald's
# ForwardToConsole does in NixOS test VMs.
journal() {
    printf '%(%b %d %H:%M:%S)T %s %s[%s]: %s\n' -1 "$HOSTNAME" "$2" "$3" "$4" >>"$UNITS/$1.log"
    printf '%s[%s]: %s\n' "$2" "$3" "$4" >/dev/console
}
