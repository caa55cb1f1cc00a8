# Unit states and jobs of the portable image: the one place they change.  Sourced by rc.sh
# (busybox sh) and, through units.sh, by service.sh, shutdown.sh, systemctl and journalctl
# (bash): plain sh, plus `local`, which both have.
# shellcheck shell=dash  # the dialect closest to busybox sh's (it has `local`)
#
# Per unit U (named as systemd names it: factd.service, multi-user.target), in /run/units
# (docs/architecture.md, "Guest contract"; tests write these files by hand too):
#   U         ActiveState: activating, active, deactivating, failed or inactive (none: inactive)
#   U.job     its pending job, `start` or `stop`: what `systemctl list-jobs` shows
#   U.pid     MainPID while the service runs (service.sh)
#   U.result  "<Result> <ExecMainStatus>" of its last run, e.g. "exit-code 1" (service.sh)
#   U.log     its journal, one "Mon DD HH:MM:SS host ident[pid]: message" line per entry
# The paths and names this image shares with the Python side (image/contract.py).
. /usr/lib/printerfact/contract.sh
UNITS=$PF_UNITS_DIR
# shellcheck disable=SC2034  # systemctl lists the units with it
UNIT_FILES="job pid result log"  # the suffixes above: a file with another name is a unit
# $WAITERS/U: the FIFO that systemctl waits on for U (units.sh, await) and notify_waiters
# writes to.  Made by U's first waiter and kept: a process costs ~10 ms under TCG.
WAITERS=$UNITS/.waiters

# set_state UNIT STATE: the only writer of ActiveState.  The case below is the table of every
# transition the image makes, with who makes it and when; one it lacks still happens (a unit's
# state is never refused) but is reported on the console, so the table stays the whole truth.
set_state() {
    local old=inactive
    if [ -e "$UNITS/$1" ]; then read -r old <"$UNITS/$1"; fi
    case $old:$2 in
        # service.sh, as it starts the unit (its start job queued by rc.sh or systemctl start)
        inactive:activating | failed:activating) ;;
        # service.sh, once the process runs (Type=simple: the start job ends with it)
        activating:active) ;;
        # systemctl stop: SIGTERM to the unit's group (a stop job queued first); again if a
        # second stop comes while the first one waits
        active:deactivating | deactivating:deactivating) ;;
        # service.sh, the main process gone: exit status 0, or stopped (a stop job, whether by
        # systemctl stop or shutdown.sh)
        active:inactive | deactivating:inactive) ;;
        # service.sh: a non-zero exit status or a signal, no stop job
        active:failed) ;;
        # systemctl reset-failed
        failed:inactive) ;;
        # rc.sh: a target the boot reaches (its start job ends with it), printerfact-module
        # loaded; systemctl start of a target the boot does not reach
        inactive:active) ;;
        # rc.sh: printerfact-module.service, modprobe failed
        inactive:failed) ;;
        *) echo "units: $1: $old -> $2 is not in the transition table (states.sh)" >/dev/console ;;
    esac
    echo "$2" >"$UNITS/$1"
    notify_waiters "$1"
}

# queue_job UNIT start|stop (systemctl start/stop, rc.sh for the boot's targets and services,
# shutdown.sh).
queue_job() {
    echo "$2" >"$UNITS/$1.job"
}

# end_jobs UNIT...: their jobs are done.  One rm for all of them: at boot a process costs
# milliseconds under TCG.
end_jobs() {
    local u files=
    for u; do files="$files $UNITS/$u.job"; done
    # shellcheck disable=SC2086  # unit names have no blanks
    rm -f $files
    notify_waiters "$@"
}

# notify_waiters UNIT...: wake whoever waits for these units; each looks again at what it
# waits for.  A waiter reads one line per wake-up: four lines wake up to four at once (more
# catch up at their 1 s timeout).  `<>` opens a FIFO without blocking; what nobody holds open
# is dropped at the close.
notify_waiters() {
    local u
    for u; do
        if [ -p "$WAITERS/$u" ]; then printf '\n\n\n\n' 2>/dev/null 1<>"$WAITERS/$u"; fi
    done
}
