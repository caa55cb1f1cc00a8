"""Snapshot boots: a node's booted state saved by QEMU's migration to a file, restored into a
new QEMU in place of a boot.

A restored guest would replay the saved CRNG, so every node restored from one snapshot would
pick the same facts.  QEMU's vmgenid device fixes this: a new QEMU process with `guid=auto`
gives the guest a new generation ID at the restore, and the kernel's drivers/virt/vmgenid.c
reseeds the CRNG on it ("random: crng reseeded due to virtual machine fork", RESEED_LINE).
That needs SeaBIOS (qboot does not run QEMU's ACPI linker-loader: a guest with vmgenid never
printed a line under qboot), CONFIG_VMGENID on ACPI (kernel/portable-boot.config), and a CRNG
initialised before the save (rdrand seeds it at once: qemu_argv.TCG_CPU).  QEMU refuses to
migrate with a mounted 9p share, so a snapshot node mounts the shared directory only after
the save or restore, at the first command that names it (guest/rc.sh reads SNAPSHOT_ARG,
guest/mount-shared.sh says when).

The guest's RAM is a file (a memory-backend-file): shared while the first run saves it, so the
save copies the file once the migration has stopped the guest; mapped private at a restore, so
the restored guest's RAM is the saved file's pages, read as the guest touches them and copied
on write.  The migration stream (x-ignore-shared) then holds the devices' state alone: a
restore loads ~0.7 MB where a 51 MB RAM stream took ~100 ms under TCG.  Neither holds
the disk: a node's disk is saved beside them and copied back at the restore, so that the
three stay consistent.
"""

from __future__ import annotations

import hashlib
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from printerfact.vm.disk import sparse_copy
from printerfact.vm.monitor import Monitor, MonitorError

VMGENID = ("-device", "vmgenid,guid=auto")
RESEED_LINE = "random: crng reseeded due to virtual machine fork"
SNAPSHOT_ARG = "printerfact.snapshot=1"  # on the kernel command line of a snapshot node
STATE = "state"  # the migration stream (devices), in the snapshot's cache entry
RAM = "ram"  # the guest's RAM at the save
RAM_BACKEND = "pf-ram"
IGNORE_SHARED = "migrate_set_capability x-ignore-shared on"  # both ends: RAM is not streamed
DISK = "disk.img"
CONSOLE = "console.log"  # the console up to the save, replayed at a restore
LAYOUT = "2"  # in the key: an entry of another layout (1: the RAM in the stream) is not read
SAVE_TIMEOUT_S = 60.0


class SnapshotError(Exception):
    pass


@dataclass(frozen=True)
class Placeholders:
    """Paths that differ from run to run but are not part of the saved state (sockets, the
    per-run initrd and disk copies): replaced by their names in the snapshot's key."""

    paths: dict[str, Path]

    def normalise(self, argv: list[str]) -> list[str]:
        out = []
        for arg in argv:
            for name, path in self.paths.items():
                arg = arg.replace(str(path), f"<{name}>")
            out.append(arg)
        return out


def snapshot_key(argv: list[str], placeholders: Placeholders, digests: dict[str, str]) -> str:
    """The key of a node's snapshot: its QEMU command line with the run's own paths taken out,
    and the digests of what that command line names (kernel, initrd, QEMU, ...)."""
    h = hashlib.sha256()
    for arg in placeholders.normalise(argv):
        h.update(arg.encode() + b"\0")
    for name in sorted(digests):
        h.update(f"{name}={digests[name]}\0".encode())
    return h.hexdigest()[:24]


def ram_args(path: Path, memory_mb: int, shared: bool) -> list[str]:
    """The guest's RAM in the file `path`: shared (the saving run's own file) or private (the
    snapshot's, which the restored guest must not change)."""
    mem = str(path).replace(",", ",,")  # QEMU's option syntax
    return [
        "-object",
        f"memory-backend-file,id={RAM_BACKEND},size={memory_mb}M,mem-path={mem},"
        f"share={'on' if shared else 'off'}",
        "-machine",
        f"memory-backend={RAM_BACKEND}",
    ]


def restore_argv(argv: list[str], entry: Path, memory_mb: int) -> list[str]:
    """`argv` started from the snapshot in `entry`: its RAM is the saved file, the devices'
    state waits for `load`, and the guest for `resume` (-S), so that the console up to the
    save can be replayed first."""
    return [*argv, *ram_args(entry / RAM, memory_mb, shared=False), "-S", "-incoming", "defer"]


def _hmp(monitor: Monitor, command: str) -> str:
    """`command`'s reply; SnapshotError if QEMU refused it (HMP's error lines)."""
    reply = monitor.command(command)
    if "Error:" in reply:
        raise SnapshotError(f"QEMU refused {command!r}: {reply.strip()}")
    return reply


def load(monitor: Monitor, entry: Path) -> None:
    """Start loading the devices' state into a QEMU started with `restore_argv`."""
    _hmp(monitor, IGNORE_SHARED)
    _hmp(monitor, f'migrate_incoming "exec:cat {shlex.quote(str(entry / STATE))}"')


def save(
    monitor: Monitor,
    dest: Path,
    ram: Path,
    disk: Path | None,
    console: Callable[[], list[str]],
) -> None:
    """Save the running guest's devices, its RAM (the shared file `ram`), its disk and its
    console so far into `dest` (a directory being built); the guest is stopped after: `resume`
    it.  Saved running (a live migration of an idle guest ends at once), the state restores
    running: `resume` need not wait for the load (`cont` during it starts the guest once
    loaded)."""
    target = shlex.quote(str(dest / STATE))
    _hmp(monitor, IGNORE_SHARED)
    _hmp(monitor, f'migrate "exec:cat > {target}"')
    deadline = time.monotonic() + SAVE_TIMEOUT_S
    while True:
        info = monitor.command("info migrate")
        if "Migration status: completed" in info:
            break
        if "Migration status: failed" in info:
            raise SnapshotError(f"QEMU could not save the VM: {info.strip()}")
        if time.monotonic() > deadline:
            raise SnapshotError(f"saving the VM took over {SAVE_TIMEOUT_S:.0f} s: {info.strip()}")
        time.sleep(0.01)
    sparse_copy(ram, dest / RAM)  # the guest stays stopped until `resume`: the RAM is still
    if disk is not None:
        sparse_copy(disk, dest / DISK)
    (dest / CONSOLE).write_text("".join(f"{line}\n" for line in console()))


def prepare_restore(entry: Path, disk: Path | None) -> list[str]:
    """Before QEMU starts from `entry`: put the saved disk in place; returns the console
    lines up to the save."""
    if disk is not None:
        disk.parent.mkdir(parents=True, exist_ok=True)
        sparse_copy(entry / DISK, disk)
    return (entry / CONSOLE).read_text().splitlines()


def resume(monitor: Monitor) -> None:
    try:
        monitor.command("cont")
    except MonitorError as e:
        raise SnapshotError(f"the restored VM did not resume: {e}") from e
