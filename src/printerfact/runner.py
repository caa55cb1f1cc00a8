"""Running testscripts under the driver: shared by the CLI and the pytest plugin.

One `Driver` per test (its own output directory `<out>/<test>/`), so a broken test cannot leak
VMs into the next; results are collected as `Outcome`s for the summary table and JUnit.
`driver()` makes each one with what it needs from the build injected (each node's initrd).
"""

from __future__ import annotations

import functools
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from printerfact.driver import snapshot_boot
from printerfact.driver.driver import Driver, InitrdFn
from printerfact.driver.errors import GlobalTimeout, RequestedAssertionFailed, Terminated
from printerfact.driver.logger import AbstractLogger
from printerfact.driver.polling_condition import PollingConditionError
from printerfact.host.provision import ensure_python_packages
from printerfact.image.node import node_initrd
from printerfact.kernel.artifacts import Artifacts
from printerfact.kernel.flavour import DEFAULT as DEFAULT_FLAVOUR
from printerfact.nodes import DEFAULT_GLOBAL_TIMEOUT, TestSpec

# "timeout": the global timeout ended the test (nixpkgs' driver then exits with 143).
Status = Literal["passed", "failed", "error", "timeout"]


@dataclass(frozen=True)
class Outcome:
    test: str
    status: Status
    seconds: float
    detail: str = ""


GLOBAL_TIMEOUT_ENV = "PRINTERFACT_GLOBAL_TIMEOUT"


def global_timeout_of(test: TestSpec, explicit: int | None = None) -> int:
    """Seconds for `test` as a whole: a value given on the command line wins, then the test's
    own `globalTimeout` (as nixpkgs' wrapper sets it), then $PRINTERFACT_GLOBAL_TIMEOUT."""
    if explicit is not None:
        return explicit
    if test.global_timeout is not None:
        return test.global_timeout
    return int(os.environ.get(GLOBAL_TIMEOUT_ENV, DEFAULT_GLOBAL_TIMEOUT))


def prepare(test: TestSpec) -> None:
    """What a test needs before its static checks and its run: its extraPythonPackages."""
    ensure_python_packages(test.extra_python_packages)


def select(tests: dict[str, TestSpec], names: Sequence[str]) -> list[TestSpec]:
    """The named tests in the given order, or all of them; unknown names are an error."""
    unknown = [n for n in names if n not in tests]
    if unknown:
        raise KeyError(f"unknown test(s) {', '.join(unknown)}; known: {', '.join(tests)}")
    return [tests[n] for n in names] if names else list(tests.values())


def label(test: TestSpec, flavour: str = DEFAULT_FLAVOUR) -> str:
    """How a run of `test` on a kernel flavour is named in tables, JUnit and pytest ids."""
    return test.name if flavour == DEFAULT_FLAVOUR else f"{test.name}[{flavour}]"


def test_out_dir(out: Path, test: TestSpec, flavour: str = DEFAULT_FLAVOUR) -> Path:
    """`<out>/<test>` (default flavour) or `<out>/<test>-<flavour>`."""
    return out / (test.name if flavour == DEFAULT_FLAVOUR else f"{test.name}-{flavour}")


def initrd_for(test: TestSpec, artifacts: Artifacts) -> InitrdFn:
    """(node, dest_dir) -> the node's initrd: the flavour's base image + the node's packages and
    settings (printerfact.image.node)."""
    return functools.partial(node_initrd, artifacts.initrd, test)


def driver(test: TestSpec, artifacts: Artifacts, out_dir: Path, **options: Any) -> Driver:
    """The Driver of `test` on `artifacts`; `options`: the Driver's keywords."""
    return Driver(test, artifacts, out_dir, initrd_for=initrd_for(test, artifacts), **options)


