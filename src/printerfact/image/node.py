"""A node's part of its initrd: the base image, the package segments of every node and of
this one, and a small archive with the node's settings (host name, addresses, accounts,
services), which rc.sh applies at boot.  The kernel unpacks concatenated archives.
"""

from __future__ import annotations

import io
import shlex
import shutil
from pathlib import Path

from printerfact.nodes import NodeSpec, TestSpec

from . import contract, packages
from .cpio import CpioWriter

FIRST_UID = 1000  # normal users, in the order of NodeSpec.users (nix/nixos-node.nix agrees)
USERS_GID = 100
NOBODY = 65534  # nobody:nogroup, as NixOS's ids.nix


def node_env(test: TestSpec, node: NodeSpec) -> str:
    """The shell-sourceable settings rc.sh reads (see guest/rc.sh)."""
    addresses = " ".join(
        f"eth{i}={test.address(node.name, vlan)}/24"
        for i, vlan in enumerate(node.vlans, start=1)  # eth1.. as on NixOS (see rc.sh)
    )
    values = {
        contract.HOSTNAME_VAR: node.name,
        contract.MODULE_AT_BOOT_VAR: "1" if node.module_at_boot else "0",
        contract.ADDRESSES_VAR: addresses,
        contract.SERVICES_VAR: " ".join(node.services),
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
    w.file(contract.NODE_ENV.lstrip("/"), node_env(test, node).encode())
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
        w.file(f"{contract.SERVICES_DIR.lstrip('/')}/{name}", command.encode() + b"\n")
    w.close()
    return buf.getvalue()


def node_initrd(base_image: Path, test: TestSpec, node: NodeSpec, dest_dir: Path) -> Path:
    """Write `<node>.initrd` (`base_image` + the package segments of every node and of this
    one + node archive) into dest_dir and return its path."""
    wanted = (*packages.EVERY_NODE, *node.packages)
    segments = [packages.ensure_segment(p) for p in wanted if p not in packages.IN_BASE_IMAGE]
    dest = dest_dir / f"{node.name}.initrd"
    with dest.open("wb") as out:
        for part in (base_image, *segments):
            with part.open("rb") as src:
                shutil.copyfileobj(src, out)
        out.write(node_archive(test, node))
    return dest
