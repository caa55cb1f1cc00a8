"""Machine's systemd methods, with nixpkgs' semantics: everything goes through `systemctl` in
the guest (the image's own, guest/systemctl, over its unit states) and is read the way nixpkgs
reads it, so a script behaves alike on both.

wait_for_unit raises as nixpkgs does: at once on "failed", and on "inactive" when
`systemctl list-jobs` says no job is pending (an unknown unit is inactive too).
"""

from __future__ import annotations

import re

from printerfact.driver.errors import RequestedAssertionFailed
from printerfact.driver.machine_base import MachineBase
from printerfact.driver.retry import retry

_PROPERTY = re.compile(r"^([^=]+)=(.*)$")


def _whose(user: str | None) -> str:
    return "" if user is None else f' under user "{user}"'


class UnitsMixin(MachineBase):
    def systemctl(self, q: str, user: str | None = None) -> tuple[int, str]:
        """`systemctl q` in the guest; with `user`, `systemctl --user q` in a login shell of
        that user, as nixpkgs runs it."""
        if user is None:
            return self.execute(f"systemctl {q}")
        quoted = q.replace("'", "\\'")
        return self.execute(
            f"su -l {user} --shell /bin/sh -c "
            f"$'XDG_RUNTIME_DIR=/run/user/`id -u` systemctl --user {quoted}'"
        )

    def start_job(self, jobname: str, user: str | None = None) -> tuple[int, str]:
        return self.systemctl(f"start {jobname}", user)

    def stop_job(self, jobname: str, user: str | None = None) -> tuple[int, str]:
        return self.systemctl(f"stop {jobname}", user)

    def get_unit_info(self, unit: str, user: str | None = None) -> dict[str, str]:
        """Every property `systemctl show` prints for `unit`, as a dict."""
        status, lines = self.systemctl(f'--no-pager show "{unit}"', user)
        if status != 0:
            raise RequestedAssertionFailed(
                f'retrieving systemctl info for unit "{unit}"{_whose(user)}'
                f" failed with exit code {status}"
            )
        found = (_PROPERTY.match(line) for line in lines.split("\n"))
        return {m[1]: m[2] for m in found if m is not None}

    def get_unit_property(self, unit: str, property: str, user: str | None = None) -> str:
        """One property of `unit` (`systemctl show --property`)."""
        status, lines = self.systemctl(f'--no-pager show "{unit}" --property="{property}"', user)
        if status != 0:
            raise RequestedAssertionFailed(
                f'retrieving systemctl property "{property}" for unit "{unit}"{_whose(user)}'
                f" failed with exit code {status}"
            )
        # As nixpkgs: a plain assertion on anything but "property=value".
        match = _PROPERTY.match(lines)
        invalid = f'systemctl show --property "{property}" "{unit}"produced invalid output: {lines}'
        assert match is not None and match[1] == property, invalid
        return match[2]

    def require_unit_state(self, unit: str, require_state: str = "active") -> None:
        with self.nested(f"checking if unit '{unit}' has reached state '{require_state}'"):
            state = self.get_unit_info(unit)["ActiveState"]
            if state != require_state:
                raise RequestedAssertionFailed(
                    f"Expected unit '{unit}' to to be in state '{require_state}' "
                    f"but it is in state '{state}'"
                )

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

    def wait_for_job(self, jobname: str) -> None:
        self.wait_for_unit(jobname)
