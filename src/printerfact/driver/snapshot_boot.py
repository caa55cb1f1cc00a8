"""A Machine's snapshot boot (vm/snapshot.py has QEMU's side): which snapshot a node uses, and
the steps around QEMU's start and the guest's first command.

The first run of a node boots it (SeaBIOS + vmgenid, the share mounted only at the first
command that names it: see vm/snapshot.py), saves it once the guest agent is up and goes on;
later runs start QEMU from the saved state.  Whatever cannot be restored faithfully boots the
normal way, and the log says why.
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


def cache_dir(flag: bool | Path | None = None) -> Path | None:
    """The snapshot cache if snapshot boots are on (the flag, else $PRINTERFACT_SNAPSHOTS, else
    off), else None; a path as the flag: on, with that directory as the cache (the bench's
    saving run starts from an empty one)."""
    if isinstance(flag, Path):
        return flag
    on = flag if flag is not None else os.environ.get(ENV, "0") not in ("", "0", "no", "false")
    return paths.cache_root() / "snapshot" if on else None


@dataclass
class SnapshotBoot:
    entry: Path
    restore: bool  # True: QEMU starts from `entry`; False: the boot is saved into it
    console: list[str]  # the console up to the save (a restore replays it)
    disk: Path | None
    ram: Path  # the saving run's RAM file (in the run's directory)
    replayed: int = 0  # console lines replayed: the reseed line comes after them


def snapshot_config(qc: QemuConfig) -> QemuConfig:
    """The node's QEMU config for a snapshot boot: SeaBIOS (see vm/snapshot.py) and the
    kernel argument that defers the share's mount."""
    return dataclasses.replace(qc, bios=None, append=f"{qc.append} {snapshot.SNAPSHOT_ARG}")


# The debug flavour boots with acpi=noirq (ACPI's PCI IRQ routing is slow there), which leaves
# ACPI's own interrupt on the unrouted 8259 (/proc/interrupts: "9: XT-PIC acpi", where the
# default kernel has "IO-APIC 9-fasteoi acpi"): vmgenid's notification never arrives, and a
# restored guest would keep the saved CRNG.  pci=noacpi sets acpi=noirq too (tried).
NO_SCI = "acpi=noirq"


def prepare(
    root: Path,
    qc: QemuConfig,
    socket_dirs: tuple[Path, ...],
    ram: Path,
    disk_kept: bool,
    log: Callable[[str], None],
) -> tuple[list[str], SnapshotBoot | None]:
    """The argv to start the node with, and its snapshot boot (None: a normal boot); `ram`:
    where a saving run keeps the guest's RAM (a file of the run's own)."""
    if disk_kept:
        log(
            "snapshot: not used: the node's disk is kept from an earlier run, a restore would"
            " replace it with the saved one"
        )
        return qemu_argv(qc), None
    if NO_SCI in qc.append.split():
        log(
            f"snapshot: not used: the kernel's {NO_SCI} (the debug flavour's) leaves ACPI's"
            " interrupt unrouted, so vmgenid could not reseed a restored guest's CRNG"
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
        argv,  # the RAM file's arguments differ between saving and restoring: not in the key
        snapshot.Placeholders(places),
        {
            "initrd": cache.file_digest(qc.initrd),
            "qemu": _qemu_identity(qc.qemu),
            "layout": snapshot.LAYOUT,
        },
    )
    entry = root / key
    if cache.is_complete(entry) and cache.hold(entry):
        console = snapshot.prepare_restore(entry, qc.disk)
        log(f"snapshot: restoring {entry}")
        return (
            snapshot.restore_argv(argv, entry, qc.memory_mb),
            SnapshotBoot(entry, True, console, qc.disk, ram),
        )
    log(f"snapshot: none yet for this node: booting, then saving it to {entry}")
    ram.unlink(missing_ok=True)
    saving = [*argv, *snapshot.ram_args(ram, qc.memory_mb, shared=True)]
    return saving, SnapshotBoot(entry, False, [], qc.disk, ram)


def _qemu_identity(qemu: str) -> str:
    """QEMU's binary (a new build may not load an old state)."""
    path = shutil.which(qemu)
    if path is None:
        return qemu
    st = os.stat(path)
    return f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"


def resume_restored(s: VmSession, boot: SnapshotBoot) -> None:
    """Right after QEMU started from the snapshot: start loading the devices' state, replay
    the console up to the save, then resume the guest (QEMU runs it once the state is loaded),
    whether or not a command follows: a script may wait for console text first."""
    snapshot.load(s.monitor, boot.entry)
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


# x86's TSC calibration is refined 1 s after boot picks tsc-early (arch/x86/kernel/tsc.c,
# tsc_refine_calibration_work), which ends with a switch of clocksource: past the agent's
# banner under TCG.  Saved before it, every restore would do it during its first command.
TSC_EARLY = "clocksource: Switched to clocksource tsc-early"
TSC_REFINED = "clocksource: Switched to clocksource tsc"
SETTLE_TIMEOUT_S = 5.0


def await_settled(s: VmSession) -> None:
    """Before the save: the guest's work that follows the boot by a second done (the TSC's
    refined calibration), so that restores start without it; a guest that never does it is
    saved anyway once SETTLE_TIMEOUT_S have passed."""
    with s.console.changed:
        early = any(line.endswith(TSC_EARLY) for line in s.console.lines)
    if early:
        s.console.wait_for(lambda line: line.endswith(TSC_REFINED), 0, SETTLE_TIMEOUT_S)


def save(s: VmSession, boot: SnapshotBoot, deps: dict[str, str]) -> None:
    """Save the booted guest into its snapshot entry (unless another run just did), then
    resume it."""

    def console() -> list[str]:
        with s.console.changed:
            return list(s.console.lines)

    def build(tmp: Path) -> None:
        snapshot.save(s.monitor, tmp, boot.ram, boot.disk, console)
        (tmp / cache_gc.DEPS_FILE).write_text(json.dumps(deps, indent=1) + "\n")

    await_settled(s)
    try:
        cache.ensure_entry(boot.entry, build)
    finally:
        snapshot.resume(s.monitor)


def clock_now() -> int:
    """The clock to give a restored guest, whose clock still reads the time of the save (to
    the nearest second: the agent sets it with `date -s @N`)."""
    return round(time.time())
