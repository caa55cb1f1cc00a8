#!/bin/bash
# service.sh NAME: run the node's service NAME as systemd runs a simple unit whose `script` is
# its command (NixOS runs that with bash and `set -e`), and keep its state and journal for
# systemctl and journalctl (units.sh).  Started detached by rc.sh and `systemctl start`; closes
# fd 3 once the unit is started (rc.sh waits for that), and keeps it from what it runs.
. /usr/lib/printerfact/units.sh
name=$1
unit=$name.service

# log_lines: the service's output, one journal entry per line, as its `<name>-start` script;
# at the end of that output, a line on fd $drained.
log_lines() {
    local line pid=
    exec 3>&-
    while IFS= read -r line; do
        [[ -n $pid ]] || read -r pid 2>/dev/null <"$UNITS/$unit.pid"
        journal "$unit" "$name-start" "${pid:-0}" "$line"
    done
    echo >&"$drained"
}

set_state "$unit" activating
journal "$unit" systemd 1 "Starting $unit..."
exec {drained}<> <(:)  # a pipe that never reports EOF (as in agent.sh)
# A session of its own: stop signals the whole group, as systemd signals the unit's cgroup.
setsid bash -e -c "$(<"$SERVICES/$name")" </dev/null > >(log_lines) 2>&1 {drained}>&- 3>&- &
pid=$!
echo "$pid" >"$UNITS/$unit.pid"
set_state "$unit" active
end_jobs "$unit"
journal "$unit" systemd 1 "Started $unit."
exec 3>&-

wait "$pid"
status=$?
kill -TERM -- "-$pid" 2>/dev/null  # what the main process left behind goes with it
# Its output before its end, as in systemd's journal: the last lines may still be on their way
# to log_lines.  Waited for while they come (a loaded guest journals a chatty service's last
# lines for seconds), but not for good: a process that left the group may hold the output open
# (2 s without a new journal line).
if ! read -r -t 0.5 -u "$drained" _; then
    size=-1
    while now=$(stat -c %s "$UNITS/$unit.log" 2>/dev/null) && [[ $now != "$size" ]]; do
        size=$now
        ! read -r -t 2 -u "$drained" _ || break
    done
fi
rm -f "$UNITS/$unit.pid"
job=
if [[ -e $UNITS/$unit.job ]]; then read -r job <"$UNITS/$unit.job"; fi
if [[ $job == stop ]]; then  # stopped (systemctl stop, shutdown.sh): no failure
    echo "success 0" >"$UNITS/$unit.result"
    set_state "$unit" inactive
    journal "$unit" systemd 1 "Stopped $unit."
elif ((status == 0)); then
    echo "success 0" >"$UNITS/$unit.result"
    set_state "$unit" inactive
    journal "$unit" systemd 1 "$unit: Deactivated successfully."
else
    if ((status > 128)); then
        echo "signal $((status - 128))" >"$UNITS/$unit.result"
        journal "$unit" systemd 1 "$unit: Main process exited, code=killed, status=$((status - 128))"
        result=signal
    else
        echo "exit-code $status" >"$UNITS/$unit.result"
        journal "$unit" systemd 1 "$unit: Main process exited, code=exited, status=$status/FAILURE"
        result=exit-code
    fi
    set_state "$unit" failed
    journal "$unit" systemd 1 "$unit: Failed with result '$result'."
fi
