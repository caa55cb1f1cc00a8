"""`printerfact run --debug-on-failure`: when a test fails, its VMs stay up and the user gets
the REPL in the failing script's namespace.

The REPL's globals are the script's own (its variables, every machine, the driver's symbols)
plus `error`, the exception at hand; before it opens, the failing line of the script, each
node's console tail and the ways into the kept VMs (`printerfact attach NODE`, gdb) are
printed, and logged, so the test's log and JUnit say where the sockets are.  Leaving the REPL
(Ctrl-D) ends the run, and the driver cleans up as after any run: no VM, socket or directory
outlives it.  It needs a terminal: in CI (stdin or stdout not a tty) the CLI refuses the flag.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from printerfact import runner
from printerfact.debugging import gdb as gdb_mod
from printerfact.driver.errors import testscript_frames
from printerfact.nodes import TestSpec

if TYPE_CHECKING:
    from printerfact.driver.driver import Driver
    from printerfact.kernel.artifacts import Artifacts

CONSOLE_TAIL = 15
NO_TERMINAL = (
    "--debug-on-failure needs a terminal (it opens a REPL at the failure), and stdin or"
    " stdout is not one; without a terminal (CI) run without it"
)


def has_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def failing_line(driver: Driver, exc: BaseException) -> str:
    """`file:line: source` of the script line that failed (the innermost frame of the script)."""
    frames = testscript_frames(exc, (driver.test.script, *driver.test.postscripts))
    if not frames:
        frames = traceback.extract_tb(exc.__traceback__)[-1:]
    if not frames:
        return "(no traceback)"
    f = frames[-1]
    return f"{f.filename}:{f.lineno}: {(f.line or '').strip()}"


def report(driver: Driver, exc: BaseException, gdb_lines: list[str] | None = None) -> str:
    lines = [
        "",
        f"=== {driver.test.name} failed: {type(exc).__name__}: {exc}",
        f"=== failing line: {failing_line(driver, exc)}",
    ]
    for m in driver.machines:
        tail = m.full_console_log[-CONSOLE_TAIL:]
        state = f"running (pid {m.pid})" if m.is_up() else "not running"
        lines.append(f"=== {m.name}: {state}; last console lines:")
        lines.extend(f"  {line}" for line in tail)
    lines.extend(f"=== {line}" for line in driver.channels.describe())
    lines.extend(gdb_lines or [])
    lines.append(
        "=== The VMs stay up.  In the REPL: `error` is the exception, every machine and the"
        " script's variables are here; Ctrl-D ends the run and stops the VMs."
    )
    return "\n".join(lines)


def repl_symbols(driver: Driver, exc: BaseException) -> dict[str, Any]:
    symbols = dict(driver.last_namespace or driver.test_symbols())
    symbols["error"] = exc
    return symbols


def run_one(
    test: TestSpec, artifacts: Artifacts, out: Path, *, gdb: bool = False, **options: Any
) -> runner.Outcome:
    """`runner.run_one`, but a failure opens the REPL before the driver cleans up."""
    from printerfact import repl  # the REPL's readline or ptpython: only when a test fails

    out_dir = runner.test_out_dir(out, test, artifacts.flavour)

    def on_failure(driver: Driver, e: BaseException) -> None:
        gdb_lines = gdb_mod.report_lines(driver, artifacts) if gdb else []
        # On the terminal and in JUnit: where the sockets are.
        for line in report(driver, e, gdb_lines).splitlines():
            driver.logger.log(line)
        repl.embed(repl_symbols(driver, e), out_dir / ".printerfact-history")

    def on_start(driver: Driver) -> None:
        if gdb:
            driver.channels.enable_gdb()

    return runner.run_one(test, artifacts, out, on_start=on_start, on_failure=on_failure, **options)
