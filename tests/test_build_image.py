"""The initramfs writer, checked by unpacking its output with GNU cpio (no VM needed)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
from pathlib import Path

from printerfact.build import image
from printerfact.build.cpio import CpioWriter
from printerfact.nodes import load_tests


def _unpack(archive: bytes, dest: Path) -> None:
    dest.mkdir()
    subprocess.run(
        ["cpio", "-id", "--quiet", "--no-absolute-filenames"],
        input=archive,
        cwd=dest,
        check=True,
    )


def test_cpio_round_trip(tmp_path: Path) -> None:
    buf = io.BytesIO()
    w = CpioWriter(buf)
    w.file("etc/x/odd", b"abc", 0o600)  # 3 bytes: exercises padding
    w.file("bin/tool", bytes(range(256)), 0o755)
    w.symlink("usr/bin/t", "/bin/tool")
    w.close()
    _unpack(buf.getvalue(), tmp_path / "root")
    root = tmp_path / "root"
    assert (root / "etc/x/odd").read_bytes() == b"abc"
    assert stat.S_IMODE((root / "etc/x/odd").stat().st_mode) == 0o600
    assert (root / "bin/tool").read_bytes() == bytes(range(256))
    assert os.readlink(root / "usr/bin/t") == "/bin/tool"


def test_node_archive_carries_the_node_settings(tmp_path: Path) -> None:
    test = load_tests()["network"]
    server = next(n for n in test.nodes if n.name == "server")
    _unpack(image.node_archive(test, server), tmp_path / "root")
    root = tmp_path / "root"
    env = (root / "etc/printerfact/node.env").read_text()
    assert "PF_HOSTNAME=server\n" in env
    assert "PF_ADDRESSES=eth1=192.168.1.2/24\n" in env
    assert "PF_MODULE_AT_BOOT=1\n" in env
    hosts = (root / "etc/hosts").read_text().splitlines()
    assert "192.168.1.1 client" in hosts and "192.168.1.2 server" in hosts
    assert (root / "etc/printerfact/services/factd").read_text().startswith("exec busybox nc")


def test_users_get_consecutive_uids(tmp_path: Path) -> None:
    test = load_tests()["printerfact"]
    _unpack(image.node_archive(test, test.nodes[0]), tmp_path / "root")
    passwd = (tmp_path / "root/etc/passwd").read_text().splitlines()
    assert passwd[0].startswith("root:x:0:0:")
    assert passwd[1].startswith("alice:x:1000:100:")
    home = (tmp_path / "root/home/alice").stat()  # cpio run as root keeps owners
    assert (home.st_uid, home.st_gid, stat.S_IMODE(home.st_mode)) == (1000, 100, 0o700)
