#!/bin/sh
# Boot script of the portable test image (busybox init runs it once, as sysinit).
# Node settings come from /etc/printerfact/node.env, written per node by the runner.
# Unit states live in /run/units/<unit> (activating|active|failed|inactive) for wait_for_unit.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

chmod 0755 /  # the initramfs root starts out 0700: non-root users could not reach anything
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# As systemd mounts it on NixOS: kmemleak's control file (debug flavour) lives there.
mount -t debugfs debugfs /sys/kernel/debug
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /run/units
echo activating > /run/units/multi-user.target

. /etc/printerfact/node.env

hostname "$PF_HOSTNAME"
ip link set lo up
# NixOS test VMs keep eth0 for user-mode networking and put the VLANs at eth1, eth2, ...:
# rename ours the same way (from the last down, so names never collide).
n=$(ls -d /sys/class/net/eth* 2>/dev/null | wc -l)
while [ "$n" -gt 0 ]; do
    n=$((n - 1))
    ip link set "eth$n" name "eth$((n + 1))"
done
for assignment in $PF_ADDRESSES; do
    dev=${assignment%%=*}
    ip addr add "${assignment#*=}" dev "$dev"
    ip link set "$dev" up
done

if [ "$PF_MODULE_AT_BOOT" = 1 ]; then
    if modprobe printerfact; then
        echo active > /run/units/printerfact-module.service
    else
        echo failed > /run/units/printerfact-module.service
        echo "rc: modprobe printerfact failed" > /dev/console
    fi
fi

for name in $PF_SERVICES; do
    # Known before boot is declared finished, so wait_for_unit never sees it missing.
    echo activating > "/run/units/$name.service"
    /usr/lib/printerfact/service.sh "$name" &
done

echo active > /run/units/multi-user.target
echo "rc: boot finished on $PF_HOSTNAME" > /dev/console
