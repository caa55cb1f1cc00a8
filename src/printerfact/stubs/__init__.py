"""Typed models of nixpkgs' NixOS test driver, one per supported channel, used by
`printerfact.checks`.

`nixos-<channel>/test_driver/` mirrors the module layout of that channel's
`nixos/lib/test-driver/src/test_driver` (only what a testscript can reach), and
`nixos-<channel>/test-script-prepend.py` mirrors its `nixos/lib/test-script-prepend.py` (the
dash keeps these directories from being importable packages).  What the two channels declare
alike is declared once, in `nixpkgs-common/nixpkgs_common/`, and re-exported by each channel
under nixpkgs' names; it is on mypy's path for both.  nixpkgs type-checks a testScript by
concatenating the prepend, one `<node>: <class>;` hint per node (on one line), one
`vlan<n>: VLan` line per VLAN, and the script, and running `mypy --no-implicit-optional` on
the result; pyflakes gets the node names and the driver's symbols as builtins.  `checks.py`
does the same against each model.

nixos-25.05 (end of life; the Nix pin's channel until it moves): one `Machine` class,
`retry(fn, timeout)` counting tries, the `machines` and `Machine` symbols.  nixos-26.05
(/work/notes/driver-api.md has the sources and how sure each is): `BaseMachine`, `QemuMachine`
and `NspawnMachine`, `retry(fn, timeout_seconds)` on a monotonic clock, `get_console_log`,
`copy_from_machine`, `ssh_backdoor_command`, the `machines_qemu`, `machines_nspawn`,
`BaseMachine` and `debug` symbols.  A script passes nixpkgs' half of the static check when
one channel's model accepts it.  docs/api-conformance.md says, name by name and channel by
channel, what the portable driver implements and what it does instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STUBS_DIR = Path(__file__).resolve().parent
# On mypy's path after the channel's directory: what both channels declare alike.
COMMON_STUBS_DIR = STUBS_DIR / "nixpkgs-common"


@dataclass(frozen=True)
class Channel:
    """One nixpkgs channel's test-driver API, as its static checks see it."""

    name: str  # "nixos-25.05"
    # `Driver.test_symbols()` without nodes and VLANs: what `generate-driver-symbols` writes
    # and nixpkgs passes to pyflakes as builtins (with the node names).
    driver_symbols: tuple[str, ...]
    node_class: str  # the type driver.nix gives each node variable in the typed header

    @property
    def stubs_dir(self) -> Path:
        return STUBS_DIR / self.name

    @property
    def prepend(self) -> Path:
        return self.stubs_dir / "test-script-prepend.py"

    @property
    def search_path(self) -> tuple[Path, ...]:
        return (self.stubs_dir, COMMON_STUBS_DIR)


NIXOS_25_05 = Channel(
    name="nixos-25.05",
    driver_symbols=(
        "start_all", "test_script", "machines", "vlans", "driver", "log", "os",
        "create_machine", "subtest", "run_tests", "join_all", "retry", "serial_stdout_off",
        "serial_stdout_on", "polling_condition", "Machine", "t",
    ),
    node_class="Machine",
)  # fmt: skip

NIXOS_26_05 = Channel(
    name="nixos-26.05",
    driver_symbols=(  # driver.py@003d5816
        "start_all", "test_script", "machines_qemu", "machines_nspawn", "vlans", "driver",
        "log", "os", "create_machine", "subtest", "run_tests", "join_all", "retry",
        "serial_stdout_off", "serial_stdout_on", "polling_condition", "BaseMachine", "t",
        "debug",
    ),
    node_class="QemuMachine",  # driver.nix@01fbdeef: `${name}: QemuMachine;`
)  # fmt: skip

# The channels a testscript may be written for: the one list (the Nix helper picks which one
# the pin follows; a script passes nixpkgs' half of the check when one of these accepts it).
CHANNELS: tuple[Channel, ...] = (NIXOS_25_05, NIXOS_26_05)
