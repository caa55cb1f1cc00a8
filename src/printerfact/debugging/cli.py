"""The CLI's debugging options (printerfact.cli keeps only the hooks): `run --debug-on-failure`,
`run --gdb` and the `attach` command."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from printerfact.driver.driver import Driver
    from printerfact.driver.machine import Machine
    from printerfact.kernel.artifacts import Artifacts


def add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--debug-on-failure",
        action="store_true",
        help="when a test fails, keep its VMs up and open the REPL in the failing script's"
        " namespace (`error` is the exception); Ctrl-D ends the run (needs a terminal)",
    )
    run.add_argument(
        "--gdb",
        action="store_true",
        help="QEMU's gdb stub on a unix socket per node, and the gdb command line with the"
        " module's symbols (with --debug-on-failure or --interactive)",
    )


def add_attach_parser(sub: Any) -> None:
    att = sub.add_parser(
        "attach",
        help="a root shell on a running node of a run (no NODE: list the running nodes)",
    )
    att.add_argument("node", nargs="?", metavar="NODE")
    att.add_argument("--run", type=int, metavar="PID", help="the run's pid (default: newest)")


def refuse(args: argparse.Namespace) -> str | None:
    """Why `run` cannot take these debugging options, or None."""
    from printerfact.debugging.failure import NO_TERMINAL, has_terminal

    if args.gdb and not (args.debug_on_failure or args.interactive):
        return "--gdb needs --debug-on-failure or --interactive (gdb attaches to kept VMs)"
    if args.debug_on_failure and args.interactive:
        return "--debug-on-failure and --interactive exclude each other"
    if args.debug_on_failure and not has_terminal():
        return NO_TERMINAL
    return None


def cmd_attach(args: argparse.Namespace) -> int:
    from printerfact.debugging.attach import main

    return main(args.node, args.run)


def interactive_symbols(driver: Driver, artifacts: Artifacts, gdb: bool) -> dict[str, Any]:
    """The REPL's extras: the channels are printed; with --gdb, `gdb_command(machine)`."""
    if gdb:
        driver.channels.enable_gdb()
    for line in driver.channels.describe():
        driver.logger.log(line)
    if not gdb:
        return {}
    from printerfact.debugging import gdb as gdb_mod

    def gdb_command(machine: Machine) -> str:
        """The gdb command line for `machine` (started, module loaded: with its symbols)."""
        line = shlex.join(gdb_mod.command_for(driver, machine, artifacts))
        print(line, file=sys.stderr)
        return line

    return {"gdb_command": gdb_command}
