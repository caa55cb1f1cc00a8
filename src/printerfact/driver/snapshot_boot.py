"""A Machine's snapshot boot (vm/snapshot.py has QEMU's side): which snapshot a node uses, and
the steps around QEMU's start and the guest's first command.

The first run of a node boots it (SeaBIOS + vmgenid, the share mounted only at the first
command: see vm/snapshot.py), saves it once the guest agent is up and goes on; later runs start
QEMU from the saved state.  Whatever cannot be restored faithfully boots the normal way, and
the log says why.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from printerfact.host import cache, cache_gc, paths
from printerfact.vm import snapshot
from printerfact.vm.qemu_argv import QemuConfig, qemu_argv
from printerfact.vm.session import VmSession

ENV = "PRINTERFACT_SNAPSHOTS"  # 0 turns snapshot boots off, 1 on (the CLI flag wins)
RESEED_TIMEOUT_S = 30.0


def cache_dir(flag: bool | None = None) -> Path | None:
    """The snapshot cache if snapshot boots are on (the flag, else $PRINTERFACT_SNAPSHOTS, else
    off), else None."""
    on = flag if flag is not None else os.environ.get(ENV, "0") not in ("", "0", "no", "false")
    return paths.cache_root() / "snapshot" if on else None


@dataclass
class SnapshotBoot:
    entry: Path
    restore: bool  # True: QEMU starts from `entry`; False: the boot is saved into it
    console: list[str]  # the console up to the save (a restore replays it)
    disk: Path | None
    replayed: int = 0  # console lines replayed: the reseed line comes after them


def snapshot_config(qc: QemuConfig) -> QemuConfig:
    """The node's QEMU config for a snapshot boot: SeaBIOS (see vm/snapshot.py) and the
    kernel argument that defers the share's mount."""
    return dataclasses.replace(qc, bios=None, append=f"{qc.append} {snapshot.SNAPSHOT_ARG}")


def prepare(
    root: Path,
    qc: QemuConfig,
    socket_dirs: tuple[Path, ...],
    disk_kept: bool,
    log: Callable[[str], None],
) -> tuple[list[str], SnapshotBoot | None]:
    """The argv to start the node with, and its snapshot boot (None: a normal boot)."""
    if disk_kept:
        log(
            "snapshot: not used: the node's disk is kept from an earlier run, a restore would"
            " replace it with the saved one"
        )
        return qemu_argv(qc), None
    sc = snapshot_config(qc)
    argv = [*qemu_argv(sc), *snapshot.VMGENID]
    places = {f"sockets{i}": d for i, d in enumerate(socket_dirs)}
    places["initrd"] = qc.initrd
    if qc.disk is not None:
        places["disk"] = qc.disk
    if qc.shared_dir is not None:
        places["shared"] = qc.shared_dir
    key = snapshot.snapshot_key(
        argv,
        snapshot.Placeholders(places),
        {"initrd": cache.file_digest(qc.initrd), "qemu": _qemu_identity(qc.qemu)},
    )
    entry = root / key
    if cache.is_complete(entry) and cache.hold(entry):
        console = snapshot.prepare_restore(entry, qc.disk)
        log(f"snapshot: restoring {entry}")
        return snapshot.restore_argv(argv, entry), SnapshotBoot(entry, True, console, qc.disk)
    log(f"snapshot: none yet for this node: booting, then saving it to {entry}")
    return argv, SnapshotBoot(entry, False, [], qc.disk)


def _qemu_identity(qemu: str) -> str:
    """QEMU's binary (a new build may not load an old state)."""
    path = shutil.which(qemu)
    if path is None:
        return qemu
    st = os.stat(path)
    return f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"


def resume_restored(s: VmSession, boot: SnapshotBoot) -> None:
    """Right after QEMU started from the snapshot: replay the console up to the save, then
    resume the guest (QEMU runs it once the state is loaded), whether or not a command
    follows: a script may wait for console text first."""
    s.console.replay(boot.console)
    boot.replayed = len(s.console.lines)
    snapshot.resume(s.monitor)


def await_reseed(s: VmSession, boot: SnapshotBoot) -> None:
    """Before the first command on a restored guest: its CRNG must have been reseeded, or its
    facts would repeat those of every other restore of the snapshot."""
    if not s.console.wait_for(snapshot.RESEED_LINE, boot.replayed, RESEED_TIMEOUT_S):
        raise snapshot.SnapshotError(
            f"the guest did not reseed its CRNG within {RESEED_TIMEOUT_S:.0f} s of the restore"
            " (no vmgenid?): its facts would repeat another node's"
        )


def save(s: VmSession, boot: SnapshotBoot, deps: dict[str, str]) -> None:
    """Save the booted guest into its snapshot entry (unless another run just did), then
    resume it."""

    def console() -> list[str]:
        with s.console.changed:
            return list(s.console.lines)

    def build(tmp: Path) -> None:
        snapshot.save(s.monitor, tmp, boot.disk, console)
        (tmp / cache_gc.DEPS_FILE).write_text(json.dumps(deps, indent=1) + "\n")

    try:
        cache.ensure_entry(boot.entry, build)
    finally:
        snapshot.resume(s.monitor)


def clock_command() -> str:
    """The guest's first command after a restore: its clock still reads the time of the save."""
    return f"date -s @{int(time.time())} >/dev/null"
