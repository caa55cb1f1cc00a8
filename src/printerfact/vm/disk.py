"""Each node's persistent disk: a sparse raw file holding an ext4 file system, made on the host.

NixOS test VMs keep their root disk (`<state dir>/<node>.qcow2`) across restarts within a run
and, with --keep-vm-state, across runs; this is the portable image's counterpart, mounted by
guest/rc.sh.  Formatting on the host takes milliseconds (lazy inode tables, which the guest
then mounts with `noinit_itable`), where mke2fs in a TCG guest would cost every first boot.
So does its layout, NixOS's base file system (image/basefs.py), made with debugfs: in the guest,
chattr alone (a dynamically linked program under TCG) costs tens of milliseconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from printerfact.host import distro
from printerfact.image import basefs

DISK_SIZE_MB = 1024  # NixOS's virtualisation.diskSize default
LABEL = "nixos"  # NixOS's root file system label


class DiskError(RuntimeError):
    """The disk image could not be made."""


def _find_sbin(tool: str) -> str:
    # /sbin is often not on a normal user's PATH.
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which(tool, path=path)
    if found is None:
        raise DiskError(f"{tool} not found. Install: {distro.install_hint('mkfs.ext4')}")
    return found


def find_mkfs() -> str:
    return _find_sbin("mkfs.ext4")


# ext4 inode flags (linux/fs/ext4/ext4.h): debugfs's directories use extents; +i.
_EXTENTS_FL = 0x80000
_IMMUTABLE_FL = 0x10


def layout_script() -> str:
    """debugfs commands that make NixOS's base file system (basefs) on an empty ext4 root,
    owned by root as debugfs makes everything (whoever runs it)."""
    lines = []
    for d, mode in basefs.DIRS.items():
        lines += [f"mkdir {d}", f"set_inode_field {d} mode 0{0o40000 | mode:o}"]
    lines += [f"symlink {link} {target}" for link, target in basefs.LINKS.items()]
    flags = _EXTENTS_FL | _IMMUTABLE_FL
    lines += [f"set_inode_field {d} flags {flags:#x}" for d in basefs.IMMUTABLE]
    return "".join(f"{line}\n" for line in lines)


def _lay_out(image: Path) -> None:
    result = subprocess.run(
        [_find_sbin("debugfs"), "-w", "-f", "-", str(image)],
        input=layout_script(),
        capture_output=True,
        text=True,
    )
    # debugfs exits 0 whatever its commands do: a failed one says so on stderr, after the
    # version banner.
    errors = [line for line in result.stderr.splitlines() if not line.startswith("debugfs ")]
    if result.returncode != 0 or errors:
        raise DiskError(f"debugfs {image}: {' '.join(errors) or result.returncode}")


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
        _lay_out(tmp)
        tmp.rename(path)  # never a half-made disk under the real name
    finally:
        tmp.unlink(missing_ok=True)
    return True


def sparse_copy(src: Path, dest: Path) -> None:
    """Copy a sparse disk image, its holes left holes: a 1 GiB disk holds a few MB of data,
    and a plain copy would write all of it (seconds, where a snapshot restore has 0.3)."""
    with src.open("rb") as fi, dest.open("wb") as fo:
        size = os.fstat(fi.fileno()).st_size
        fo.truncate(size)
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fi.fileno(), pos, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            end = os.lseek(fi.fileno(), start, os.SEEK_HOLE)
            os.lseek(fi.fileno(), start, os.SEEK_SET)
            os.lseek(fo.fileno(), start, os.SEEK_SET)
            left = end - start
            while left > 0:
                n = os.copy_file_range(fi.fileno(), fo.fileno(), left)
                if n == 0:
                    break
                left -= n
            pos = end
