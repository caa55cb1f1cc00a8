"""QEMU's machine protocol (QMP) on a unix socket, with nixpkgs' `QMPSession` API
(test_driver/qmp.py in 25.05, machine/qmp.py in 26.05): `send(cmd, args)` returns the reply,
`wait_for_event(timeout)` the next event, in the order QEMU sent them.

As nixpkgs, the session negotiates capabilities when it is made (QMP sends events only from
then on) and reads lazily: events wait in the socket until someone asks.  Unlike nixpkgs, it
does not wait for QEMU's greeting and answer there but reads them with the next message:
waiting cost ~25 ms of every VM start under TCG, the answer being slow while the guest boots.
`negotiated()` waits for it, so that an event caused from the driver's side is not sent
before QMP would send it (the HMP monitor calls it before its first command).  Unlike nixpkgs,
whose read loop spins until an event comes, `wait_for_event` gives up after `timeout`
seconds with TimeoutError, and a closed connection (QEMU gone) raises ConnectionError.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


class QMPAPIError(RuntimeError):
    """QEMU answered a command with an error."""

    def __init__(self, message: dict[str, Any]) -> None:
        error = message.get("error", {})
        self.class_name = error.get("class")
        self.description = error.get("desc")
        self.transaction_id = message.get("id")
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"<QMP API error related to transaction {self.transaction_id}"
            f" [{self.class_name}]: {self.description}>"
        )


class QMPSession:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = b""
        self._events: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self.sock.sendall(json.dumps({"execute": "qmp_capabilities"}).encode() + b"\n")
        self._unclaimed = 1  # answers nobody waits for: the negotiation's

    @classmethod
    def from_path(cls, path: Path) -> QMPSession:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(path))
        return cls(sock)

    def close(self) -> None:
        self.sock.close()

    def _read_message(self, deadline: float | None) -> dict[str, Any] | None:
        """The next message, or None once `deadline` (monotonic) has passed."""
        while b"\n" not in self._buf:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            ready, _, _ = select.select([self.sock], [], [], left)
            if ready:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("QMP connection closed (QEMU exited)")
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def _next(
        self, wanted: Callable[[dict[str, Any]], bool] | None, deadline: float | None
    ) -> dict[str, Any] | None:
        """The next message `wanted` accepts (None: read until the negotiation is answered);
        events read on the way are queued, the greeting and the negotiation's answer dropped."""
        while wanted is not None or self._unclaimed:
            message = self._read_message(deadline)
            if message is None:
                return None
            if "QMP" in message:
                continue
            if self._unclaimed and ("return" in message or "error" in message):
                self._unclaimed -= 1
                if "error" in message:
                    raise QMPAPIError(message)
                continue
            if wanted is not None and wanted(message):
                return message
            if "event" in message:
                self._events.append(message)
            elif "error" in message:
                raise QMPAPIError(message)
        return None

    def negotiated(self) -> None:
        """Wait until QEMU has answered the capabilities negotiation: it sends events from
        then on."""
        with self._lock:
            self._next(None, None)

    def send(self, cmd: str, args: dict[str, str] = {}) -> dict[str, Any]:  # noqa: B006 - nixpkgs' signature
        """Run a QMP command; its reply (`{"return": ...}`)."""
        data: dict[str, Any] = {"execute": cmd}
        if args:
            data["arguments"] = args
        with self._lock:
            self.sock.sendall(json.dumps(data).encode() + b"\n")
            reply = self._next(lambda m: "return" in m or "error" in m, None)
        assert reply is not None
        if "error" in reply:
            raise QMPAPIError(reply)
        return reply

    def wait_for_event(self, timeout: float = 10) -> dict[str, Any]:
        """The oldest event not yet taken; TimeoutError if none comes within `timeout` s."""
        with self._lock:
            if self._events:
                return self._events.popleft()
            event = self._next(lambda m: "event" in m, time.monotonic() + timeout)
        if event is None:
            raise TimeoutError(f"no QMP event within {timeout} s")
        return event

    def events(self, timeout: float = 10) -> Iterator[dict[str, Any]]:
        """The events already queued (nixpkgs' `events`)."""
        while self._events:
            yield self._events.popleft()
