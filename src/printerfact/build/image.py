"""The VM image: a busybox initramfs carrying the module, plus a tiny per-node archive.

The base image (busybox, bash, the guest scripts, the module, the facts file) is cached by
content.  A node's settings (hostname, addresses, accounts, services) go into a second archive
appended to it, so starting a node never rebuilds the base.  As on NixOS, /bin/sh is bash
and commands run as root with bash; busybox provides the other tools.
"""

from __future__ import annotations

import io
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from printerfact.nodes import NodeSpec, TestSpec

from . import basefs, cache, cpio, distro, packages, paths
from .cpio import CpioWriter

if TYPE_CHECKING:
    from .artifacts import Artifacts

BUSYBOX = Path("/bin/busybox")
BASH = Path("/bin/bash-static")
FACTS = paths.MODULE_DIR / "facts.txt"
GUEST_LIB = "usr/lib/printerfact"
GUEST_COMMANDS = ("systemctl", "journalctl")  # guest scripts that go on PATH, in /usr/bin
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "fd/0", "stdout": "fd/1", "stderr": "fd/2"}
FIRST_UID = 1000  # normal users, in the order of NodeSpec.users (nix/nixos-node.nix agrees)
USERS_GID = 100
NOBODY = 65534  # nobody:nogroup, as NixOS's ids.nix
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
    return sorted(p for p in paths.GUEST_DIR.iterdir() if p.is_file())


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
            "recipe": cache.recipe_digest(__file__, cpio.__file__, basefs.__file__),
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
        w.file("etc/printerfact/facts.txt", FACTS.read_bytes())
        moddir = f"lib/modules/{release}"
        w.file(f"{moddir}/extra/printerfact.ko", module_ko.read_bytes())
        w.file(f"{moddir}/modules.dep", b"extra/printerfact.ko:\n")
        w.file("etc/profile", PROFILE)
        w.close()


def node_env(test: TestSpec, node: NodeSpec) -> str:
    """The shell-sourceable settings rc.sh reads (see guest/rc.sh)."""
    addresses = " ".join(
        f"eth{i}={test.address(node.name, vlan)}/24"
        for i, vlan in enumerate(node.vlans, start=1)  # eth1.. as on NixOS (see rc.sh)
    )
    values = {
        "PF_HOSTNAME": node.name,
        "PF_MODULE_AT_BOOT": "1" if node.module_at_boot else "0",
        "PF_ADDRESSES": addresses,
        "PF_SERVICES": " ".join(node.services),
    }
    return "".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items())


def _passwd(users: tuple[str, ...]) -> tuple[bytes, bytes]:
    """The accounts NixOS creates for the node: root, nobody, the normal users (shell bash,
    group users); groups root, users, nogroup.  Homes are made at boot (guest/rc.sh)."""
    passwd = [
        "root:x:0:0:System administrator:/root:/bin/bash",
        f"nobody:x:{NOBODY}:{NOBODY}:Unprivileged account (don't use!):/var/empty:"
        "/usr/sbin/nologin",
    ]
    group = ["root:x:0:", f"users:x:{USERS_GID}:" + ",".join(users), f"nogroup:x:{NOBODY}:"]
    for uid, user in enumerate(users, start=FIRST_UID):
        passwd.append(f"{user}:x:{uid}:{USERS_GID}::/home/{user}:/bin/bash")
    return ("\n".join(passwd) + "\n").encode(), ("\n".join(group) + "\n").encode()


def node_archive(test: TestSpec, node: NodeSpec) -> bytes:
    buf = io.BytesIO()
    w = CpioWriter(buf)
    w.file("etc/printerfact/node.env", node_env(test, node).encode())
    w.file("etc/hostname", f"{node.name}\n".encode())
    # As NixOS writes it: networking.nix's lines, then the test network's (nixos/lib/testing/
    # network.nix), one per node with a VLAN, in the order of its node set (by name).
    hosts = ["127.0.0.1 localhost", "::1 localhost", f"127.0.0.2 {node.name}"]
    hosts += [f"{ip} {name}" for name, ip in sorted(test.hosts().items())]
    w.file("etc/hosts", ("\n".join(hosts) + "\n").encode())
    passwd, group = _passwd(node.users)
    w.file("etc/passwd", passwd)
    w.file("etc/group", group)
    for name, command in node.services.items():
        w.file(f"etc/printerfact/services/{name}", command.encode() + b"\n")
    w.close()
    return buf.getvalue()


def node_initrd(artifacts: Artifacts, test: TestSpec, node: NodeSpec, dest_dir: Path) -> Path:
    """Write `<node>.initrd` (base image + the package segments of every node and of this one +
    node archive) into dest_dir and return its path."""
    wanted = (*packages.EVERY_NODE, *node.packages)
    segments = [packages.ensure_segment(p) for p in wanted if p not in packages.IN_BASE_IMAGE]
    dest = dest_dir / f"{node.name}.initrd"
    with dest.open("wb") as out:
        for part in (artifacts.initrd, *segments):
            with part.open("rb") as src:
                shutil.copyfileobj(src, out)
        out.write(node_archive(test, node))
    return dest
