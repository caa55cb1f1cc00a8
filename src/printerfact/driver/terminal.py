"""Machine's serial console, QEMU monitors (HMP and QMP), keyboard and network cable, as in
nixpkgs.

The serial console carries the kernel log and stderr of commands; as on NixOS there is no
shell on it.  Keys go through QEMU's `sendkey` to the guest's PS/2 keyboard (Ctrl-Alt-Delete
reboots).  block()/unblock() switch the link of "virtio-net-pci.1", as nixpkgs does: the first
VLAN NIC, eth1 (vm/qemu_argv.nic_id).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from typing import Any

from printerfact.driver.errors import RequestedAssertionFailed, VMCrashed
from printerfact.driver.machine_base import MachineBase
from printerfact.vm.monitor import MonitorError
from printerfact.vm.qemu_argv import nic_id
from printerfact.vm.qmp import QMPSession

# What `send_chars`/`send_key` press for a character that is not itself a key name: nixpkgs'
# CHAR_TO_KEY, PC scancodes of the US layout (shifted characters add shift).
_CODES = {"-": "0x0C", "=": "0x0D", "[": "0x1A", "]": "0x1B", ";": "0x27", "'": "0x28",
          "`": "0x29", "\\": "0x2B", ",": "0x33", ".": "0x34", "/": "0x35"}  # fmt: skip
_SHIFTED = dict(zip('_+{}:"~|<>?', "-=[];'`\\,./", strict=True))
CHAR_TO_KEY: dict[str, str] = {
    **{c: f"shift-{c.lower()}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    **_CODES,
    **{s: f"shift-{_CODES[c]}" for s, c in _SHIFTED.items()},
    **{c: f"shift-0x{i:02X}" for i, c in enumerate("!@#$%^&*()", start=2)},
    " ": "spc",
    "\n": "ret",
}


def key_for(char: str) -> str:
    """The `sendkey` name for one character; key names ("ctrl-alt-delete") pass unchanged."""
    return CHAR_TO_KEY.get(char, char)


class TerminalMixin(MachineBase):
    _console_cursor: int
    _console_lines: list[str]  # the console of the last start, kept after the VM stops

    def log_serial(self, msg: str) -> None:
        self.logger.log_serial(msg, self.name)

    @property
    def full_console_log(self) -> list[str]:
        """nixos-26.05's attribute: the console's lines since the last start (until the next)."""
        return self._console_lines

    def get_console_log(self) -> str:
        """All serial console output since the last start, one string (nixos-26.05)."""
        return "\n".join(self._console_lines)

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

    def send_chars(self, chars: str, delay: float | None = 0.01) -> None:
        """Type `chars` on the keyboard, one key per character."""
        with self.nested(f"sending keys {chars!r}"):
            for char in chars:
                self.send_key(char, delay, log=False)

    def block(self) -> None:
        """Unplug the cable of the first VLAN NIC (eth1), as nixpkgs' block()."""
        self.send_monitor_command(f"set_link {nic_id(0)} off")

    def unblock(self) -> None:
        """Undo `block`."""
        self.send_monitor_command(f"set_link {nic_id(0)} on")

    def forward_port(self, host_port: int = 8080, guest_port: int = 80) -> None:
        """As nixpkgs: `hostfwd_add`, whose answer nobody reads.  The VMs have no user-mode
        network (QEMU answers "user mode network stack not in use"), so nothing is forwarded
        and nothing listens on the host, as on a NixOS test VM without one."""
        self.send_monitor_command(f"hostfwd_add tcp::{host_port}-:{guest_port}")