def execute(
    test: TestSpec,
    artifacts: Artifacts,
    out_dir: Path,
    *,
    keep_vm_state: bool = False,
    global_timeout: int | None = None,
    junit_xml: Path | None = None,
    logger: AbstractLogger | None = None,
    snapshots: bool | Path | None = None,
    on_start: Callable[[Driver], None] | None = None,
    on_failure: Callable[[Driver, BaseException], None] | None = None,
) -> None:
    """Run one testscript; raises what the driver raises.  `logger`: the driver's terminal
    logger (default: stderr); `snapshots`: snapshot boots on or off (None: the environment's
    choice; a path: on, with that snapshot cache; driver/snapshot_boot.py); `on_start`:
    called before the script runs; `on_failure`: called when it fails, before the driver
    cleans up (debugging/failure.py); `global_timeout` None: the test's own
    (`global_timeout_of`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with driver(
        test,
        artifacts,
        out_dir,
        keep_vm_state=keep_vm_state,
        global_timeout=global_timeout_of(test, global_timeout),
        junit_xml=junit_xml,
        logger=logger,
        snapshots=snapshot_boot.cache_dir(snapshots),
    ) as d:
        if on_start is not None:
            on_start(d)
        try:
            d.run_tests()
        except (KeyboardInterrupt, Terminated):
            raise
        except (Exception, SystemExit) as e:
            if on_failure is not None and classify(e) != "passed":
                on_failure(d, e)
            raise


def classify(exc: BaseException) -> Status:
    """`failed` when the script's own check failed, `error` when the machinery broke,
    `timeout` when the global timeout ended it."""
    if isinstance(exc, GlobalTimeout):
        return "timeout"
    if isinstance(exc, SystemExit):
        return "passed" if exc.code in (0, None) else "failed"
    if isinstance(exc, (RequestedAssertionFailed, AssertionError, PollingConditionError)):
        return "failed"
    return "error"


def run_one(
    test: TestSpec,
    artifacts: Artifacts,
    out: Path,
    *,
    keep_vm_state: bool = False,
    global_timeout: int | None = None,
    junit_xml: Path | None = None,
    snapshots: bool | Path | None = None,
    on_start: Callable[[Driver], None] | None = None,
    on_failure: Callable[[Driver, BaseException], None] | None = None,
) -> Outcome:
    """`execute` with its time and verdict; never raises for a failing or broken test.

    A SIGTERM (`Terminated`) is not a verdict on the test: like Ctrl-C it propagates, so the
    caller stops instead of booting the next test's VMs.
    """
    start = time.monotonic()
    name = label(test, artifacts.flavour)
    try:
        execute(
            test,
            artifacts,
            test_out_dir(out, test, artifacts.flavour),
            keep_vm_state=keep_vm_state,
            global_timeout=global_timeout,
            junit_xml=junit_xml,
            snapshots=snapshots,
            on_start=on_start,
            on_failure=on_failure,
        )
    except Terminated:
        raise
    except (Exception, SystemExit) as e:
        status = classify(e)
        detail = f"{type(e).__name__}: {e}" if status != "passed" else ""
        return Outcome(name, status, time.monotonic() - start, detail)
    return Outcome(name, "passed", time.monotonic() - start)


def exit_status(outcomes: Sequence[Outcome]) -> int:
    """As nixpkgs' driver exits for one test: 143 if a global timeout ended one (its SIGTERM),
    else 1 if one failed or broke, else 0."""
    if any(o.status == "timeout" for o in outcomes):
        return 143
    return 0 if all(o.status == "passed" for o in outcomes) else 1


def summary_table(outcomes: Sequence[Outcome]) -> str:
    width = max([len("test"), *(len(o.test) for o in outcomes)])
    rows = [f"{'test':<{width}}  {'result':<7}  {'seconds':>8}"]
    for o in outcomes:
        result = o.status if o.status == "passed" else o.status.upper()
        rows.append(f"{o.test:<{width}}  {result:<7}  {o.seconds:>8.1f}")
    return "\n".join(rows)


def merge_junit(outcomes: Sequence[Outcome], per_test: dict[str, Path], dest: Path) -> None:
    """One `<testsuites>` file from each test's own JUnit file (one testcase per subtest).

    A test that died before its driver wrote JUnit, or that did not pass although no case in
    its JUnit failed, gets a suite with a single failed/errored case, so the report never
    silently loses a test or calls a broken one passed.
    """
    root = ET.Element("testsuites")
    for o in outcomes:
        path = per_test.get(o.test)
        suites = _suites(path) if path and path.is_file() else []
        for suite in suites:
            name = suite.get("name", o.test)
            suite.set("name", name if name == o.test else f"{o.test}: {name}")
            root.append(suite)
        if not suites or (o.status != "passed" and not _has_failure(suites)):
            # Died before the driver wrote JUnit, or broke outside every subtest (the driver's
            # start, the final sync): the per-test file alone would say it passed.
            root.append(_synthetic_suite(o))
    dest.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(dest, encoding="utf-8", xml_declaration=True)


def _suites(path: Path) -> list[ET.Element]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return []
    return [root] if root.tag == "testsuite" else list(root.iter("testsuite"))


def _has_failure(suites: list[ET.Element]) -> bool:
    return any(
        case.find("failure") is not None or case.find("error") is not None
        for suite in suites
        for case in suite.iter("testcase")
    )


def _synthetic_suite(o: Outcome) -> ET.Element:
    failed = o.status != "passed"
    suite = ET.Element(
        "testsuite",
        name=o.test,
        tests="1",
        failures="1" if o.status == "failed" else "0",
        errors="1" if o.status in ("error", "timeout") else "0",
        time=f"{o.seconds:.3f}",
    )
    case = ET.SubElement(suite, "testcase", name="main", classname=o.test, time=f"{o.seconds:.3f}")
    if failed:
        ET.SubElement(case, "failure" if o.status == "failed" else "error", message=o.detail)
    return suite
