"""A node's disk image, made on the host (no VM): sparse, ext4, labelled, reused when kept."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from printerfact.vm import disk


def _superblock(path: Path) -> tuple[int, str]:
    """(magic, volume label) of an ext2/3/4 superblock (at byte 1024)."""
    with path.open("rb") as f:
        f.seek(1024)
        sb = f.read(1024)
    (magic,) = struct.unpack_from("<H", sb, 0x38)
    return magic, sb[0x78:0x88].rstrip(b"\0").decode()


def test_a_new_disk_is_a_sparse_ext4_image_labelled_like_nixos(tmp_path: Path) -> None:
    img = tmp_path / "vm-state-node" / "node.img"
    assert disk.ensure_disk(img, size_mb=64)
    assert img.stat().st_size == 64 * 1024 * 1024
    assert img.stat().st_blocks * 512 < 8 * 1024 * 1024  # sparse: lazily initialised tables
    assert _superblock(img) == (0xEF53, "nixos")
    assert [p.name for p in img.parent.iterdir()] == ["node.img"]  # no temporary file left
    fsck = shutil.which("e2fsck", path="/usr/sbin:/sbin")
    if fsck:
        assert subprocess.run([fsck, "-fn", str(img)], capture_output=True).returncode == 0


def _debugfs(img: Path, request: str) -> str:
    debugfs = shutil.which("debugfs", path="/usr/sbin:/sbin")
    assert debugfs
    return subprocess.run([debugfs, "-R", request, str(img)], capture_output=True, text=True).stdout


def _listing(img: Path, directory: str) -> dict[str, tuple[str, str, str]]:
    """name -> (mode in octal with the type, uid, gid), from debugfs's `ls -l`."""
    rows = (line.split() for line in _debugfs(img, f"ls -l {directory}").splitlines())
    return {f[-1]: (f[1], f[3], f[4]) for f in rows if f}


def test_a_new_disk_holds_nixos_base_file_system(tmp_path: Path) -> None:
    img = tmp_path / "node.img"
    disk.ensure_disk(img, size_mb=64)
    var = _listing(img, "var")
    assert var["tmp"] == ("41777", "0", "0") and var["empty"] == ("40555", "0", "0")
    assert var["lib"] == var["log"] == var["cache"] == ("40755", "0", "0")
    assert var["run"][0] == var["lock"][0] == "120777"
    assert 'Fast link dest: "/run/lock"' in _debugfs(img, "stat var/lock")
    # Immutable (+i) and still an extent-mapped directory, as lsattr shows it on NixOS.
    assert "Flags: 0x80010" in _debugfs(img, "stat var/empty")
    root = _listing(img, "/")
    assert (root["root"], root["tmp"], root["etc"]) == (
        ("40700", "0", "0"),
        ("41777", "0", "0"),
        ("40755", "0", "0"),
    )


def test_a_kept_disk_is_reused_untouched(tmp_path: Path) -> None:
    img = tmp_path / "node.img"
    disk.ensure_disk(img, size_mb=64)
    with img.open("r+b") as f:
        f.seek(40 * 1024 * 1024)
        f.write(b"written by the guest")
    assert not disk.ensure_disk(img, size_mb=64)
    with img.open("rb") as f:
        f.seek(40 * 1024 * 1024)
        assert f.read(20) == b"written by the guest"


def test_missing_mkfs_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disk.shutil, "which", lambda *a, **kw: None)
    with pytest.raises(disk.DiskError, match="apt-get install e2fsprogs"):
        disk.ensure_disk(tmp_path / "node.img", size_mb=64)
    assert list(tmp_path.iterdir()) == []  # nothing half-made


def test_sparse_copy_keeps_the_data_and_the_holes(tmp_path: Path) -> None:
    src, dest = tmp_path / "src.img", tmp_path / "dest.img"
    with src.open("wb") as f:
        f.truncate(256 << 20)
        f.seek(1 << 20)
        f.write(b"early" * 1000)
        f.seek(200 << 20)
        f.write(b"late")
    dest.write_bytes(b"x" * 4096)  # an older copy is replaced whole
    disk.sparse_copy(src, dest)
    assert dest.stat().st_size == src.stat().st_size
    with src.open("rb") as a, dest.open("rb") as b:
        for offset in (0, 1 << 20, 200 << 20, (256 << 20) - 4096):
            a.seek(offset)
            b.seek(offset)
            assert a.read(8192) == b.read(8192)
    assert dest.stat().st_blocks * 512 < 1 << 20  # holes, not 256 MB of zeros
