"""QEMU's human monitor (HMP) on a unix socket: one command at a time, reply up to the prompt.

As nixpkgs' `send_monitor_command`, a reply is everything QEMU sent after the command, up to
and including the next `(qemu) ` prompt: its readline echo of the command, the output (lines
end in CRLF), the prompt."""

from __future__ import annotations

import select
import socket
import threading
import time

PROMPT = b"(qemu) "


class MonitorError(Exception):
    pass


class Monitor:
    def __init__(self, sock: socket.socket, timeout: float = 10.0) -> None:
        self._sock = sock
        self._timeout = timeout
        self._lock = threading.Lock()
        self.read_to_prompt()  # the greeting

    def read_to_prompt(self) -> str:
        """What QEMU sends until the next prompt, the prompt included."""
        buf = b""
        deadline = time.monotonic() + self._timeout
        while not buf.endswith(PROMPT):
            left = deadline - time.monotonic()
            if left <= 0:
                raise MonitorError(f"no monitor prompt after {self._timeout}s: {buf!r}")
            r, _, _ = select.select([self._sock], [], [], left)
            if r:
                chunk = self._sock.recv(4096)
                if not chunk:
                    raise MonitorError("monitor connection closed")
                buf += chunk
        return buf.decode(errors="replace")

    def command(self, cmd: str) -> str:
        """Send one HMP command; returns the reply (see above)."""
        with self._lock:
            self._sock.sendall(cmd.encode() + b"\n")
            return self.read_to_prompt()

    def send_quit(self) -> None:
        """`quit` gets no prompt back: QEMU just exits."""
        with self._lock:
            self._sock.sendall(b"quit\n")

    def close(self) -> None:
        self._sock.close()
