"""Machine's polling helpers (nixpkgs semantics: retry once a second until a timeout)."""

from __future__ import annotations

import shlex

from printerfact.driver.errors import MachineError, RequestedAssertionFailed
from printerfact.driver.machine_base import MachineBase
from printerfact.driver.retry import retry

UNITS_DIR = "/run/units"  # the portable image's unit states (docs/architecture.md)


def _port_open_cmd(port: int, addr: str) -> str:
    # busybox nc has no -z: connect with stdin at EOF; a peer that keeps the connection open is
    # still an open port (nc killed by timeout's SIGTERM: 143).
    return (
        f"s=0; timeout 2 nc -w 1 {shlex.quote(addr)} {int(port)} </dev/null >/dev/null 2>&1"
        ' || s=$?; [ "$s" -eq 0 ] || [ "$s" -eq 143 ]'
    )


class WaitsMixin(MachineBase):
    def wait_until_succeeds(self, command: str, timeout: int = 900) -> str:
        """Repeat `command` once a second until it succeeds; its output."""
        output = ""

        def check(_last_try: bool) -> bool:
            nonlocal output
            status, output = self.execute(command, timeout=timeout)
            return status == 0

        with self.nested(f"waiting for success: {command}"):
            retry(check, timeout)
            return output

    def wait_until_fails(self, command: str, timeout: int = 900) -> str:
        """Repeat `command` once a second until it fails; its output."""
        output = ""

        def check(_last_try: bool) -> bool:
            nonlocal output
            status, output = self.execute(command, timeout=timeout)
            return status != 0

        with self.nested(f"waiting for failure: {command}"):
            retry(check, timeout)
            return output

    def wait_for_file(self, filename: str, timeout: int = 900) -> None:
        def check(_last_try: bool) -> bool:
            return self.execute(f"test -e {filename}")[0] == 0

        with self.nested(f"waiting for file '{filename}'"):
            retry(check, timeout)

    def wait_for_open_port(self, port: int, addr: str = "localhost", timeout: int = 900) -> None:
        def check(_last_try: bool) -> bool:
            return self.execute(_port_open_cmd(port, addr))[0] == 0

        with self.nested(f"waiting for TCP port {port} on {addr}"):
            retry(check, timeout)

    def wait_for_closed_port(self, port: int, addr: str = "localhost", timeout: int = 900) -> None:
        def check(_last_try: bool) -> bool:
            return self.execute(_port_open_cmd(port, addr))[0] != 0

        with self.nested(f"waiting for TCP port {port} on {addr} to be closed"):
            retry(check, timeout)

    def get_unit_state(self, unit: str) -> str:
        """activating|active|failed|inactive, or "" if the unit is unknown (yet)."""
        return self._unit_states(unit)[0]

    def _unit_states(self, unit: str) -> tuple[str, str]:
        if "." not in unit:
            unit += ".service"  # as systemd: wait_for_unit("factd") means factd.service
        path = shlex.quote(f"{UNITS_DIR}/{unit}")
        boot = f"{UNITS_DIR}/multi-user.target"
        _, out = self.execute(
            f'printf \'%s\\n%s\\n\' "$(cat {path} 2>/dev/null)" "$(cat {boot} 2>/dev/null)"'
        )
        lines = (out.splitlines() + ["", ""])[:2]
        return lines[0].strip(), lines[1].strip()

    def wait_for_unit(self, unit: str, user: str | None = None, timeout: int = 900) -> None:
        """Wait for a unit to be "active"; raise at once if it failed, or is inactive after
        boot finished (nothing will start it: nixpkgs' "no pending jobs")."""
        if user is not None:
            raise MachineError("user units do not exist on the portable image")

        def check(_last_try: bool) -> bool:
            state, boot = self._unit_states(unit)
            if state == "failed":
                raise RequestedAssertionFailed(f'unit "{unit}" reached state "failed"')
            if state in ("inactive", "") and boot == "active":
                # Boot is over and nothing will start it; an unknown unit is inactive too.
                raise RequestedAssertionFailed(
                    f'unit "{unit}" is {state or "unknown"}, inactive and there are no pending jobs'
                )
            return state == "active"

        with self.nested(f"waiting for unit {unit}"):
            retry(check, timeout)

    def require_unit_state(self, unit: str, require_state: str = "active") -> None:
        with self.nested(f"checking if unit '{unit}' has reached state '{require_state}'"):
            state = self.get_unit_state(unit)
            if state != require_state:
                raise RequestedAssertionFailed(
                    f"Expected unit '{unit}' to to be in state '{require_state}' "
                    f"but it is in state '{state}'"
                )
