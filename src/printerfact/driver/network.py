"""VLANs without VDE: a hub thread that forwards Ethernet frames between unix datagram sockets.

Each NIC is QEMU `-netdev dgram` with a local unix socket (QEMU binds it) and the hub's socket
for that VLAN as remote.  The hub sends every frame it gets to every *other* member of the
VLAN, like nixpkgs' `vde_switch --hub`.  Frames to a member whose QEMU is not running are
dropped, as on a cable that is not plugged in.  Everything lives in one private directory: no
TCP, nothing leaves the machine.
"""

from __future__ import annotations

import errno
import io
import os
import select
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from printerfact.driver.logger import AbstractLogger
from printerfact.driver.unavailable import unavailable, unavailable_attribute

_FRAME_MAX = 65536
_DROP = {errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN, errno.ENOBUFS}


NO_VDE = "no vde_switch: the driver's hub forwards the frames itself (driver/network.py)"


class VLan:
    """One VLAN (nixpkgs' symbol `vlans` holds these): number, hub socket, members.  nixpkgs'
    VLan runs a vde_switch; its handles on it are unavailable here."""

    process = unavailable_attribute[subprocess.Popen[str]](NO_VDE)
    pid = unavailable_attribute[int](NO_VDE)
    fd = unavailable_attribute[io.TextIOBase](NO_VDE)
    logger = unavailable_attribute[AbstractLogger]("the hub logs through the driver's logger")

    def __init__(self, nr: int, socket_dir: Path) -> None:
        self.nr = nr
        self.socket_dir = socket_dir
        self.hub_socket = socket_dir / f"vlan{nr}.hub"
        self.members: list[Path] = []
        self.frames_forwarded = 0
        self.frames_dropped = 0  # by unexpected send errors (logged), not by absent members
        self._reported: set[tuple[str, int | None]] = set()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.hub_socket))
        self.sock.setblocking(False)

    def __repr__(self) -> str:
        return f"<Vlan Nr. {self.nr}>"

    @unavailable("the driver stops every VLAN at its cleanup, none before")
    def stop(self) -> None: ...

    def member_socket(self, node: str) -> Path:
        """The local socket path of `node`'s NIC on this VLAN (registered as a member)."""
        path = self.socket_dir / f"vlan{self.nr}.{node}"
        if path not in self.members:
            self.members.append(path)
        return path

    def forward(self, log: Callable[[str], None] = lambda msg: None) -> None:
        """Forward every queued frame; a send error concerns one member only, so it is
        logged (once per member and error) and the other members still get the frame."""
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
                    if e.errno in _DROP:
                        continue  # its QEMU is not running: a cable not plugged in
                    self.frames_dropped += 1
                    key = (str(member), e.errno)
                    if key not in self._reported:
                        self._reported.add(key)
                        log(f"vlan{self.nr}: cannot forward frames to {member}: {e}")


class Hub:
    """Forwards frames for all VLANs of a run in one daemon thread."""

    def __init__(
        self,
        socket_dir: Path,
        vlan_numbers: list[int],
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.vlans = [VLan(nr, socket_dir) for nr in sorted(set(vlan_numbers))]
        self._log = log or (lambda msg: print(f"printerfact: {msg}", file=sys.stderr))
        self.error: str | None = None  # why the hub thread died, if it did
        self._wake_r, self._wake_w = os.pipe()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="vlan-hub", daemon=True)
        if self.vlans:
            self._thread.start()

    def vlan(self, nr: int) -> VLan:
        return next(v for v in self.vlans if v.nr == nr)

    def _run(self) -> None:
        try:
            by_fd = {v.sock.fileno(): v for v in self.vlans}
            while True:
                ready, _, _ = select.select([self._wake_r, *by_fd], [], [])
                if self._wake_r in ready:
                    return
                for fd in ready:
                    by_fd[fd].forward(self._log)
        except BaseException as e:
            if self._stopped:
                return
            # Not per destination (the hub's own socket broke): every VLAN is dead from here.
            self.error = f"{type(e).__name__}: {e}"
            self._log(f"VLAN HUB DIED, no more network traffic between the VMs: {self.error}")
            raise

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
