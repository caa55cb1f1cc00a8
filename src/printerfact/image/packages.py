"""Extra programs a node asks for (`packages` in tests.toml), taken from Debian's packages.

Each package becomes one cached cpio segment holding its programs and every shared library they
load (their `ldd` closure, with the dynamic loader), at the paths the host has them.  Only the
nodes that list a package get its segment appended to their initrd, so the base image (and every
other node's boot) stays as small as it was.  On NixOS the same names map to nixpkgs' packages
(nix/nixos-node.nix).
"""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

from printerfact.host import cache, paths

from .cpio import CpioWriter

# Node package (printerfact.nodes.KNOWN_PACKAGES) -> Debian package.  `busybox` is in every
# image already (busybox-static).
DEBIAN_PACKAGES: dict[str, str] = {"trinity": "trinity", "stress-ng": "stress-ng"}
IN_BASE_IMAGE = frozenset({"busybox"})
# Debian package -> the only programs taken from it, in every node's initrd (no node asks for
# them): NixOS has them on PATH (e2fsprogs comes with its ext4 root file system).  Just these,
# as every node's boot unpacks them: lsattr and chattr and their libraries are 2.2 MB, all of
# e2fsprogs twice that.
EVERY_NODE: dict[str, frozenset[str]] = {"e2fsprogs": frozenset({"chattr", "lsattr"})}

_BIN_DIRS = ("/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/")
# `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` and `/lib64/ld-linux-x86-64.so.2 (...)`
_LDD_PATH = re.compile(r"(?:=>\s+)?(/\S+)\s+\(0x[0-9a-f]+\)")


class PackageError(RuntimeError):
    pass


def _run(argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PackageError(proc.stderr.strip() or f"{argv[0]} exited with {proc.returncode}")
    return proc.stdout


def installed_version(deb: str) -> str:
    try:
        out = _run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Version}", deb])
    except PackageError:
        out = ""
    status, _, version = out.partition(" ")
    if not status.startswith("ii"):
        raise PackageError(f"Debian package {deb} is not installed. Install: apt-get install {deb}")
    return version.strip()


def programs(deb: str) -> list[Path]:
    """The executables the package installs in a bin directory."""
    found = []
    for line in _run(["dpkg", "-L", deb]).splitlines():
        path = Path(line)
        if line.startswith(_BIN_DIRS) and path.is_file() and path.stat().st_mode & 0o111:
            found.append(path)
    if not found:
        raise PackageError(f"Debian package {deb} installs no program")
    return sorted(found)


def shared_libraries(program: Path) -> list[Path]:
    """What the dynamic loader maps for `program` (the loader itself included), per ldd."""
    proc = subprocess.run(["ldd", str(program)], capture_output=True, text=True, check=False)
    if "not a dynamic executable" in proc.stdout + proc.stderr:
        return []
    if proc.returncode != 0:
        raise PackageError(f"ldd {program}: {proc.stderr.strip()}")
    if "not found" in proc.stdout:
        raise PackageError(f"ldd {program}: missing libraries:\n{proc.stdout}")
    return [Path(m[1]) for m in map(_LDD_PATH.search, proc.stdout.splitlines()) if m]


def _debian_package(name: str) -> str:
    if name in EVERY_NODE:
        return name
    if name not in DEBIAN_PACKAGES:
        raise PackageError(f"no Debian package for node package {name!r}")
    return DEBIAN_PACKAGES[name]


def segment(name: str) -> bytes:
    """The cpio segment of node package `name` (programs + shared libraries), or of the
    programs an EVERY_NODE package gives every node."""
    only = EVERY_NODE.get(name)
    files: dict[Path, None] = {}
    for program in programs(_debian_package(name)):
        if only is not None and program.name not in only:
            continue
        files[program] = None
        files.update(dict.fromkeys(shared_libraries(program)))
    buf = io.BytesIO()
    w = CpioWriter(buf)
    for path in files:
        # At the path the loader asks for (e.g. /lib64/ld-linux-x86-64.so.2), with the content
        # it resolves to on the host (merged /usr: /lib is a symlink there, not in the image).
        w.file(str(path), path.resolve().read_bytes(), 0o755)
    w.close()
    return buf.getvalue()


def segment_entry(name: str) -> Path:
    """The cache entry of node package `name`'s (or EVERY_NODE package's) segment (builds
    nothing)."""
    deb = _debian_package(name)
    key = cache.content_key(
        {"package": deb, "version": installed_version(deb), "recipe": cache.recipe_digest(__file__)}
    )
    return paths.cache_root() / "packages" / f"{name}-{key}"


def ensure_segment(name: str) -> Path:
    """The cached segment of node package `name`; rebuilt when the Debian package changes."""
    entry = segment_entry(name)

    def build(dest: Path) -> None:
        (dest / "segment.cpio").write_bytes(segment(name))

    cache.ensure_entry(entry, build)
    return entry / "segment.cpio"
