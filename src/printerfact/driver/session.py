"""One run of one VM: the QEMU process and its three channels (console, monitor, agent).

The driver listens on the three unix sockets before QEMU starts, and QEMU connects to them while
it initialises, so after `VmSession(...)` returns every channel is up.  `abort_reason()` is the
single answer to "is this VM still there?", used by every wait.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from pathlib import Path

from printerfact.driver.errors import VMCrashed
from printerfact.driver.framing import CommandChannel
from printerfact.vm.console import Console
from printerfact.vm.monitor import Monitor, MonitorError
from printerfact.vm.process import QemuProcess

ACCEPT_TIMEOUT_S = 30.0
MONITOR_GREETING_S = 10.0  # QEMU sends the HMP greeting as soon as it connected the chardev


def _listen(path: Path) -> socket.socket:
    path.unlink(missing_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.listen(1)
    return s


class VmSession:
    def __init__(
        self,
        name: str,
        argv: list[str],
        sockets: dict[str, Path],
        console_log: Path,
        on_console_line: Callable[[str], None],
        on_qemu_output: Callable[[str], None],
    ) -> None:
        self.name = name
        self.kill_reason: str | None = None
        listeners = {kind: _listen(path) for kind, path in sockets.items()}
        try:
            self.proc = QemuProcess(argv, on_qemu_output)
            conns = self._accept_all(listeners)
        finally:
            for kind, s in listeners.items():
                s.close()
                sockets[kind].unlink(missing_ok=True)  # connections outlive the path
        console: Console | None = None
        try:
            console = Console(conns["serial"], console_log, on_console_line)
            try:
                monitor = Monitor(conns["monitor"], timeout=MONITOR_GREETING_S)
            except MonitorError as e:
                raise VMCrashed(
                    f"{self.name}: QEMU's monitor did not answer ({e});"
                    f" QEMU {'still running' if self.proc.is_running() else 'exited'}:\n"
                    + "\n".join(self.proc.output_tail)
                ) from e
        except BaseException:
            # Nothing else will clean up: the Machine has no session yet.
            self.proc.kill()
            if console is not None:
                console.close()
            for c in conns.values():
                c.close()
            raise
        self.console = console
        self.monitor = monitor
        self._shell = conns["shell"]
        self.channel = CommandChannel(self._shell.fileno(), self._shell.fileno(), self.abort_reason)

    def _accept_all(self, listeners: dict[str, socket.socket]) -> dict[str, socket.socket]:
        conns: dict[str, socket.socket] = {}
        deadline = time.monotonic() + ACCEPT_TIMEOUT_S
        try:
            while len(conns) < len(listeners):
                if not self.proc.is_running():
                    raise VMCrashed(
                        f"{self.name}: QEMU exited at start (status {self.proc.returncode}):\n"
                        + "\n".join(self.proc.output_tail)
                    )
                if time.monotonic() > deadline:
                    raise VMCrashed(f"{self.name}: QEMU did not connect its chardevs")
                waiting = {s: k for k, s in listeners.items() if k not in conns}
                ready, _, _ = select.select(list(waiting), [], [], 0.1)
                for s in ready:
                    conns[waiting[s]], _ = s.accept()
        except BaseException:
            for c in conns.values():
                c.close()
            self.proc.kill()
            raise
        return conns

    def abort_reason(self) -> str | None:
        if self.kill_reason is not None:
            return self.kill_reason
        if self.console.panic is not None:
            return f"guest kernel panic: {self.console.panic}"
        if not self.proc.is_running():
            return f"QEMU exited (status {self.proc.returncode})"
        return None

    def crash_report(self, reason: str) -> str:
        # QEMU exits right after a panic: give the console reader a moment for the last lines.
        self.proc.wait(1.0)
        with self.console.changed:
            if not self.console.closed:
                self.console.changed.wait(0.5)
        # The channel often notices first (EOF); name the cause if the console now shows it.
        cause = self.abort_reason()
        if cause is not None and cause not in reason:
            reason = f"{cause} ({reason})"
        qemu = "\n".join(self.proc.output_tail[-5:])
        report = f"{self.name}: {reason}\n--- last console lines ---\n{self.console.tail(30)}"
        return report + (f"\n--- QEMU said ---\n{qemu}" if qemu else "")

    def kill(self, reason: str) -> None:
        if self.kill_reason is None and self.proc.is_running():
            self.kill_reason = reason
        self.proc.kill()

    def close(self) -> None:
        """Kill QEMU (if still running) and close every channel; idempotent."""
        self.proc.kill()
        self.console.close()
        self.monitor.close()
        self._shell.close()
