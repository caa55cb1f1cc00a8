#!/bin/bash
# busybox init runs this before powering off or rebooting: stop the services (as systemd stops
# units: SIGTERM to each one's group), then leave the disk clean, as NixOS unmounts its root.
. /usr/lib/printerfact/units.sh
for pidfile in "$UNITS"/*.pid; do
    [ -e "$pidfile" ] || continue
    unit=${pidfile##*/}
    unit=${unit%.pid}
    queue_job "$unit" stop  # service.sh then logs it as stopped, not failed
    kill -TERM -- "-$(<"$pidfile")" 2>/dev/null
done
sync
mount -o remount,ro /run/printerfact/disk 2>/dev/null
echo "shutdown: powering off" >/dev/console
