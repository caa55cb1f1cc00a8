#!/bin/sh
# Run one named service the way a simple systemd unit would, recording its state for
# wait_for_unit: active while it runs, inactive after exit 0, failed after any other exit.
name=$1
unit=/run/units/$name.service
echo activating > "$unit"
sh -c "$(cat "/etc/printerfact/services/$name")" </dev/null >/dev/console 2>&1 &
pid=$!
echo "$pid" > "/run/units/$name.pid"
echo active > "$unit"
if wait "$pid"; then
    echo inactive > "$unit"
else
    echo failed > "$unit"
    echo "service $name: failed" > /dev/console
fi
