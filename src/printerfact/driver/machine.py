"""`Machine`: nixpkgs' Machine API over one QEMU VM, a facade over small parts.

It is both channels' class: nixos-25.05's `Machine` and nixos-26.05's `BaseMachine` and
`QemuMachine` (the union of their names: `keep_vm_state` and `keep_machine_state`,
`copy_from_vm` and `copy_from_machine`, `wait_for_job` and `get_console_log`).  Lifecycle and
the QEMU argv live in vm/, the channels in `session.VmSession`, the command protocol in
`framing`, and Machine's methods in mixins: `commands` (execute, succeed, fail), `terminal`
(console, monitors, keys, block), `units` (systemd), `waits`, `transfer` (file copies),
`screen` (display, VTs and X, as nixpkgs without them).  nixpkgs' internals with no
counterpart here are declared as unavailable (`unavailable.py`).  Semantics follow nixpkgs:
`start()` returns once QEMU runs (it does not wait for the boot), the first command waits for
the guest agent ("connected"), `reboot()` presses Ctrl-Alt-Delete, a node's disk lives in its
state directory.  A dead VM or guest panic raises
`VMCrashed` at once, with the console tail, where nixpkgs would hang.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from queue import Queue
from typing import Any

from printerfact.driver.commands import CommandsMixin
from printerfact.driver.errors import MachineError, VMCrashed
from printerfact.driver.framing import ChannelError, ChannelTimeout
from printerfact.driver.logger import AbstractLogger
from printerfact.driver.screen import ScreenMixin
from printerfact.driver.session import VmSession
from printerfact.driver.terminal import TerminalMixin
from printerfact.driver.transfer import TransferMixin
from printerfact.driver.unavailable import unavailable, unavailable_attribute
from printerfact.driver.units import UnitsMixin
from printerfact.driver.waits import WaitsMixin
from printerfact.nodes import NodeSpec
from printerfact.vm.disk import DISK_SIZE_MB, DiskError, ensure_disk
from printerfact.vm.network import VLan
from printerfact.vm.qemu_argv import Accel, Nic, QemuConfig, mac_address, qemu_argv

SHARED_DIR = "shared-xchg"  # in the driver's temporary directory, as nixpkgs names it

# Why nixpkgs' Machine internals have no counterpart here.
PRIVATE_SOCKET = "its socket is private to the driver and unlinked once QEMU is connected"
NO_START_SCRIPT = "no NixOS start script: the driver builds QEMU's command line itself"
INTERNAL = "an internal of nixpkgs' Machine; the portable driver has its own"
NO_SSH_BACKDOOR = (
    "no SSH backdoor (nixpkgs' sshBackdoor: sshd in the guest, reached over vsock); use"
    " shell_interact() in the REPL"
)


@dataclass(frozen=True)
class MachineConfig:
    """Everything needed to boot one node: its NodeSpec (name, memory, CPUs), and what the
    Driver adds (the kernel, the initrd builder, the state directory, the VLANs, ...)."""

    node: NodeSpec
    kernel: Path
    initrd: Callable[[Path], Path]  # writes the node's initrd into a directory, returns it
    append: str  # the flavour's kernel arguments (vm.qemu_argv.kernel_cmdline adds the rest)
    state_dir: Path  # the initrd and the disk; kept across runs with --keep-vm-state
    accel: Accel = "tcg"
    node_number: int = 1
    vlans: tuple[VLan, ...] = ()
    disk_size_mb: int | None = DISK_SIZE_MB  # None: no disk, nothing survives a restart
    keep_vm_state: bool = False
    qemu: str = "qemu-system-x86_64"
    bios: Path | None = None
    boot_timeout: float = 300.0


class Machine(CommandsMixin, TerminalMixin, UnitsMixin, WaitsMixin, TransferMixin, ScreenMixin):
    monitor_path = unavailable_attribute[Path](PRIVATE_SOCKET)
    qmp_path = unavailable_attribute[Path](PRIVATE_SOCKET)
    shell_path = unavailable_attribute[Path](PRIVATE_SOCKET)
    start_command = unavailable_attribute[Any](NO_START_SCRIPT)
    process = unavailable_attribute[subprocess.Popen[bytes] | None](
        "QEMU runs under the driver's own process wrapper; `pid` gives its pid"
    )
    monitor = unavailable_attribute[socket.socket | None](
        INTERNAL + ": send_monitor_command() speaks to the monitor"
    )
    shell = unavailable_attribute[socket.socket | None](
        INTERNAL + ": execute() speaks to the guest"
    )
    serial_thread = unavailable_attribute[threading.Thread | None](INTERNAL)
    last_lines = unavailable_attribute[Queue[str]](
        INTERNAL + ": wait_for_console_text() and get_console_log() read the console"
    )

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
        self.name = config.node.name
        self.out_dir = out_dir
        self.tmp_dir = socket_dir  # nixpkgs' name for the driver's temporary directory
        self.socket_dir = socket_dir
        self.state_dir = config.state_dir  # assignable, as in nixpkgs
        # Shared with every node of the driver, /tmp/shared in the guests (nixpkgs' name).
        self.shared_dir = socket_dir / SHARED_DIR
        self.shared_dir.mkdir(mode=0o700, exist_ok=True)
        self.keep_vm_state = config.keep_vm_state
        self.logger = logger
        self.callbacks = callbacks if callbacks is not None else []
        self.console_log_path = out_dir / f"{self.name}.console.log"
        self.booted = False
        self.connected = False
        self._session: VmSession | None = None
        self._initrd: Path | None = None
        self._lock = threading.RLock()
        self._starting = threading.Lock()  # held while QEMU and its channels come up
        self._console_cursor = 0
        self._console_lines: list[str] = []

    def __repr__(self) -> str:
        return f"<Machine '{self.name}'>"

    @property
    def keep_machine_state(self) -> bool:
        """nixos-26.05's name for `keep_vm_state`."""
        return self.keep_vm_state

    @keep_machine_state.setter
    def keep_machine_state(self, value: bool) -> None:
        self.keep_vm_state = value

    @unavailable(NO_SSH_BACKDOOR)
    def ssh_backdoor_command(self, index: int) -> str:
        raise NotImplementedError  # @unavailable raises instead

    # --- logging ------------------------------------------------------------------------------

    def log(self, msg: str) -> None:
        self.logger.log(msg, {"machine": self.name})

    def nested(self, msg: str, attrs: dict[str, str] | None = None) -> AbstractContextManager[None]:
        return self.logger.nested(msg, {"machine": self.name, **(attrs or {})})

    def run_callbacks(self) -> None:
        for callback in self.callbacks:
            callback()

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def disk_path(self) -> Path | None:
        """The node's disk image (in its state directory), or None if it has none."""
        if self.config.disk_size_mb is None:
            return None
        return self.state_dir / f"{self.name}.img"

    @property
    def pid(self) -> int | None:
        """QEMU's pid while the VM runs."""
        s = self._session
        return s.proc.pid if s is not None and self.booted else None

    def qemu_config(self, initrd: Path, allow_reboot: bool = False) -> QemuConfig:
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
            qmp_socket=self.socket_dir / f"{self.name}.qmp",
            accel=c.accel,
            memory_mb=c.node.memory_mb,
            cpus=c.node.cpus,
            nics=nics,
            disk=self.disk_path,
            allow_reboot=allow_reboot,
            qemu=c.qemu,
            bios=c.bios,
            shared_dir=self.shared_dir,
        )

    def command_line(self, initrd: Path | None = None) -> list[str]:
        """The QEMU argv this machine starts with (for --dry-run; builds and creates nothing)."""
        return qemu_argv(self.qemu_config(initrd or self.state_dir / f"{self.name}.initrd"))

    def prepare_initrd(self) -> Path:
        """Build this machine's initrd (once; `start` uses it) and return its path."""
        with self._lock:
            if self._initrd is None or not self._initrd.exists():
                self.state_dir.mkdir(parents=True, exist_ok=True)
                self._initrd = self.config.initrd(self.state_dir)
            return self._initrd

    @property
    def initrd_path(self) -> Path | None:
        """The initrd built by `prepare_initrd`/`start`, or None before."""
        return self._initrd

    def start(self, allow_reboot: bool = False) -> None:
        """Start the VM; returns once QEMU runs, without waiting for the boot.  Without
        `allow_reboot` a guest reboot ends QEMU (-no-reboot), as in nixpkgs."""
        with self._lock:
            if self.booted:
                return
            self.log("starting vm")
            qc = self.qemu_config(self.prepare_initrd(), allow_reboot)
            if qc.disk is not None:
                try:
                    if ensure_disk(qc.disk, self.config.disk_size_mb or DISK_SIZE_MB):
                        self.log(f"created disk {qc.disk}")
                except (DiskError, OSError) as e:
                    raise MachineError(f"{self.name}: cannot make its disk: {e}") from e
            for nic in qc.nics:
                nic.local_socket.unlink(missing_ok=True)
            with self._starting:
                self._session = VmSession(
                    self.name,
                    qemu_argv(qc),
                    qc.sockets(),
                    self.console_log_path,
                    on_console_line=lambda line: self.logger.log_serial(line, self.name),
                    on_qemu_output=lambda line: self.log(f"qemu: {line}"),
                )
            self._console_cursor = 0
            self._console_lines = self._session.console.lines  # kept once the VM stops
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
        """Simulate a power failure: QEMU quits at once (polling conditions are checked
        first, as for any monitor command)."""
        if not self.booted:
            return
        self.log("forced crash")
        self.run_callbacks()
        self._require_session().monitor.send_quit()
        self.wait_for_shutdown()

    def reboot(self) -> None:
        """Press Ctrl-Alt-Delete; the next command waits for the guest to be back (with
        `start(allow_reboot=True)`; otherwise the guest's reboot ends QEMU)."""
        self.send_key("ctrl-alt-delete")
        self.connected = False

    def switch_root(self) -> None:
        """Stage 1 to stage 2, as nixpkgs (it needs `testing.initrdBackdoor` and a systemd
        initrd).  The image is the initramfs and has no initrd stage: as on a NixOS VM that
        has booted, `initrd.target` is inactive with no job, and the wait for it fails."""
        self.wait_for_unit("initrd.target")
        self.execute(
            "systemctl isolate --no-block initrd-switch-root.target 2>/dev/null >/dev/null",
            check_return=False,
            check_output=False,
        )
        self.connected = False
        self.connect()

    def cleanup_statedir(self) -> None:
        """Delete the state directory (the disk and the initrd), as nixpkgs does at start."""
        shutil.rmtree(self.state_dir, ignore_errors=True)
        self.logger.log(f"deleting VM state directory {self.state_dir}")
        self.logger.log("if you want to keep the VM state, pass --keep-vm-state")

    def kill(self, reason: str) -> None:
        """Kill QEMU now; calls waiting on this VM fail with `reason`."""
        s = self._session
        if s is not None:
            s.kill(reason)

    def release(self) -> None:
        """Kill QEMU and close its channels (driver cleanup); idempotent.  A start still in
        progress (in another thread) is waited for, so its QEMU is not missed."""
        with self._starting:
            pass
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
