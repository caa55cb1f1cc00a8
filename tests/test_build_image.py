"""The initramfs writer, checked by unpacking its output with GNU cpio (no VM needed)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
from pathlib import Path

import pytest

from printerfact.image import base, basefs, contract, node, packages
from printerfact.image.cpio import CpioWriter
from printerfact.nodes import KNOWN_PACKAGES, load_tests


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
    _unpack(node.node_archive(test, server), tmp_path / "root")
    root = tmp_path / "root"
    env = (root / "etc/printerfact/node.env").read_text()
    assert "PF_HOSTNAME=server\n" in env
    assert "PF_ADDRESSES=eth1=192.168.1.2/24\n" in env
    assert "PF_MODULE_AT_BOOT=1\n" in env
    hosts = (root / "etc/hosts").read_text().splitlines()
    # NixOS's lines first (networking.nix): localhost on both families, the host name on
    # 127.0.0.2; then every node on its first VLAN (the test network's extraHosts).
    assert hosts == [
        "127.0.0.1 localhost",
        "::1 localhost",
        "127.0.0.2 server",
        "192.168.1.1 client",
        "192.168.1.2 server",
    ]
    assert (root / "etc/printerfact/services/factd").read_text().startswith("exec busybox nc")


def test_accounts_are_the_ones_nixos_creates(tmp_path: Path) -> None:
    test = load_tests()["printerfact"]
    _unpack(node.node_archive(test, test.nodes[0]), tmp_path / "root")
    passwd = [line.split(":") for line in (tmp_path / "root/etc/passwd").read_text().splitlines()]
    group = [line.split(":") for line in (tmp_path / "root/etc/group").read_text().splitlines()]
    # name, uid, gid, home, shell
    assert [(p[0], p[2], p[3], p[5], p[6]) for p in passwd] == [
        ("root", "0", "0", "/root", "/bin/bash"),
        ("nobody", "65534", "65534", "/var/empty", "/usr/sbin/nologin"),
        ("alice", "1000", "100", "/home/alice", "/bin/bash"),  # normal users: uid 1000, ...
    ]
    assert [(g[0], g[2]) for g in group] == [("root", "0"), ("users", "100"), ("nogroup", "65534")]


def _base_image(tmp_path: Path) -> Path:
    """The base image (with a stand-in module) unpacked; its root."""
    ko = tmp_path / "printerfact.ko"
    ko.write_bytes(b"\x7fELF-not-really")
    dest = tmp_path / "initrd.cpio"
    base.write_base_image(dest, base.find_busybox(), base.find_bash(), ko, "6.12.0")
    _unpack(dest.read_bytes(), tmp_path / "root")
    return tmp_path / "root"


def test_base_image_has_bash_as_sh_and_the_systemd_commands(tmp_path: Path) -> None:
    root = _base_image(tmp_path)
    assert (root / "bin/bash").read_bytes() == base.find_bash().read_bytes()
    assert os.readlink(root / "bin/sh") == "bash"  # as on NixOS
    assert os.readlink(root / "usr/bin/systemctl") == "/usr/lib/printerfact/systemctl"
    assert os.readlink(root / "usr/bin/journalctl") == "/usr/lib/printerfact/journalctl"
    assert "__ETC_PROFILE_DONE=1" in (root / "etc/profile").read_text()
    inittab = (root / "etc/inittab").read_text()
    assert "ttyS0" not in inittab  # no root shell on the serial console, as on NixOS
    assert "::ctrlaltdel:/sbin/reboot" in inittab


def test_base_image_carries_the_guest_contract(tmp_path: Path) -> None:
    # What the guest scripts source: every value of contract.py, as the shell reads it back.
    root = _base_image(tmp_path)
    script = root / contract.CONTRACT_FILE.lstrip("/")
    names = " ".join(f'"${k}"' for k in contract.SHELL)
    read = subprocess.run(
        [str(base.find_busybox()), "sh", "-c", f'. "$1"; printf "%s\\n" {names}', "-", script],
        capture_output=True,
        text=True,
        check=True,
    )
    assert read.stdout.splitlines() == list(contract.SHELL.values())


def test_base_image_has_nixos_base_file_system(tmp_path: Path) -> None:
    root = _base_image(tmp_path)

    def mode(path: str) -> int:
        return stat.S_IMODE((root / path).lstat().st_mode)

    # tmp.conf, the activation's /var/empty, systemd.conf's private directories.
    assert (mode("tmp"), mode("var/tmp"), mode("var/empty"), mode("root")) == (
        0o1777,
        0o1777,
        0o555,
        0o700,
    )
    for d in ("var/lib", "var/log", "var/cache", "var/spool", "var/db", "var/lib/systemd"):
        assert mode(d) == 0o755, d
    for d in ("var/lib/private", "var/log/private", "var/cache/private"):
        assert mode(d) == 0o700, d
    assert mode("tmp/.X11-unix") == 0o1777
    # stage-2-init.sh's links; /etc/mtab as NixOS's environment.etc.mtab.
    links = {p: os.readlink(root / p) for p in ("var/run", "var/lock", "etc/mtab")}
    assert links == {"var/run": "/run", "var/lock": "/run/lock", "etc/mtab": "/proc/mounts"}
    # The mount points the node's disk lends (guest/fstab.persist) are there, and on the disk.
    persist = (base.GUEST_DIR / "fstab.persist").read_text().splitlines()
    lent = [line.split()[1].strip("/") for line in persist if line.startswith("/")]
    assert lent and all(d in basefs.DIRS and (root / d).is_dir() for d in lent)


def test_every_node_has_lsattr_and_chattr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As on NixOS, where e2fsprogs comes with the ext4 root: only these two programs (and
    # their libraries) of Debian's package, not mke2fs and the rest.
    monkeypatch.setenv("PRINTERFACT_CACHE", str(tmp_path / "cache"))
    base_image = tmp_path / "base.cpio"
    with base_image.open("wb") as f:
        CpioWriter(f).close()
    test = load_tests()["lifecycle"]  # a node that asks for no packages
    initrd = node.node_initrd(base_image, test, test.nodes[0], tmp_path).read_bytes()
    segment = packages.ensure_segment("e2fsprogs").read_bytes()
    assert segment in initrd  # GNU cpio unpacks only the first of concatenated archives
    _unpack(segment, tmp_path / "root")
    root = tmp_path / "root"
    assert (root / "usr/bin/lsattr").is_file() and (root / "usr/bin/chattr").is_file()
    assert (root / "lib64/ld-linux-x86-64.so.2").is_file()
    assert not list(root.glob("*/mke2fs")) and not list(root.glob("*/e2fsck"))


def test_a_missing_bash_static_names_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "BASH", tmp_path / "absent")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="apt-get install bash-static"):
        base.find_bash()
    dynamic = tmp_path / "bash-static"
    dynamic.write_bytes(b"\x7fELF /lib64/ld-linux-x86-64.so.2")
    dynamic.chmod(0o755)
    with pytest.raises(
        FileNotFoundError, match="is not static. Install: apt-get install bash-static"
    ):
        base.find_bash()


def test_every_node_package_has_a_debian_package_or_is_in_the_base_image() -> None:
    # nodes.py says which names a node may ask for; packages.py must map exactly those.
    assert not packages.IN_BASE_IMAGE & packages.DEBIAN_PACKAGES.keys()
    assert packages.IN_BASE_IMAGE | packages.DEBIAN_PACKAGES.keys() == KNOWN_PACKAGES
