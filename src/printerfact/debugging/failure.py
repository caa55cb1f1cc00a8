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
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from printerfact import runner
from printerfact.driver import snapshot_boot
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
    test: TestSpec,
    artifacts: Artifacts,
    out: Path,
    *,
    keep_vm_state: bool = False,
    global_timeout: int = 3600,
    junit_xml: Path | None = None,
    gdb: bool = False,
    snapshots: bool | None = None,
) -> runner.Outcome:
    """As `runner.run_one`, but a failure opens the REPL before the driver cleans up."""
    from printerfact import repl
    from printerfact.driver.errors import Terminated

    start = time.monotonic()
    name = runner.label(test, artifacts.flavour)
    out_dir = runner.test_out_dir(out, test, artifacts.flavour)
    out_dir.mkdir(parents=True, exist_ok=True)
    failure: BaseException | None = None
    try:
        with runner.driver(
            test,
            artifacts,
            out_dir,
            keep_vm_state=keep_vm_state,
            global_timeout=global_timeout,
            junit_xml=junit_xml,
            snapshots=snapshot_boot.cache_dir(snapshots),
        ) as driver:
            if gdb:
                driver.channels.enable_gdb()
            try:
                driver.run_tests()
            except (KeyboardInterrupt, Terminated):
                raise
            except (Exception, SystemExit) as e:
                if runner.classify(e) == "passed":
                    raise
                failure = e
                from printerfact.debugging import gdb as gdb_mod

                gdb_lines = gdb_mod.report_lines(driver, artifacts) if gdb else []
                text = report(driver, e, gdb_lines)
                # On the terminal and in JUnit: where the sockets are.
                for line in text.splitlines():
                    driver.logger.log(line)
                repl.embed(repl_symbols(driver, e), out_dir / ".printerfact-history")
                raise
    except (KeyboardInterrupt, Terminated):
        raise
    except (Exception, SystemExit) as e:
        status = runner.classify(failure or e)
        detail = f"{type(e).__name__}: {e}" if status != "passed" else ""
        return runner.Outcome(name, status, time.monotonic() - start, detail)
    return runner.Outcome(name, "passed", time.monotonic() - start)
