"""`Machine`: nixpkgs' Machine API over one QEMU VM, a facade over small parts.

Lifecycle and the QEMU argv live in vm/, the channels in `session.VmSession`, the command
protocol in `framing`, the polling helpers in `waits`, file copies in `transfer`.  Semantics
follow nixpkgs: `start()` returns once QEMU runs (it does not wait for the boot), the first
command waits for the guest agent ("connected"), `execute` runs with `set -euo pipefail`.
Deliberate differences: a command over its timeout raises `CommandTimeout` (nixpkgs returns
status 124), and a dead VM or guest panic raises `VMCrashed` at once, with the console tail.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from printerfact.driver.errors import (
    CommandTimeout,
    MachineError,
    RequestedAssertionFailed,
    VMCrashed,
)
from printerfact.driver.framing import ChannelError, ChannelTimeout
from printerfact.driver.logger import AbstractLogger
from printerfact.driver.session import VmSession
from printerfact.driver.transfer import TransferMixin
from printerfact.driver.waits import WaitsMixin
from printerfact.vm.monitor import MonitorError
from printerfact.vm.network import VLan
from printerfact.vm.qemu_argv import Accel, Nic, QemuConfig, mac_address, nic_id, qemu_argv

KILLED_STATUS = 137  # the agent's timeout kills with SIGKILL


@dataclass(frozen=True)
class MachineConfig:
    """Everything needed to boot one node (built by the Driver from a NodeSpec)."""

    name: str
    kernel: Path
    initrd: Callable[[], Path]  # built on first start, then reused
    append: str
    accel: Accel = "tcg"
    memory_mb: int = 256
    cpus: int = 1
    node_number: int = 1
    vlans: tuple[VLan, ...] = ()
    qemu: str = "qemu-system-x86_64"
    bios: Path | None = None
    boot_timeout: float = 300.0


class Machine(WaitsMixin, TransferMixin):
    def __init__(
        self,
        config: MachineConfig,
        *,
        out_dir: Path,
        socket_dir: Path,
        logger: AbstractLogger,
        callbacks: list[Callable[[], None]] | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.out_dir = out_dir
        self.socket_dir = socket_dir
        self.logger = logger
        self.callbacks = callbacks if callbacks is not None else []
        self.console_log_path = out_dir / f"{self.name}.console.log"
        self.booted = False
        self.connected = False
        self._session: VmSession | None = None
        self._initrd: Path | None = None
        self._lock = threading.RLock()
        self._console_cursor = 0

    def __repr__(self) -> str:
        return f"<Machine '{self.name}'>"

    # --- logging ------------------------------------------------------------------------------

    def log(self, msg: str) -> None:
        self.logger.log(msg, {"machine": self.name})

    def nested(self, msg: str, attrs: dict[str, str] | None = None) -> AbstractContextManager[None]:
        return self.logger.nested(msg, {"machine": self.name, **(attrs or {})})

    def run_callbacks(self) -> None:
        for callback in self.callbacks:
            callback()

    # --- lifecycle ----------------------------------------------------------------------------

    def qemu_config(self, initrd: Path) -> QemuConfig:
        c = self.config
        nics = tuple(
            Nic(v.nr, mac_address(v.nr, c.node_number), v.member_socket(self.name), v.hub_socket)
            for v in c.vlans
        )
        return QemuConfig(
            name=self.name,
            kernel=c.kernel,
            initrd=initrd,
            append=c.append,
            serial_socket=self.socket_dir / f"{self.name}.serial",
            monitor_socket=self.socket_dir / f"{self.name}.monitor",
            shell_socket=self.socket_dir / f"{self.name}.shell",
            accel=c.accel,
            memory_mb=c.memory_mb,
            cpus=c.cpus,
            nics=nics,
            qemu=c.qemu,
            bios=c.bios,
        )

    def command_line(self, initrd: Path) -> list[str]:
        """The QEMU argv this machine starts with, given its initrd (for --dry-run)."""
        return qemu_argv(self.qemu_config(initrd))

    def prepare_initrd(self) -> Path:
        """Build this machine's initrd (once; `start` uses it) and return its path."""
        with self._lock:
            if self._initrd is None:
                self._initrd = self.config.initrd()
            return self._initrd

    @property
    def initrd_path(self) -> Path | None:
        """The initrd built by `prepare_initrd`/`start`, or None before."""
        return self._initrd

    def start(self, allow_reboot: bool = False) -> None:
        """Start the VM; returns once QEMU runs, without waiting for the boot."""
        if allow_reboot:
            raise MachineError("allow_reboot is not supported: QEMU always runs with -no-reboot")
        with self._lock:
            if self.booted:
                return
            self.log("starting vm")
            qc = self.qemu_config(self.prepare_initrd())
            for nic in qc.nics:
                nic.local_socket.unlink(missing_ok=True)
            sockets = {"serial": qc.serial_socket, "monitor": qc.monitor_socket}
            sockets["shell"] = qc.shell_socket
            self._session = VmSession(
                self.name,
                qemu_argv(qc),
                sockets,
                self.console_log_path,
                on_console_line=lambda line: self.logger.log_serial(line, self.name),
                on_qemu_output=lambda line: self.log(f"qemu: {line}"),
            )
            self._console_cursor = 0
            self.booted = True
            self.log(f"QEMU running (pid {self._session.proc.pid}, accel {qc.accel})")

    def _require_session(self) -> VmSession:
        if self._session is None:
            raise MachineError(f"{self.name}: the VM is not running (call start() first)")
        return self._session

    def is_up(self) -> bool:
        s = self._session
        return self.booted and self.connected and s is not None and s.abort_reason() is None

    def connect(self) -> None:
        """Start the VM if needed and wait for the guest agent's banner."""
        with self._lock:
            if self.connected:
                return
            with self.nested("waiting for the VM to finish booting"):
                self.start()
                s = self._require_session()
                tic = time.monotonic()
                try:
                    s.channel.wait_ready(self.config.boot_timeout)
                except ChannelTimeout as e:
                    raise MachineError(s.crash_report(f"guest agent never came up: {e}")) from e
                except ChannelError as e:
                    raise VMCrashed(s.crash_report(str(e))) from e
                self.connected = True
                self.log(f"connected to guest agent (took {time.monotonic() - tic:.2f} s)")

    def wait_for_shutdown(self) -> None:
        if not self.booted:
            return
        with self.nested("waiting for the VM to power off"):
            s = self._require_session()
            s.proc.wait()
            self._teardown()

    def shutdown(self) -> None:
        """Power the guest off and wait for QEMU to exit."""
        if not self.booted:
            return
        self.connect()
        with self._lock:
            self._require_session().channel.send("poweroff", None)
        self.wait_for_shutdown()

    def crash(self) -> None:
        """Simulate a power failure: QEMU quits at once."""
        if not self.booted:
            return
        self.log("forced crash")
        self._require_session().monitor.send_quit()
        self.wait_for_shutdown()

    def kill(self, reason: str) -> None:
        """Kill QEMU now; calls waiting on this VM fail with `reason`."""
        s = self._session
        if s is not None:
            s.kill(reason)

    def release(self) -> None:
        """Kill QEMU and close its channels (driver cleanup); idempotent."""
        if self._session is not None:
            try:
                self.log(f"kill machine (pid {self._session.proc.pid})")
            finally:
                self._teardown()

    def _teardown(self) -> None:
        s, self._session = self._session, None
        self.booted = False
        self.connected = False
        if s is not None:
            s.close()

    # --- commands -----------------------------------------------------------------------------

    def execute(
        self,
        command: str,
        check_return: bool = True,
        check_output: bool = True,
        timeout: int | None = 900,
    ) -> tuple[int, str]:
        """Run a shell command in the guest; (status, stdout).  stderr goes to the console."""
        status, out = self._execute_bytes(command, check_return, check_output, timeout)
        return status, out.decode(errors="replace")

    def _execute_bytes(
        self,
        command: str,
        check_return: bool = True,
        check_output: bool = True,
        timeout: int | None = 900,
    ) -> tuple[int, bytes]:
        self.run_callbacks()
        self.connect()
        full = f"set -euo pipefail; {command}"
        with self._lock:
            s = self._require_session()
            if not check_output:
                s.channel.send(full, timeout)
                return -2, b""
            tic = time.monotonic()
            try:
                reply = s.channel.run(full, timeout)
            except ChannelTimeout as e:
                raise CommandTimeout(
                    s.crash_report(f"command `{command}` got no reply: {e}")
                ) from e
            except ChannelError as e:
                if not check_return:
                    return -1, b""  # e.g. `poweroff`: the VM went away as asked
                raise VMCrashed(s.crash_report(f"while running `{command}`: {e}")) from e
        elapsed = time.monotonic() - tic
        if timeout is not None and reply.status == KILLED_STATUS and elapsed >= timeout - 0.5:
            raise CommandTimeout(s.crash_report(f"command `{command}` timed out after {timeout} s"))
        return (reply.status if check_return else -1), reply.stdout

    def succeed(self, *commands: str, timeout: int | None = None) -> str:
        """Run each command; raise at the first non-zero status; the outputs concatenated."""
        output = ""
        for command in commands:
            with self.nested(f"must succeed: {command}"):
                status, out = self.execute(command, timeout=timeout)
                if status != 0:
                    self.log(f"output: {out}")
                    raise RequestedAssertionFailed(
                        f"command `{command}` failed (exit code {status})"
                    )
                output += out
        return output

    def fail(self, *commands: str, timeout: int | None = None) -> str:
        """Like `succeed`, but each command must exit non-zero."""
        output = ""
        for command in commands:
            with self.nested(f"must fail: {command}"):
                status, out = self.execute(command, timeout=timeout)
                if status == 0:
                    raise RequestedAssertionFailed(f"command `{command}` unexpectedly succeeded")
                output += out
        return output

    def sleep(self, secs: int) -> None:
        # Guest time, not host time.
        self.succeed(f"sleep {secs}")

    def systemctl(self, q: str, user: str | None = None) -> tuple[int, str]:
        """`systemctl q` in the guest (as `user` via su if given), as nixpkgs."""
        if user is not None:
            return self.execute(f"su -l {user} -s /bin/sh -c 'systemctl --user {q}'")
        return self.execute(f"systemctl {q}")

    def shell_interact(self, address: str | None = None) -> None:
        """Type commands for the guest (one per line; Ctrl-D ends); for the REPL."""
        if address is not None:
            raise MachineError("shell_interact(address=...) is not supported")
        self.connect()
        self.log("Terminal is ready (one command per line, Ctrl-D to leave):")
        while True:
            try:
                line = input("$ ")
            except (EOFError, KeyboardInterrupt):
                print()
                return
            if line.strip():
                status, out = self.execute(line, timeout=None)
                print(out, end="" if out.endswith("\n") or not out else "\n")
                if status != 0:
                    print(f"[exit {status}]")

    # --- console and monitor ------------------------------------------------------------------

    def get_console_log(self) -> str:
        """All serial console output since the last start, one string."""
        s = self._session
        return "\n".join(s.console.lines) if s is not None else ""

    def wait_for_console_text(self, regex: str, timeout: int | None = None) -> None:
        """Wait until `regex` matches console output not consumed by an earlier wait."""
        pattern = re.compile(regex)
        with self.nested(f"waiting for {regex} to appear on console"):
            s = self._require_session()
            deadline = None if timeout is None else time.monotonic() + timeout
            console = s.console
            with console.changed:
                while True:
                    n = len(console.lines)
                    text = "\n".join(console.lines[self._console_cursor : n])
                    match = pattern.search(text)
                    if match is not None:
                        # Consume up to the line the match ends on, as nixpkgs: a later wait
                        # still sees the lines after it that arrived in the same chunk.
                        last = max(match.start(), match.end() - 1)
                        line = self._console_cursor + text.count("\n", 0, last)
                        self._console_cursor = min(n, line + 1)
                        return
                    reason = s.abort_reason()
                    if reason is not None or console.closed:
                        raise VMCrashed(s.crash_report(reason or "console closed"))
                    wait = 0.5
                    if deadline is not None:
                        wait = min(wait, deadline - time.monotonic())
                        if wait <= 0:
                            raise RequestedAssertionFailed(
                                f"{self.name}: {regex!r} did not appear on the console "
                                f"within {timeout} s"
                            )
                    console.changed.wait(wait)

    def send_console(self, chars: str) -> None:
        """Send characters to the serial console (ttyS0)."""
        self._require_session().console.send(chars.encode())

    def send_monitor_command(self, command: str) -> str:
        """Send an HMP command to QEMU's monitor; returns its output."""
        self.run_callbacks()
        s = self._require_session()
        try:
            return s.monitor.command(command)
        except (MonitorError, OSError) as e:
            raise VMCrashed(s.crash_report(f"monitor command `{command}` failed: {e}")) from e

    def block(self) -> None:
        """Unplug every network cable of this machine (nixpkgs: `set_link ... off`)."""
        for i in range(len(self.config.vlans)):
            self.send_monitor_command(f"set_link {nic_id(i)} off")

    def unblock(self) -> None:
        for i in range(len(self.config.vlans)):
            self.send_monitor_command(f"set_link {nic_id(i)} on")
