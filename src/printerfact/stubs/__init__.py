"""Typed model of the nixpkgs NixOS test driver, used by `printerfact.checks`.

`nixpkgs-test-driver/test_driver/` mirrors the module layout of nixpkgs'
`nixos/lib/test-driver/src/test_driver` (only what a testscript can reach), and
`nixpkgs-test-driver/test-script-prepend.py` mirrors `nixos/lib/test-script-prepend.py` (the
dash keeps that directory from being an importable package).  nixpkgs type-checks a testScript
by concatenating that header, one `<node>: Machine;` line per node, one `vlan<n>: VLan` line per
VLAN, and the script, and running `mypy --no-implicit-optional` on the result; `checks.py` does
the same against these stubs, so a script that passes here passes NixOS's check.

Source: the test driver of nixpkgs' nixos-25.05 branch (the pin moves to a nixos-25.05 channel
commit): `Machine`, `retry(fn, timeout)`, `t = AssertionTester()`, `create_machine`, errors in
`test_driver.errors`.  The stubs give every public name of those modules with nixpkgs'
signatures, so a script passes these checks exactly when it passes NixOS's.  nixos-unstable
differs (2025-09 on): `get_console_log()`, `retry(..., timeout_seconds=)`, the `debug`
symbol, `machines_qemu`/`machines_nspawn` and classes `BaseMachine`/`QemuMachine`; scripts
written for 25.05 that use none of the renamed forms run on both.  docs/api-conformance.md says,
name by name, what the portable driver implements and why it rejects the rest
(`printerfact.stubs.unsupported`).
"""

from __future__ import annotations

from pathlib import Path

# Goes on mypy's search path, so `import test_driver` finds the stubs.
NIXPKGS_STUBS_DIR = Path(__file__).resolve().parent / "nixpkgs-test-driver"
NIXPKGS_PREPEND = NIXPKGS_STUBS_DIR / "test-script-prepend.py"

# `Driver.test_symbols()` of that nixpkgs, without nodes and VLANs: what `generate-driver-symbols`
# writes and nixpkgs passes to pyflakes as builtins (with the node names).
DRIVER_SYMBOLS: tuple[str, ...] = (
    "start_all",
    "test_script",
    "machines",
    "vlans",
    "driver",
    "log",
    "os",
    "create_machine",
    "subtest",
    "run_tests",
    "join_all",
    "retry",
    "serial_stdout_off",
    "serial_stdout_on",
    "polling_condition",
    "Machine",
    "t",
)
