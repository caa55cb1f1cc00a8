#!/bin/sh
# busybox init runs this before powering off: stop services, flush, say goodbye on the console.
for pidfile in /run/units/*.pid; do
    [ -e "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
done
sync
echo "shutdown: powering off" > /dev/console
