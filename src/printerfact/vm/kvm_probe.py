"""Pick the accelerator: KVM only if a guest really runs under it here, else TCG.

Opening /dev/kvm is not enough (on hosts without nested virtualisation every guest dies with
"KVM internal error"), and neither is the kernel's banner (a guest can print it and die a
moment later), so the probe boots the test kernel under KVM, with no initrd, and requires it
to get through the whole kernel initialisation to the point where it runs init (`Run /...`,
or the root-fs/no-init panic that ends such a boot) within PROBE_SECONDS.  The verdict is
cached per host boot (/proc/sys/kernel/random/boot_id).  PRINTERFACT_ACCEL=kvm|tcg|auto
overrides (default auto).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

from printerfact.host.paths import cache_root
from printerfact.vm.qemu_argv import Accel, kernel_cmdline

ENV = "PRINTERFACT_ACCEL"
BANNER = b"Linux version"
# Printed only after every initcall ran: the kernel really works under this accelerator.
EVIDENCE = (b"Run /", b"VFS: Unable to mount root", b"No working init found")
PROBE_SECONDS = 15.0
PROBE_APPEND = kernel_cmdline(probe=True)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _cache_file() -> Path:
    return cache_root() / "accel.json"


def probe_kvm(kernel: Path, qemu: str = "qemu-system-x86_64") -> tuple[bool, str]:
    """Boot `kernel` under KVM; (works, reason)."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "/dev/kvm is missing or not accessible"
    works, why = probe_boot(kernel, "kvm", qemu)
    if works:
        return True, f"a test kernel booted under KVM ({why})"
    return False, f"a test kernel did not boot under KVM ({why})"


def probe_boot(
    kernel: Path,
    accel: Accel,
    qemu: str = "qemu-system-x86_64",
    seconds: float = PROBE_SECONDS,
    append: str = PROBE_APPEND,
) -> tuple[bool, str]:
    """Boot `kernel` (no initrd) under `accel` until it runs init: (reached init, why)."""
    cpu = ["-cpu", "host"] if accel == "kvm" else []
    argv = [
        qemu, "-M", "pc", "-accel", accel, *cpu, "-m", "128",
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-serial", "stdio", "-kernel", str(kernel), "-append", append,
    ]  # fmt: skip
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            r, _, _ = select.select([proc.stdout], [], [], left)
            if not r:
                break
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            seen += chunk
            for marker in EVIDENCE:
                if marker in seen:
                    return True, f"the kernel got through its initialisation ({marker.decode()!r})"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    lines = [ln for ln in seen.decode(errors="replace").splitlines() if ln.strip()]
    if not lines:
        return False, f"no console output within {seconds:.0f}s"
    stage = "the banner, then it" if BANNER in seen else "it"
    return False, f"{stage} stopped before running init; last line: {lines[-1].strip()}"


def choose_accel(
    kernel: Path, log: Callable[[str], None], qemu: str = "qemu-system-x86_64"
) -> Accel:
    wanted = os.environ.get(ENV, "auto")
    if wanted in ("kvm", "tcg"):
        log(f"accelerator: {wanted} ({ENV}={wanted})")
        return cast(Accel, wanted)
    if wanted != "auto":
        raise ValueError(f"{ENV} must be kvm, tcg or auto, not {wanted!r}")
    boot_id = _boot_id()
    cache = _cache_file()
    try:
        cached = json.loads(cache.read_text())
        if cached.get("boot_id") == boot_id and cached.get("accel") in ("kvm", "tcg"):
            log(f"accelerator: {cached['accel']} (cached for this host boot: {cached['reason']})")
            return cast(Accel, cached["accel"])
    except (OSError, ValueError):
        pass
    works, reason = probe_kvm(kernel, qemu)
    accel: Accel = "kvm" if works else "tcg"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"boot_id": boot_id, "accel": accel, "reason": reason}))
    log(f"accelerator: {accel} (probed: {reason})")
    return accel
