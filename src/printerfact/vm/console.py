"""The serial console (ttyS0): captured line by line, searchable, watched for panics.

A reader thread appends each line to the in-memory log and the node's log file and hands it to
a callback (the logger echoes `name # line`).  Waiters block on a condition variable, so a
matching line, a panic or EOF wakes them at once.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

PANIC = re.compile(r"Kernel panic - not syncing")


class Console:
    def __init__(self, sock: socket.socket, log_file: Path, on_line: Callable[[str], None]) -> None:
        self._sock = sock
        self._on_line = on_line
        self._file: TextIO = log_file.open("a", encoding="utf-8", errors="replace")
        self.lines: list[str] = []
        self.panic: str | None = None
        self.closed = False
        self.changed = threading.Condition()
        self._thread = threading.Thread(
            target=self._read, name=f"console-{log_file.stem}", daemon=True
        )
        self._thread.start()

    def _read(self) -> None:
        pending = b""
        try:
            while True:
                try:
                    chunk = self._sock.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    self._add(raw.decode(errors="replace").replace("\r", "").rstrip())
            if pending:
                self._add(pending.decode(errors="replace").replace("\r", "").rstrip())
        finally:
            with self.changed:
                self.closed = True
                self.changed.notify_all()
            self._file.close()

    def _add(self, line: str) -> None:
        self._file.write(line + "\n")
        self._file.flush()
        with self.changed:
            self.lines.append(line)
            if self.panic is None and PANIC.search(line):
                self.panic = line
            self.changed.notify_all()
        self._on_line(line)

    def replay(self, lines: list[str]) -> None:
        """Add lines as if the guest had printed them (a restored snapshot's console up to its
        save, printed by the QEMU that saved it)."""
        for line in lines:
            self._add(line)

    def wait_for(self, text: str | Callable[[str], bool], start: int, timeout: float) -> bool:
        """Whether a line from the `start`-th on contains `text` (or is one `text` accepts)
        within `timeout` seconds."""
        match = text if callable(text) else lambda line: text in line
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                if any(match(line) for line in self.lines[start:]):
                    return True
                start = len(self.lines)  # the lines seen: only new ones are looked at next
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    return False
                self.changed.wait(left)

    def send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def tail(self, n: int = 20) -> str:
        with self.changed:
            return "\n".join(self.lines[-n:])

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._thread.join(timeout=5)
