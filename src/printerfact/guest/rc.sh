#!/bin/busybox sh
# Boot script of the portable test image (busybox init runs it once, as sysinit).
# Node settings come from /etc/printerfact/node.env, written per node by the runner.
# Unit states and jobs live in /run/units (units.sh): until the boot is finished,
# multi-user.target is inactive with a start job, as under systemd.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
UNITS=/run/units  # see units.sh
set_state() { echo "$2" >"$UNITS/$1"; }

chmod 0755 /  # the initramfs root starts out 0700: non-root users could not reach anything
mount -a -T /usr/lib/printerfact/fstab.early
# /dev/pts, /dev/shm and, as systemd sets them up, /dev/fd (bash's process substitution needs
# it) and /dev/std{in,out,err}: made in the image, copied in one go.
cp -a /usr/lib/printerfact/dev/. /dev/
mount -t devpts devpts /dev/pts
DISK=/run/printerfact/disk  # the node's disk, if it has one (below)
mkdir -p "$UNITS" "$DISK"
echo start >"$UNITS/multi-user.target.job"

. /etc/printerfact/node.env

# The node's disk (/dev/vda, ext4, made by the runner) holds what a NixOS test VM keeps on its
# root disk across restarts.  /etc comes from the image at every boot, as NixOS's activation
# rewrites it, but files added to it stay.  Without a disk, all of it is lost at power-off.
PERSIST=/usr/lib/printerfact/fstab.persist
if [ -b /dev/vda ] && mount -t ext4 -o noinit_itable /dev/vda "$DISK"; then
    if [ ! -d "$DISK/etc" ]; then  # first boot: the mount points fstab.persist lends
        dirs=
        while read -r src dir _; do
            case $src in /*) dirs="$dirs ${dir#/}" ;; esac
        done <"$PERSIST"
        (cd "$DISK" && mkdir -p $dirs var/lib var/log var/empty && chmod 0700 root &&
            chmod 1777 tmp && chmod 0555 var/empty)
    fi
    rm -rf "$DISK/etc/printerfact"  # the node description may have changed since
    cp -a /etc/. "$DISK/etc/"
    mount -a -T "$PERSIST"
else
    echo "rc: no disk: nothing survives a restart" >/dev/console
fi
# The driver's shared directory (copy_from_host, copy_from_vm), at /tmp/shared as on NixOS test
# VMs.  cache=mmap: file data through the page cache (readahead, write-back flushed when a file
# is closed), no metadata caching, so what the host changes is seen at the next open.  Measured
# under TCG with 64 MiB files: ~30 MB/s uncached both ways (any msize), 150-230 MB/s with it.
mkdir -p /tmp/shared
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap shared /tmp/shared 2>/dev/null ||
    echo "rc: no shared directory: copy_from_host/copy_from_vm need one" >/dev/console
# Home directories of normal users, made when missing (NixOS: users.users.*.createHome).
while IFS=: read -r user _ uid gid _ home _; do
    case $home in /home/*) ;; *) continue ;; esac
    if [ "$uid" -ge 1000 ] && [ ! -d "$home" ]; then
        mkdir -p "$home" && chown "$uid:$gid" "$home" && chmod 0700 "$home"
    fi
done </etc/passwd

hostname "$PF_HOSTNAME"
ip link set lo up
# NixOS test VMs keep eth0 for user-mode networking and put the VLANs at eth1, eth2, ...:
# rename ours the same way (from the last down, so names never collide).
set -- /sys/class/net/eth*
n=$#
[ -e "$1" ] || n=0
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
        set_state printerfact-module.service active
    else
        set_state printerfact-module.service failed
        echo "rc: modprobe printerfact failed" >/dev/console
    fi
fi

for name in $PF_SERVICES; do
    # Queued before boot is declared finished, so wait_for_unit sees a pending job meanwhile.
    echo start >"$UNITS/$name.service.job"
    setsid /usr/lib/printerfact/service.sh "$name" </dev/null >/dev/null 2>&1 &
done

set_state multi-user.target active
rm -f "$UNITS/multi-user.target.job"
echo "rc: boot finished on $PF_HOSTNAME" >/dev/console
