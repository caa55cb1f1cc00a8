"""VLANs without VDE: a hub thread that forwards Ethernet frames between unix datagram sockets.

Each NIC is QEMU `-netdev dgram` with a local unix socket (QEMU binds it) and the hub's socket
for that VLAN as remote.  The hub sends every frame it gets to every *other* member of the
VLAN, like nixpkgs' `vde_switch --hub`.  Frames to a member whose QEMU is not running are
dropped, as on a cable that is not plugged in.  Everything lives in one private directory: no
TCP, nothing leaves the machine.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import threading
from pathlib import Path

_FRAME_MAX = 65536
_DROP = {errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN, errno.ENOBUFS}


class VLan:
    """One VLAN (nixpkgs' symbol `vlans` holds these): number, hub socket, members."""

    def __init__(self, nr: int, socket_dir: Path) -> None:
        self.nr = nr
        self.socket_dir = socket_dir
        self.hub_socket = socket_dir / f"vlan{nr}.hub"
        self.members: list[Path] = []
        self.frames_forwarded = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.hub_socket))
        self.sock.setblocking(False)

    def __repr__(self) -> str:
        return f"<Vlan Nr. {self.nr}>"

    def member_socket(self, node: str) -> Path:
        """The local socket path of `node`'s NIC on this VLAN (registered as a member)."""
        path = self.socket_dir / f"vlan{self.nr}.{node}"
        if path not in self.members:
            self.members.append(path)
        return path

    def forward(self) -> None:
        while True:
            try:
                frame, sender = self.sock.recvfrom(_FRAME_MAX)
            except BlockingIOError:
                return
            for member in self.members:
                if str(member) == sender:
                    continue
                try:
                    self.sock.sendto(frame, str(member))
                    self.frames_forwarded += 1
                except OSError as e:
                    if e.errno not in _DROP:
                        raise


class Hub:
    """Forwards frames for all VLANs of a run in one daemon thread."""

    def __init__(self, socket_dir: Path, vlan_numbers: list[int]) -> None:
        self.vlans = [VLan(nr, socket_dir) for nr in sorted(set(vlan_numbers))]
        self._wake_r, self._wake_w = os.pipe()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="vlan-hub", daemon=True)
        if self.vlans:
            self._thread.start()

    def vlan(self, nr: int) -> VLan:
        return next(v for v in self.vlans if v.nr == nr)

    def _run(self) -> None:
        by_fd = {v.sock.fileno(): v for v in self.vlans}
        while True:
            ready, _, _ = select.select([self._wake_r, *by_fd], [], [])
            if self._wake_r in ready:
                return
            for fd in ready:
                by_fd[fd].forward()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for v in self.vlans:
            v.sock.close()
            v.hub_socket.unlink(missing_ok=True)
        os.close(self._wake_r)
        os.close(self._wake_w)
