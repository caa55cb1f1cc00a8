"""`Machine`: nixpkgs' Machine API over one QEMU VM, in one class.

It is both channels' class: nixos-25.05's `Machine` and nixos-26.05's `BaseMachine` and
`QemuMachine` (the union of their names: `keep_vm_state` and `keep_machine_state`,
`copy_from_vm` and `copy_from_machine`, `wait_for_job` and `get_console_log`).  Its methods
come in the order of nixos-26.05's `test_driver/machine/__init__.py`: BaseMachine's, then
QemuMachine's (25.05's `wait_for_job` where 25.05 has it, after `stop_job`), then the
portable driver's own (the QEMU configuration, the initrd, the session), so that an upstream
change maps onto this one file.  The pure parts (the guest command lines, the parsing of
their output, key names, messages) are beside it in `machine_helpers`; the VM itself is in
vm/: the QEMU argv (`qemu_argv`), the channels of one run (`session.VmSession`), the command
protocol (`framing`).  nixpkgs' internals with no counterpart here are declared as
unavailable (`unavailable.py`).

Semantics follow nixpkgs: `start()` returns once QEMU runs (it does not wait for the boot),
the first command waits for the guest agent ("connected"), `reboot()` presses
Ctrl-Alt-Delete, a node's disk lives in its state directory.  A dead VM or guest panic raises
`VMCrashed` at once, with the console tail, where nixpkgs would hang.

Commands: nixpkgs runs `timeout T bash -c 'set -euo pipefail; CMD' | (base64 -w 0; echo)` in
its backdoor root shell; guest/agent.sh gives a command the same surroundings.  Past its
timeout a command ends with status 124, which `execute` returns and `succeed`, `fail` and
`wait_until_*` treat as any other status; a timeout of None or 0 means none (`timeout 0`
disables it).  The log then names the command, the likely cause (stdin: the console, which
never ends) and the console tail.  Only a guest that stops answering altogether (the timeout
plus framing.HOST_GRACE_S) raises CommandTimeout, and a VM that died raises VMCrashed: nixpkgs
would hang until its global timeout.  wait_until_* pass their timeout to each attempt too, as
nixpkgs does: an attempt that runs past it ends with status 124, a failed attempt.

systemd: everything goes through `systemctl` in the guest (the image's own, guest/systemctl,
over its unit states) and is read the way nixpkgs reads it, so a script behaves alike on both.
wait_for_unit raises as nixpkgs does: at once on "failed", and on "inactive" when `systemctl
list-jobs` says no job is pending (an unknown unit is inactive too).

File copies: copy_from_host and copy_from_machine (copy_from_vm, its 25.05 name) go through
the directory the driver shares with every node (virtio-9p, mounted at /tmp/shared in the
guest), step by step as nixpkgs' driver does, so semantics match: `cp -r` in the guest, mode
bits from the host file, root:root in the guest.  copy_from_host_via_shell is the slow path
through the command channel, for a guest without the shared directory (a tar stream, so
directories work too).

Console, monitors, keyboard, cable: the serial console carries the kernel log and stderr of
commands; as on NixOS there is no shell on it.  Keys go through QEMU's `sendkey` to the
guest's PS/2 keyboard (Ctrl-Alt-Delete reboots).  block()/unblock() switch the link of
"virtio-net-pci.1", as nixpkgs does: the first VLAN NIC, eth1 (vm/qemu_argv.nic_id).

Screen, virtual terminals and X: nixpkgs' methods, doing what nixpkgs' do on a NixOS VM without
the feature behind them.  The VMs have no display (`-nodefaults -display none`): QEMU's
`screendump` makes no picture ("There is no console to take a screendump from"), so
`screenshot` raises nixpkgs' "Cannot convert screenshot" MachineError; OCR is never enabled, so
`get_screen_text*` and `wait_for_text` raise nixpkgs' "OCR requested but `tesseract` is not
available" after the screenshot, as nixpkgs without `enableOCR`.  The virtual terminals exist
(the kernel has VT), but no getty runs on them: `get_tty_text` reads `/dev/vcs<n>` as nixpkgs
does and gets a blank screen.  There is no X server: `wait_for_x` waits its timeout,
`get_window_names` fails on the missing `xwininfo`.  The guest commands and log lines are
nixpkgs'.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from queue import Queue
from typing import Any

from printerfact.driver import snapshot_boot
from printerfact.driver.errors import (
    ChannelStalledError,
    CommandTimeout,
    MachineError,
    RequestedAssertionFailed,
    VMCrashed,
)
from printerfact.driver.logger import AbstractLogger
from printerfact.driver.machine_helpers import (
    HELD_OPEN_HINT,
    STDIN_HINT,
    WINDOW_NAMES_COMMAND,
    X_READY_COMMANDS,
    as_root,
    key_for,
    make_command,
    parse_unit_info,
    parse_unit_property,
    port_open_command,
    systemctl_command,
    timed_out_message,
    tty_text_command,
    unix_socket_open_command,
    whose,
)
from printerfact.driver.network import VLan
from printerfact.driver.ocr import perform_ocr_on_screenshot, perform_ocr_variants_on_screenshot
from printerfact.driver.retry import retry
from printerfact.driver.snapshot_boot import SnapshotBoot
from printerfact.driver.unavailable import unavailable, unavailable_attribute
from printerfact.nodes import NodeSpec
from printerfact.vm.channels import RunChannels
from printerfact.vm.disk import DISK_SIZE_MB, DiskError, ensure_disk
from printerfact.vm.framing import HELD_OPEN, ChannelError, ChannelStalled, ChannelTimeout, Reply
from printerfact.vm.monitor import MonitorError
from printerfact.vm.qemu_argv import Accel, Nic, QemuConfig, mac_address, nic_id, qemu_argv
from printerfact.vm.qmp import QMPSession
from printerfact.vm.session import QemuFailed, VmSession
from printerfact.vm.snapshot import SnapshotError

SHARED_DIR = "shared-xchg"  # in the driver's temporary directory, as nixpkgs names it
GUEST_SHARED_DIR = PurePosixPath("/tmp/shared")  # where the guest mounts the shared directory
CHUNK = 256 * 1024  # base64 characters per request (copy_from_host_via_shell)

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
    snapshots: Path | None = None  # the snapshot cache (driver/snapshot_boot.py); None: boot


class Machine:
    # The run's ways in from outside (printerfact attach, gdb); set by the Driver.
    channels: RunChannels | None = None
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

    # === nixpkgs' BaseMachine ==================================================================

    def __repr__(self) -> str:
        return f"<Machine '{self.name}'>"

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
        self._console_lines: list[str] = []  # the console of the last start, kept after it
        self._snapshot: SnapshotBoot | None = None  # this start's snapshot boot, if any
        self._snapshot_off: str | None = None  # why this node boots without its snapshot

    @property
    def keep_machine_state(self) -> bool:
        """nixos-26.05's name for `keep_vm_state`."""
        return self.keep_vm_state

    @keep_machine_state.setter
    def keep_machine_state(self, value: bool) -> None:
        self.keep_vm_state = value

    def log(self, msg: str) -> None:
        self.logger.log(msg, {"machine": self.name})

    def log_serial(self, msg: str) -> None:
        self.logger.log_serial(msg, self.name)

    def nested(self, msg: str, attrs: dict[str, str] | None = None) -> AbstractContextManager[None]:
        return self.logger.nested(msg, {"machine": self.name, **(attrs or {})})

    def systemctl(self, q: str, user: str | None = None) -> tuple[int, str]:
        """`systemctl q` in the guest; with `user`, `systemctl --user q` in a login shell of
        that user, as nixpkgs runs it."""
        return self.execute(systemctl_command(q, user))

    def wait_for_unit(self, unit: str, user: str | None = None, timeout: int = 900) -> None:
        """Wait for `unit` to be active; raise if it failed or will not start."""

        def check_active(_last_try: bool) -> bool:
            state = self.get_unit_property(unit, "ActiveState", user)
            if state == "failed":
                raise RequestedAssertionFailed(f'unit "{unit}" reached state "{state}"')
            if state == "inactive":
                _, jobs = self.systemctl("list-jobs --full 2>&1", user)
                # Read again: the unit may have started while the jobs were listed.
                if "No jobs" in jobs and self.get_unit_info(unit, user)["ActiveState"] == state:
                    raise RequestedAssertionFailed(
                        f'unit "{unit}" is inactive and there are no pending jobs'
                    )
            return state == "active"

        with self.nested(f"waiting for unit {unit}" + (f" with user {user}" if user else "")):
            retry(check_active, timeout)

    def get_unit_info(self, unit: str, user: str | None = None) -> dict[str, str]:
        """Every property `systemctl show` prints for `unit`, as a dict."""
        status, lines = self.systemctl(f'--no-pager show "{unit}"', user)
        if status != 0:
            raise RequestedAssertionFailed(
                f'retrieving systemctl info for unit "{unit}"{whose(user)}'
                f" failed with exit code {status}"
            )
        return parse_unit_info(lines)

    def get_unit_property(self, unit: str, property: str, user: str | None = None) -> str:
        """One property of `unit` (`systemctl show --property`)."""
        status, lines = self.systemctl(f'--no-pager show "{unit}" --property="{property}"', user)
        if status != 0:
            raise RequestedAssertionFailed(
                f'retrieving systemctl property "{property}" for unit "{unit}"{whose(user)}'
                f" failed with exit code {status}"
            )
        return parse_unit_property(lines, unit, property)

    def require_unit_state(self, unit: str, require_state: str = "active") -> None:
        with self.nested(f"checking if unit '{unit}' has reached state '{require_state}'"):
            state = self.get_unit_info(unit)["ActiveState"]
            if state != require_state:
                raise RequestedAssertionFailed(
                    f"Expected unit '{unit}' to to be in state '{require_state}' "
                    f"but it is in state '{state}'"
                )

    def succeed(self, *commands: str, timeout: int | None = None) -> str:
        """Run each command; raise at the first non-zero status; the outputs concatenated."""
        output = ""
        for command in commands:
            with self.nested(f"must succeed: {command}"):
                output += self._expect(command, timeout, success=True)
        return output

    def fail(self, *commands: str, timeout: int | None = None) -> str:
        """Like `succeed`, but each command must exit non-zero."""
        output = ""
        for command in commands:
            with self.nested(f"must fail: {command}"):
                output += self._expect(command, timeout, success=False)
        return output

    def _expect(self, command: str, timeout: int | None, success: bool) -> str:
        """One command of `succeed` (`success`) or `fail`: its output, or the assertion."""
        reply = self._run(command, timeout=timeout)
        out = reply.stdout.decode(errors="replace")
        if success and reply.status != 0:
            self.log(f"output: {out}")
            hint = HELD_OPEN_HINT if reply.timed_out == HELD_OPEN else STDIN_HINT
            why = f": timed out after {timeout} s{hint}" if reply.timed_out else ""
            raise RequestedAssertionFailed(
                f"command `{command}` failed (exit code {reply.status}){why}"
            )
        if not success and reply.status == 0:
            raise RequestedAssertionFailed(f"command `{command}` unexpectedly succeeded")
        return out

    def wait_until_succeeds(self, command: str, timeout: int = 900) -> str:
        """Repeat `command` once a second until it succeeds; its output."""
        with self.nested(f"waiting for success: {command}"):
            return self._wait_until(command, timeout, success=True)

    def wait_until_fails(self, command: str, timeout: int = 900) -> str:
        """Repeat `command` once a second until it fails; its output."""
        with self.nested(f"waiting for failure: {command}"):
            return self._wait_until(command, timeout, success=False)

    def _wait_until(self, command: str, timeout: int, success: bool) -> str:
        output = ""

        def check(_last_try: bool) -> bool:
            nonlocal output
            status, output = self.execute(command, timeout=timeout)
            return (status == 0) == success

        retry(check, timeout)
        return output

    def sleep(self, secs: int) -> None:
        # Guest time, not host time.
        self.succeed(f"sleep {secs}")

    def wait_for_file(self, filename: str, timeout: int = 900) -> None:
        with self.nested(f"waiting for file '{filename}'"):
            self._wait_for_status(f"test -e {filename}", timeout, success=True)

    def wait_for_open_port(self, port: int, addr: str = "localhost", timeout: int = 900) -> None:
        with self.nested(f"waiting for TCP port {port} on {addr}"):
            self._wait_for_status(port_open_command(port, addr), timeout, success=True)

    def wait_for_open_unix_socket(
        self, addr: str, is_datagram: bool = False, timeout: int = 900
    ) -> None:
        """Wait until a process listens on the unix socket `addr` (stream, or datagram)."""
        kind = "datagram" if is_datagram else "stream"
        with self.nested(f"waiting for UNIX-domain {kind} on '{addr}'"):
            self._wait_for_status(unix_socket_open_command(addr, is_datagram), timeout, True)

    def wait_for_closed_port(self, port: int, addr: str = "localhost", timeout: int = 900) -> None:
        with self.nested(f"waiting for TCP port {port} on {addr} to be closed"):
            self._wait_for_status(port_open_command(port, addr), timeout, success=False)

    def _wait_for_status(self, command: str, timeout: int, success: bool) -> None:
        retry(lambda _last_try: (self.execute(command)[0] == 0) == success, timeout)

    def start_job(self, jobname: str, user: str | None = None) -> tuple[int, str]:
        return self.systemctl(f"start {jobname}", user)

    def stop_job(self, jobname: str, user: str | None = None) -> tuple[int, str]:
        return self.systemctl(f"stop {jobname}", user)

    def wait_for_job(self, jobname: str) -> None:
        self.wait_for_unit(jobname)

    def execute(
        self,
        command: str,
        check_return: bool = True,
        check_output: bool = True,
        timeout: int | None = 900,
    ) -> tuple[int, str]:
        """Run a shell command in the guest; (status, stdout).  stderr goes to the console."""
        reply = self._run(command, check_return, check_output, timeout)
        return reply.status, reply.stdout.decode(errors="replace")

    def run_callbacks(self) -> None:
        for callback in self.callbacks:
            callback()

    def cleanup_statedir(self) -> None:
        """Delete the state directory (the disk and the initrd), as nixpkgs does at start."""
        shutil.rmtree(self.state_dir, ignore_errors=True)
        self.logger.log(f"deleting VM state directory {self.state_dir}")
        self.logger.log("if you want to keep the VM state, pass --keep-vm-state")

    def copy_from_machine(self, source: str, target_dir: str = "") -> None:
        """Copy a guest file or directory to `<out_dir>/<target_dir>/<basename>` on the host
        through the shared directory."""
        vm_src = PurePosixPath(source)
        with self._shared_temp() as (host_temp, vm_temp):
            # The guest caches 9p file data (rc.sh): flushed at close, and synced here too.
            vm_intermediate = vm_temp / vm_src.name
            self.succeed(
                make_command(["cp", "-r", vm_src, vm_intermediate])
                + " && "
                + make_command(["sync", "-f", vm_intermediate])
            )
            abs_target = Path(self.out_dir) / target_dir / vm_src.name
            abs_target.parent.mkdir(exist_ok=True, parents=True)
            self._copy_on_host(host_temp / vm_src.name, abs_target)

    def copy_from_vm(self, source: str, target_dir: str = "") -> None:
        """nixos-25.05's name of `copy_from_machine` (26.05 deprecates it; both work)."""
        self.copy_from_machine(source, target_dir)

    def copy_from_host_via_shell(self, source: str, target: str) -> None:
        """Copy a host file or directory through the command channel (no shared directory
        needed; ~60 KB/s under TCG): `cp -r` semantics as copy_from_host."""
        name = Path(source).name or Path(source).resolve().name
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(source, arcname=name, filter=as_root)
        data = base64.b64encode(buf.getvalue()).decode()
        vm_target = PurePosixPath(target)
        with self.nested(f"copying {source} from the host to {target} ({len(buf.getvalue())} B)"):
            tmp = self._must("mktemp -d", "mktemp").strip()
            for i in range(0, len(data), CHUNK):
                self._must(f"printf %s '{data[i : i + CHUNK]}' >>{tmp}/payload.b64", "upload")
            q = shlex.quote
            self._must(
                f"mkdir {tmp}/x && base64 -d {tmp}/payload.b64 | tar -x -C {tmp}/x"
                f" && mkdir -p {q(str(vm_target.parent))}"
                f" && cp -r {tmp}/x/{q(name)} {q(target)} && rm -rf {tmp}",
                f"unpacking into {target}",
            )

    def copy_from_host(self, source: str, target: str) -> None:
        """Copy a host file or directory to `target` in the guest through the shared
        directory (`cp -r` semantics: into an existing directory it lands as
        `target/<basename of source>`); mode bits as on the host, owner root:root."""
        host_src = Path(source)
        vm_target = PurePosixPath(target)
        with self._shared_temp() as (host_temp, vm_temp):
            self._copy_on_host(host_src, host_temp / host_src.name)
            self.succeed(make_command(["mkdir", "-p", vm_target.parent]))
            self.succeed(make_command(["cp", "-r", vm_temp / host_src.name, vm_target]))

    def _must(self, command: str, what: str) -> str:
        status, out = self.execute(command, timeout=None)
        if status != 0:
            raise RequestedAssertionFailed(f"{what} failed (exit code {status})")
        return out

    @contextmanager
    def _shared_temp(self) -> Iterator[tuple[Path, PurePosixPath]]:
        """A fresh directory in the shared directory, as (host path, guest path), made in the
        guest too and gone afterwards: nixpkgs' scaffolding for each copy."""
        with tempfile.TemporaryDirectory(dir=self.shared_dir) as shared_td:
            host = Path(shared_td)
            guest = GUEST_SHARED_DIR / host.name
            self.succeed(make_command(["mkdir", "-p", guest]))
            yield host, guest

    @staticmethod
    def _copy_on_host(src: Path, dest: Path) -> None:
        if src.is_dir():
            shutil.copytree(src, dest)
        else:
            shutil.copy(src, dest)

    # === nixpkgs' QemuMachine ==================================================================

    @unavailable(NO_SSH_BACKDOOR)
    def ssh_backdoor_command(self, index: int) -> str:
        raise NotImplementedError  # @unavailable raises instead

    def is_up(self) -> bool:
        s = self._session
        return self.booted and self.connected and s is not None and s.abort_reason() is None

    def wait_for_monitor_prompt(self) -> str:
        """Read the monitor up to its next `(qemu) ` prompt, the prompt included."""
        s = self._require_session()
        try:
            return s.monitor.read_to_prompt()
        except (MonitorError, OSError) as e:
            raise VMCrashed(s.crash_report(f"reading the monitor failed: {e}")) from e

    def send_monitor_command(self, command: str) -> str:
        """Send an HMP command to QEMU's monitor; returns what it sent back, as nixpkgs: the
        echo of the command, its output and the `(qemu) ` prompt."""
        self.run_callbacks()
        s = self._require_session()
        try:
            if s.qmp is not None:
                s.qmp.negotiated()  # so that QMP sees the events this command causes
            return s.monitor.command(command)
        except (MonitorError, OSError) as e:
            raise VMCrashed(s.crash_report(f"monitor command `{command}` failed: {e}")) from e

    def get_tty_text(self, tty: str) -> str:
        """The text on virtual terminal `tty` (blank here: no getty runs on the VTs)."""
        return self.execute(tty_text_command(tty))[1]

    def wait_until_tty_matches(self, tty: str, regexp: str, timeout: int = 900) -> None:
        pattern = re.compile(regexp)

        def matches(last_try: bool) -> bool:
            text = self.get_tty_text(tty)
            if last_try:
                self.log(
                    f"Last chance to match /{regexp}/ on TTY{tty}, which currently contains: {text}"
                )
            return pattern.search(text) is not None

        with self.nested(f"waiting for {regexp} to appear on tty {tty}"):
            retry(matches, timeout)

    def dump_tty_contents(self, tty: str) -> None:
        """Into the journal through `systemd-cat`, as nixpkgs; the image has none, so this
        logs nothing (and, as nixpkgs, does not say so)."""
        self.execute(f"fold -w 80 /dev/vcs{tty} | systemd-cat")

    def _run(
        self,
        command: str,
        check_return: bool = True,
        check_output: bool = True,
        timeout: float | None = 900,
    ) -> Reply:
        """One command in the guest: nixpkgs' `_execute` (with the polling conditions of its
        `execute` first), with the output as bytes and whether the timeout ended it."""
        self.run_callbacks()
        self.connect()
        full = f"set -euo pipefail; {command}"
        with self._lock:
            s = self._require_session()
            if not check_output:
                s.channel.send(full, timeout)
                return Reply(-2, b"")
            try:
                reply = s.channel.run(full, timeout)
            except ChannelTimeout as e:
                raise CommandTimeout(
                    s.crash_report(f"command `{command}`: the guest stopped answering ({e})")
                ) from e
            except ChannelStalled as e:
                report = s.stall_report(f"command `{command}`: {e}")
                self.log(report)
                raise ChannelStalledError(report + "\n" + s.crash_report("channel stalled")) from e
            except ChannelError as e:
                if not check_return:
                    return Reply(-1, b"")  # e.g. `poweroff`: the VM went away as asked
                raise VMCrashed(s.crash_report(f"while running `{command}`: {e}")) from e
        if reply.timed_out:
            self.log(
                f"{timed_out_message(command, timeout, reply.timed_out)}\n"
                f"--- last console lines ---\n{s.console.tail(20)}"
            )
        if not check_return:
            return Reply(-1, reply.stdout, reply.timed_out)
        return reply

    def shell_interact(self, address: str | None = None) -> None:
        """Type commands for the guest (one per line; Ctrl-D ends); for the REPL.  nixpkgs
        connects socat to the backdoor shell instead; a socat `address` is not supported."""
        if address is not None:
            raise RequestedAssertionFailed("shell_interact(address=...) is not supported")
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

    def console_interact(self) -> None:
        """Forward the terminal's input to the serial console, byte by byte (Ctrl-D ends)."""
        self.log("Terminal is ready (there is no prompt):")
        while True:
            try:
                char = sys.stdin.buffer.read(1)
            except KeyboardInterrupt:
                break
            if not char:
                self.log("Closing connection to the console")
                break
            self.send_console(char.decode(errors="replace"))

    def wait_for_shutdown(self) -> None:
        if not self.booted:
            return
        with self.nested("waiting for the VM to power off"):
            s = self._require_session()
            s.proc.wait()
            self._teardown()

    @property
    def pid(self) -> int | None:
        """QEMU's pid while the VM runs."""
        s = self._session
        return s.proc.pid if s is not None and self.booted else None

    @property
    def qmp_client(self) -> QMPSession | None:
        """The VM's QMP session while it runs (nixpkgs' QMPSession API), else None."""
        s = self._session
        return s.qmp if s is not None else None

    def wait_for_qmp_event(
        self, event_filter: Callable[[dict[str, Any]], bool], timeout: int = 60 * 10
    ) -> dict[str, Any]:
        """The first QMP event since the last one taken that `event_filter` accepts; the
        events before it are dropped.  TimeoutError after `timeout` s, as nixpkgs (which
        checks only between events)."""
        qmp = self.qmp_client
        if qmp is None:
            raise RuntimeError("QMP API is not ready yet, is the VM ready?")
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = qmp.wait_for_event(timeout=max(0.0, deadline - time.monotonic()))
            except ConnectionError as e:
                raise VMCrashed(self._require_session().crash_report(str(e))) from e
            if event_filter(event):
                return event
            if time.monotonic() >= deadline:
                raise TimeoutError

    def send_chars(self, chars: str, delay: float | None = 0.01) -> None:
        """Type `chars` on the keyboard, one key per character."""
        with self.nested(f"sending keys {chars!r}"):
            for char in chars:
                self.send_key(char, delay, log=False)

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
                    if self._snapshot is not None and self._snapshot.restore:
                        self._finish_restore(s)
                    else:
                        s.channel.wait_ready(self.config.boot_timeout)
                        if self._snapshot is not None:
                            snapshot_boot.save(
                                s, self._snapshot, {"kernel": str(self.config.kernel.parent)}
                            )
                            self.log(f"snapshot: saved {self._snapshot.entry}")
                except ChannelTimeout as e:
                    raise MachineError(s.crash_report(f"guest agent never came up: {e}")) from e
                except ChannelError as e:
                    raise VMCrashed(s.crash_report(str(e))) from e
                except SnapshotError as e:
                    raise MachineError(s.crash_report(f"snapshot: {e}")) from e
                self.connected = True
                self.log(f"connected to guest agent (took {time.monotonic() - tic:.2f} s)")

    def _finish_restore(self, s: VmSession) -> None:
        """The first command's wait on a node started from its snapshot; one that cannot be
        restored faithfully is booted the normal way instead (for the rest of the run), and
        the log says why."""
        assert self._snapshot is not None
        tic = time.monotonic()
        try:
            snapshot_boot.await_reseed(s, self._snapshot)
        except SnapshotError as e:
            self._boot_without_snapshot(str(e))
            self._require_session().channel.wait_ready(self.config.boot_timeout)
            return
        self.log(f"snapshot: the CRNG reseeded {time.monotonic() - tic:.2f} s after the wait began")

    def _boot_without_snapshot(self, reason: str) -> None:
        self.log(f"snapshot: {reason}; booting the normal way")
        self._snapshot_off = reason
        self._teardown()
        self.start()

    @contextmanager
    def _screendump(self) -> Iterator[tuple[Path, str]]:
        """Ask QEMU for a screendump into a temporary file: (its path, QEMU's answer)."""
        with tempfile.TemporaryDirectory() as tmpdir:
            path = Path(tmpdir) / "ppm"
            yield path, self.send_monitor_command(f"screendump {path}")

    def screenshot(self, filename: str) -> None:
        name = filename if "." in filename else f"{filename}.png"
        target = name if "/" in name else os.path.join(self.out_dir, name)
        with self.nested(f"making screenshot {target}", {"image": os.path.basename(target)}):
            with self._screendump() as (_, answer):
                lines = answer.splitlines()  # the echo, QEMU's error, the prompt
                said = lines[-2].strip() if len(lines) >= 2 else answer.strip()
                raise MachineError(
                    f"Cannot convert screenshot (QEMU made none: {said!r}; the portable"
                    " driver's VMs have no display)"
                )

    def get_screen_text_variants(self) -> list[str]:
        with self._screendump() as (path, _):
            return perform_ocr_variants_on_screenshot(path)

    def get_screen_text(self) -> str:
        with self._screendump() as (path, _):
            return perform_ocr_on_screenshot(path)

    def wait_for_text(self, regex: str, timeout: int = 900) -> None:
        def on_screen(last_try: bool) -> bool:
            variants = self.get_screen_text_variants()  # raises here: no OCR
            found = any(re.search(regex, text) for text in variants)
            if last_try and not found:
                self.log(f"Last OCR attempt failed. Text was: {variants}")
            return found

        with self.nested(f"waiting for {regex} to appear on screen"):
            retry(on_screen, timeout)

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

    @property
    def full_console_log(self) -> list[str]:
        """nixos-26.05's attribute: the console's lines since the last start (until the next)."""
        return self._console_lines

    def get_console_log(self) -> str:
        """All serial console output since the last start, one string (nixos-26.05)."""
        return "\n".join(self._console_lines)

    def send_key(self, key: str, delay: float | None = 0.01, log: bool | None = True) -> None:
        """Press a key (QEMU `sendkey` name, e.g. "ctrl-alt-delete", or one character)."""
        key = key_for(key)
        if log:
            with self.nested(f"sending key {key!r}"):
                self.send_monitor_command(f"sendkey {key}")
        else:
            self.send_monitor_command(f"sendkey {key}")
        if delay is not None:
            time.sleep(delay)

    def send_console(self, chars: str) -> None:
        """Send characters to the serial console (ttyS0)."""
        self._require_session().console.send(chars.encode())

    def start(self, allow_reboot: bool = False) -> None:
        """Start the VM; returns once QEMU runs, without waiting for the boot.  Without
        `allow_reboot` a guest reboot ends QEMU (-no-reboot), as in nixpkgs."""
        with self._lock:
            if self.booted:
                return
            self.log("starting vm")
            qc = self.qemu_config(self.prepare_initrd(), allow_reboot)
            disk_kept = qc.disk is not None and qc.disk.exists()
            for nic in qc.nics:
                nic.local_socket.unlink(missing_ok=True)
            argv, self._snapshot = qemu_argv(qc), None
            if self.config.snapshots is not None and self._snapshot_off is None:
                argv, self._snapshot = snapshot_boot.prepare(
                    self.config.snapshots,
                    qc,
                    (self.socket_dir, *([self.channels.dir] if self.channels else [])),
                    self.socket_dir / f"{self.name}.ram",
                    disk_kept,
                    self.log,
                )
            # A restore has put the saved disk in place: no new one to format.
            if qc.disk is not None and not (self._snapshot and self._snapshot.restore):
                try:
                    if ensure_disk(qc.disk, self.config.disk_size_mb or DISK_SIZE_MB):
                        self.log(f"created disk {qc.disk}")
                except (DiskError, OSError) as e:
                    raise MachineError(f"{self.name}: cannot make its disk: {e}") from e
            with self._starting:
                try:
                    self._session = VmSession(
                        self.name,
                        argv,
                        qc.sockets(),
                        self.console_log_path,
                        on_console_line=lambda line: self.logger.log_serial(line, self.name),
                        on_qemu_output=lambda line: self.log(f"qemu: {line}"),
                    )
                except QemuFailed as e:
                    raise VMCrashed(str(e)) from e
            self._console_cursor = 0
            self._console_lines = self._session.console.lines  # kept once the VM stops
            self.booted = True
            if self._snapshot is not None and self._snapshot.restore:
                try:
                    snapshot_boot.resume_restored(self._session, self._snapshot)
                    # Meanwhile the CRNG reseeds (awaited before the first command, which
                    # the agent reads after the clock).
                    self._session.channel.set_clock(snapshot_boot.clock_now())
                except (SnapshotError, ChannelError) as e:
                    self._boot_without_snapshot(str(e))
                    return
            self.log(f"QEMU running (pid {self._session.proc.pid}, accel {qc.accel})")

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

    def wait_for_x(self, timeout: int = 900) -> None:
        def ready(_last_try: bool) -> bool:
            return all(self.execute(command)[0] == 0 for command in X_READY_COMMANDS)

        with self.nested("waiting for the X11 server"):
            retry(ready, timeout)

    def get_window_names(self) -> list[str]:
        return self.succeed(WINDOW_NAMES_COMMAND).splitlines()  # no xwininfo: exit code 127

    def wait_for_window(self, regexp: str, timeout: int = 900) -> None:
        pattern = re.compile(regexp)

        def visible(last_try: bool) -> bool:
            names = self.get_window_names()
            if last_try:
                self.log(
                    f"Last chance to match {regexp} on the window list, which currently"
                    f" contains: {', '.join(names)}"
                )
            return any(pattern.search(name) for name in names)

        with self.nested("waiting for a window to appear"):
            retry(visible, timeout)

    def forward_port(self, host_port: int = 8080, guest_port: int = 80) -> None:
        """As nixpkgs: `hostfwd_add`, whose answer nobody reads.  The VMs have no user-mode
        network (QEMU answers "user mode network stack not in use"), so nothing is forwarded
        and nothing listens on the host, as on a NixOS test VM without one."""
        self.send_monitor_command(f"hostfwd_add tcp::{host_port}-:{guest_port}")

    def block(self) -> None:
        """Unplug the cable of the first VLAN NIC (eth1), as nixpkgs' block()."""
        self.send_monitor_command(f"set_link {nic_id(0)} off")

    def unblock(self) -> None:
        """Undo `block`."""
        self.send_monitor_command(f"set_link {nic_id(0)} on")

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

    # === the portable driver's own: QEMU's configuration, the initrd, the session =================

    @property
    def disk_path(self) -> Path | None:
        """The node's disk image (in its state directory), or None if it has none."""
        if self.config.disk_size_mb is None:
            return None
        return self.state_dir / f"{self.name}.img"

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
            extra_args=self.channels.qemu_args(self.name) if self.channels is not None else (),
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

    def kill(self, reason: str) -> None:
        """Kill QEMU now; calls waiting on this VM fail with `reason`."""
        s = self._session
        if s is not None:
            s.kill(reason)

    def _require_session(self) -> VmSession:
        if self._session is None:
            raise MachineError(f"{self.name}: the VM is not running (call start() first)")
        return self._session

    def _teardown(self) -> None:
        s, self._session = self._session, None
        self.booted = False
        self.connected = False
        if s is not None:
            s.close()
