#!/bin/busybox sh
# Boot script of the portable test image (busybox init runs it once, as sysinit).
# Node settings come from /etc/printerfact/node.env, written per node by the runner.
# Unit states and jobs live in /run/units (states.sh).  The boot reaches systemd's targets
# (targets.sh) in the order systemd does; until then each has a start job, as under systemd.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
. /usr/lib/printerfact/states.sh
TARGETS=$PF_LIB/targets.sh

# reach STEP...: the targets of these steps become active, in targets.sh's order, and their
# jobs end; each logged as systemd logs it.
reach() {
    reached=
    for step; do
        target() {
            [ "$2" = "$step" ] || return 0
            set_state "$1" active
            reached="$reached $1"
            echo "systemd[1]: Reached target $1 - $3." >/dev/console
        }
        . "$TARGETS"
    done
    # shellcheck disable=SC2086  # unit names have no blanks
    end_jobs $reached
}

chmod 0755 /  # the initramfs root starts out 0700: non-root users could not reach anything
mount -a -T "$PF_LIB/fstab.early"
# /dev/pts, /dev/shm and, as systemd sets them up, /dev/fd (bash's process substitution needs
# it) and /dev/std{in,out,err}: made in the image, copied in one go.
cp -a "$PF_LIB/dev/." /dev/
mount -t devpts devpts /dev/pts
DISK=$PF_DISK_MOUNT  # the node's disk, if it has one (below)
# With the run-time directories NixOS's tmpfiles make (systemd.conf, 00-nixos.conf).
mkdir -p "$UNITS" "$WAITERS" "$DISK" /run/lock /run/user /run/log
target() {  # every target the boot reaches: a start job from now on
    [ "$2" = - ] || queue_job "$1" start
}
. "$TARGETS"

. "$PF_NODE_ENV"

# The node's disk (/dev/vda, ext4, made by the runner) holds what a NixOS test VM keeps on its
# root disk across restarts, laid out as NixOS's base file system (vm/disk.py: the mount points
# of fstab.persist among them, /var/empty immutable).  /etc comes from the image at every boot,
# as NixOS's activation rewrites it, but files added to it stay.  Without a disk, the image's
# directories serve (image/basefs.py), all lost at power-off; its tmpfs keeps no inode flags
# (the kernel has no TMPFS_XATTR), so /var/empty is not immutable then.
PERSIST=$PF_LIB/fstab.persist
if [ -b /dev/vda ] && mount -t ext4 -o noinit_itable /dev/vda "$DISK"; then
    rm -rf "$DISK${PF_NODE_ENV%/*}"  # the node description may have changed since
    cp -af /etc/. "$DISK/etc/"  # -f: over the links it holds (/etc/mtab)
    mount -a -T "$PERSIST"
else
    echo "rc: no disk: nothing survives a restart, /var/empty is not immutable" >/dev/console
fi
# The driver's shared directory, at /tmp/shared; a snapshot node's agent mounts it later (the
# directory is there from the start, as on NixOS).
read -r cmdline </proc/cmdline
case " $cmdline " in
*" printerfact.snapshot=1 "*) mkdir -p "$PF_SHARED_DIR" && : >/run/pf-share-deferred ;;
*) . "$PF_LIB/mount-shared.sh" ;;
esac
# Home directories of normal users, made when missing (NixOS: users.users.*.createHome).
while IFS=: read -r user _ uid gid _ home _; do
    case $home in /home/*) ;; *) continue ;; esac
    if [ "$uid" -ge 1000 ] && [ ! -d "$home" ]; then
        mkdir -p "$home" && chown "$uid:$gid" "$home" && chmod 0700 "$home"
    fi
done </etc/passwd

hostname "$PF_HOSTNAME"
ip link set lo up
# boot.kernelModules, loaded before sysinit.target as systemd-modules-load does.
if [ "$PF_MODULE_AT_BOOT" = 1 ]; then
    if modprobe printerfact; then
        set_state printerfact-module.service active
    else
        set_state printerfact-module.service failed
        echo "rc: modprobe printerfact failed" >/dev/console
    fi
fi
reach sysinit basic

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
reach network

# The node's services: systemd reaches multi-user.target once their start jobs are done (for a
# simple unit: its process is forked).  Each service.sh closes the fd 3 it gets here then, so
# the command substitution returns once all of them have.
if [ -n "$PF_SERVICES" ]; then
    : "$(for name in $PF_SERVICES; do
        queue_job "$name.service" start
        setsid "$PF_LIB/service.sh" "$name" </dev/null 3>&1 >/dev/null 2>&1 &
    done)"
fi
reach multiuser
echo "rc: boot finished on $PF_HOSTNAME" >/dev/console
