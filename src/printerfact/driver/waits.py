"""Machine's polling helpers (nixpkgs semantics: retry once a second until a timeout).

wait_until_* pass their timeout to each attempt too, as nixpkgs does: an attempt that runs
past it ends with status 124, which counts as a failed attempt.
"""

from __future__ import annotations

import shlex

from printerfact.driver.machine_base import MachineBase
from printerfact.driver.retry import retry


def _port_open_cmd(port: int, addr: str) -> str:
    # busybox nc has no -z: connect with stdin at EOF; a peer that keeps the connection open is
    # still an open port (nc killed by timeout's SIGTERM: 143).
    return (
        f"s=0; timeout 2 nc -w 1 {shlex.quote(addr)} {int(port)} </dev/null >/dev/null 2>&1"
        ' || s=$?; [ "$s" -eq 0 ] || [ "$s" -eq 143 ]'
    )


def _unix_socket_open_cmd(addr: str, is_datagram: bool) -> str:
    # What `nc -z -U` (nixpkgs) finds out, read from the kernel's socket table, since busybox
    # nc has no unix sockets: a socket bound at that path, and for a stream socket listening
    # (flag __SO_ACCEPTCON).  The path is resolved first, as connect() follows symlinks.
    kind = "0002" if is_datagram else "0001"
    return (
        f'p=$(readlink -f -- {shlex.quote(addr)}) && awk -v p="$p"'
        f' \'NR > 1 && $5 == "{kind}" && ($5 == "0002" || $4 == "00010000")'
        " && substr($0, index($0, $8)) == p { found = 1 } END { exit !found }' /proc/net/unix"
    )


class WaitsMixin(MachineBase):
    def _wait_until(self, command: str, timeout: int, success: bool) -> str:
        output = ""

        def check(_last_try: bool) -> bool:
            nonlocal output
            status, output = self.execute(command, timeout=timeout)
            return (status == 0) == success

        retry(check, timeout)
        return output

    def wait_until_succeeds(self, command: str, timeout: int = 900) -> str:
        """Repeat `command` once a second until it succeeds; its output."""
        with self.nested(f"waiting for success: {command}"):
            return self._wait_until(command, timeout, success=True)

    def wait_until_fails(self, command: str, timeout: int = 900) -> str:
        """Repeat `command` once a second until it fails; its output."""
        with self.nested(f"waiting for failure: {command}"):
            return self._wait_until(command, timeout, success=False)

    def _wait_for_status(self, command: str, timeout: int, success: bool) -> None:
        retry(lambda _last_try: (self.execute(command)[0] == 0) == success, timeout)

    def wait_for_file(self, filename: str, timeout: int = 900) -> None:
        with self.nested(f"waiting for file '{filename}'"):
            self._wait_for_status(f"test -e {filename}", timeout, success=True)

    def wait_for_open_port(self, port: int, addr: str = "localhost", timeout: int = 900) -> None:
        with self.nested(f"waiting for TCP port {port} on {addr}"):
            self._wait_for_status(_port_open_cmd(port, addr), timeout, success=True)

    def wait_for_closed_port(self, port: int, addr: str = "localhost", timeout: int = 900) -> None:
        with self.nested(f"waiting for TCP port {port} on {addr} to be closed"):
            self._wait_for_status(_port_open_cmd(port, addr), timeout, success=False)

    def wait_for_open_unix_socket(
        self, addr: str, is_datagram: bool = False, timeout: int = 900
    ) -> None:
        """Wait until a process listens on the unix socket `addr` (stream, or datagram)."""
        kind = "datagram" if is_datagram else "stream"
        with self.nested(f"waiting for UNIX-domain {kind} on '{addr}'"):
            self._wait_for_status(_unix_socket_open_cmd(addr, is_datagram), timeout, True)
