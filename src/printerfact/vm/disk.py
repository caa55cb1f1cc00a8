"""Each node's persistent disk: a sparse raw file holding an ext4 file system, made on the host.

NixOS test VMs keep their root disk (`<state dir>/<node>.qcow2`) across restarts within a run
and, with --keep-vm-state, across runs; this is the portable image's counterpart, mounted by
guest/rc.sh.  Formatting on the host takes milliseconds (lazy inode tables, which the guest
then mounts with `noinit_itable`), where mke2fs in a TCG guest would cost every first boot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from printerfact.build import distro

DISK_SIZE_MB = 1024  # NixOS's virtualisation.diskSize default
LABEL = "nixos"  # NixOS's root file system label


class DiskError(RuntimeError):
    """The disk image could not be made."""


def find_mkfs() -> str:
    # /sbin is often not on a normal user's PATH.
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which("mkfs.ext4", path=path)
    if found is None:
        raise DiskError(f"mkfs.ext4 not found. Install: {distro.install_hint('mkfs.ext4')}")
    return found


def ensure_disk(path: Path, size_mb: int = DISK_SIZE_MB) -> bool:
    """Make and format `path` unless it exists (a kept disk is reused); True if it was made."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as f:
            f.truncate(size_mb * 1024 * 1024)  # sparse: takes no space until written
        result = subprocess.run(
            [
                find_mkfs(),
                "-q",
                "-F",
                "-L",
                LABEL,
                "-E",
                "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0",
                str(tmp),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise DiskError(f"mkfs.ext4 {tmp} failed: {result.stderr.strip()}")
        tmp.rename(path)  # never a half-made disk under the real name
    finally:
        tmp.unlink(missing_ok=True)
    return True
