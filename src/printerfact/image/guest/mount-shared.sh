# shellcheck shell=sh
# Sourced, by rc.sh (busybox sh) and agent.sh (bash).
# The driver's shared directory (copy_from_host, copy_from_vm), at /tmp/shared as on NixOS test
# VMs: mounted by rc.sh at boot, or, on a snapshot node (the kernel argument
# printerfact.snapshot=1: QEMU cannot save a guest with a mounted 9p share), by agent.sh before
# the first command after the save or the restore that names it: a command whose text holds
# "shared" (copy_from_host's and copy_from_vm's do, and so does any that reads /tmp/shared or
# `cd /tmp; cat shared/x`).  The mount costs ~170 ms under TCG right after a restore, half
# the restore's budget, and most scripts never touch the share.
# cache=mmap: file data through the page cache (readahead, write-back flushed when a file is
# closed), no metadata caching, so what the host changes is seen at the next open.  Measured
# under TCG with 64 MiB files: ~30 MB/s uncached both ways (any msize), 150-230 MB/s with it.
[ -d "$PF_SHARED_DIR" ] || mkdir -p "$PF_SHARED_DIR"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap "$PF_SHARED_TAG" "$PF_SHARED_DIR" 2>/dev/null ||
    echo "rc: no shared directory: copy_from_host/copy_from_vm need one" >/dev/console
