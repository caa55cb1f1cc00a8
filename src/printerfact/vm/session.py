"""One run of one VM: the QEMU process and its channels (console, monitor, agent, and QMP
when asked for).

The driver listens on the three unix sockets before QEMU starts, and QEMU connects to them while
it initialises, so after `VmSession(...)` returns every channel is up.  `abort_reason()` is the
single answer to "is this VM still there?", used by every wait.
"""

from __future__ import annotations

import fcntl
import select
import socket
import struct
import termios
import time
from collections.abc import Callable
from pathlib import Path

from printerfact.vm.console import Console
from printerfact.vm.framing import CommandChannel
from printerfact.vm.monitor import PROMPT, Monitor, MonitorError
from printerfact.vm.process import QemuProcess
from printerfact.vm.qmp import QMPSession

ACCEPT_TIMEOUT_S = 30.0
SYSRQ_WAIT_S = 10.0  # at most; a task dump under TCG takes a second or two
# The virtio-serial device's QOM path (qemu_argv gives it the id vser0).
VIRTIO_SERIAL = "/machine/peripheral/vser0/virtio-backend"
MONITOR_GREETING_S = 10.0  # QEMU sends the HMP greeting as soon as it connected the chardev


class QemuFailed(Exception):
    """QEMU exited or did not connect at start (the driver raises it as nixpkgs' VMCrashed)."""


def _listen(path: Path) -> socket.socket:
    path.unlink(missing_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.listen(1)
    return s


def _socket_queues(sock: socket.socket) -> str:
    """What the kernel holds on our end of a unix stream socket: bytes QEMU sent that we have
    not read, and bytes we sent that QEMU has not read."""

    def ioctl(request: int) -> str:
        try:
            return str(struct.unpack("i", fcntl.ioctl(sock.fileno(), request, b"\0" * 4))[0])
        except OSError as e:
            return f"? ({e})"

    unread, unsent = ioctl(termios.FIONREAD), ioctl(termios.TIOCOUTQ)
    return f"unread by the driver: {unread} bytes; unread by QEMU: {unsent} bytes"


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
                # Negotiated now, as nixpkgs does at start: QMP sends events only from then on.
                self.qmp = QMPSession(conns["qmp"]) if "qmp" in conns else None
            except (MonitorError, OSError, ValueError) as e:
                raise QemuFailed(
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
                    raise QemuFailed(
                        f"{self.name}: QEMU exited at start (status {self.proc.returncode}):\n"
                        + "\n".join(self.proc.output_tail)
                    )
                if time.monotonic() > deadline:
                    raise QemuFailed(f"{self.name}: QEMU did not connect its chardevs")
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

    def stall_report(self, reason: str) -> str:
        """Evidence from both ends of a stalled command channel: the bytes each side still
        holds, QEMU's view of the port's virtqueues, and the guest's task states (SysRq-T on
        the serial console, a path of its own)."""
        parts = [
            f"{self.name}: {reason}",
            "--- host end of the channel ---",
            _socket_queues(self._shell),
        ]
        parts.append("--- QEMU: the agent port's virtqueues (4: to the guest, 5: from it) ---")
        for queue in (4, 5):
            parts.append(self._monitor_says(f"info virtio-queue-status {VIRTIO_SERIAL} {queue}"))
        console = self.console
        with console.changed:
            seen = len(console.lines)
        self._monitor_says("sendkey alt-sysrq-t")
        deadline = time.monotonic() + SYSRQ_WAIT_S
        with console.changed:  # the dump ends when the console has been quiet for a moment
            while time.monotonic() < deadline and console.changed.wait(0.5):
                pass
            dump = console.lines[seen:]
        parts.append("--- guest: task states (SysRq-T) ---")
        parts.append("\n".join(dump) or "(nothing on the console: the guest did not answer)")
        return "\n".join(parts)

    def _monitor_says(self, command: str) -> str:
        """The command's output, without HMP's echo of it and the prompt."""
        try:
            reply = self.monitor.command(command)
        except (MonitorError, OSError) as e:
            return f"(monitor: {e})"
        output = reply.partition("\n")[2].removesuffix(PROMPT.decode())
        return output.replace("\r", "").rstrip()

    def kill(self, reason: str) -> None:
        if self.kill_reason is None and self.proc.is_running():
            self.kill_reason = reason
        self.proc.kill()

    def close(self) -> None:
        """Kill QEMU (if still running) and close every channel; idempotent."""
        self.proc.kill()
        self.console.close()
        self.monitor.close()
        if self.qmp is not None:
            self.qmp.close()
        self._shell.close()
