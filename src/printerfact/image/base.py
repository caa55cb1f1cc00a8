"""The base image: a busybox initramfs carrying bash, the guest scripts (guest/), the guest
contract (contract.sh), the module and the facts file, cached by content.

A node's settings go into a second archive appended to it (node.py), so starting a node never
rebuilds the base.  As on NixOS, /bin/sh is bash and commands run as root with bash; busybox
provides the other tools.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from printerfact.host import cache, distro, paths

from . import basefs, contract, cpio
from .cpio import CpioWriter

BUSYBOX = Path("/bin/busybox")
BASH = Path("/bin/bash-static")
FACTS = paths.MODULE_DIR / "facts.txt"
GUEST_DIR = Path(__file__).resolve().parent / "guest"
GUEST_LIB = contract.LIB.lstrip("/")
GUEST_COMMANDS = ("systemctl", "journalctl")  # guest scripts that go on PATH, in /usr/bin
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "fd/0", "stdout": "fd/1", "stderr": "fd/2"}
PROFILE = b"""\
# /etc/profile: sourced by the driver's agent for every command, as NixOS's backdoor does.
# Exports the marker NixOS's /etc/profile exports, so a script can tell it was sourced.
export __ETC_PROFILE_DONE=1
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
"""


def _static_tool(path: Path, tool: str) -> Path:
    """`path` (or `tool` on PATH) if it is a static executable; the error names the package."""
    found = str(path) if path.is_file() else shutil.which(tool)
    hint = distro.install_hint(tool)
    if not found:
        raise FileNotFoundError(f"{tool} not found. Install: {hint}")
    # A dynamically linked one would need its libraries in the image.
    if b"ld-linux" in Path(found).read_bytes()[:8192]:
        raise FileNotFoundError(f"{found} is not static. Install: {hint}")
    return Path(found)


def find_busybox() -> Path:
    return _static_tool(BUSYBOX, "busybox")


def find_bash() -> Path:
    return _static_tool(BASH, "bash-static")


def _guest_files() -> list[Path]:
    return sorted(p for p in GUEST_DIR.iterdir() if p.is_file())


def base_image_entry(module_ko: Path, release: str) -> Path:
    """The cache entry of the base image with `module_ko` (builds nothing)."""
    busybox = find_busybox()
    bash = find_bash()
    key = cache.content_key(
        {
            "busybox": cache.file_digest(busybox),
            "bash": cache.file_digest(bash),
            "guest": {p.name: cache.file_digest(p) for p in _guest_files()},
            "module": cache.file_digest(module_ko),
            "facts": cache.file_digest(FACTS),
            "release": release,
            "recipe": cache.recipe_digest(
                __file__, cpio.__file__, basefs.__file__, contract.__file__
            ),
        }
    )
    return paths.cache_root() / "image" / key


def ensure_base_image(module_ko: Path, release: str) -> Path:
    entry = base_image_entry(module_ko, release)
    cache.ensure_entry(
        entry,
        lambda d: write_base_image(
            d / "initrd.cpio", find_busybox(), find_bash(), module_ko, release
        ),
    )
    return entry / "initrd.cpio"


def write_base_image(dest: Path, busybox: Path, bash: Path, module_ko: Path, release: str) -> None:
    applets = subprocess.run(
        [str(busybox), "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    with dest.open("wb") as f:
        w = CpioWriter(f)
        for d in ("dev", "proc", "sys", "run", "sbin", "usr/bin", "usr/sbin"):
            w.directory(d)
        # NixOS's, with the mount points of the node's disk (guest/rc.sh).
        for d, mode in basefs.DIRS.items():
            w.directory(d, mode)
        for link, target in basefs.LINKS.items():
            w.symlink(link, target)
        w.char_device("dev/console", 5, 1)  # init's stdio before devtmpfs is mounted
        w.file("bin/busybox", busybox.read_bytes(), 0o755)
        for applet in applets:
            if applet not in ("bin/busybox", "bin/sh"):
                w.symlink(applet, "/bin/busybox")
        w.file("bin/bash", bash.read_bytes(), 0o755)
        w.symlink("bin/sh", "bash")  # as on NixOS
        w.symlink("init", "/bin/busybox")  # busybox init, configured by /etc/inittab
        for p in _guest_files():
            if p.name == "inittab":
                w.file("etc/inittab", p.read_bytes())
            else:
                w.file(f"{GUEST_LIB}/{p.name}", p.read_bytes(), 0o755)
        # rc.sh copies these into the devtmpfs /dev at boot (one process for all of them).
        for d in ("pts", "shm"):
            w.directory(f"{GUEST_LIB}/dev/{d}")
        for name, target in DEV_LINKS.items():
            w.symlink(f"{GUEST_LIB}/dev/{name}", target)
        for command in GUEST_COMMANDS:
            w.symlink(f"usr/bin/{command}", f"/{GUEST_LIB}/{command}")
        w.file(contract.CONTRACT_FILE.lstrip("/"), contract.shell().encode())
        w.file(contract.FACTS.lstrip("/"), FACTS.read_bytes())
        moddir = f"lib/modules/{release}"
        w.file(f"{moddir}/extra/printerfact.ko", module_ko.read_bytes())
        w.file(f"{moddir}/modules.dep", b"extra/printerfact.ko:\n")
        w.file("etc/profile", PROFILE)
        w.close()
