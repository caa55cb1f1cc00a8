"""Proof that the checks are live: every detector of the debug kernel reports a deliberate bug,
and the kernel-log guard fails the test quoting that report.

The bugs are in test-only modules (tests/fixtures/detectors/, never shipped), built against the
flavour's real kernel and loaded into a real guest with `insmod`.  One guest per bug: lockdep
and KASAN stop reporting after their first report or taint, so bugs must not share a boot.
On the default kernel, which has none of the sanitizers, a plain WARN still trips the guard.
"""

from __future__ import annotations

import re
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from printerfact import nodes, runner
from printerfact.driver.errors import RequestedAssertionFailed
from printerfact.host import toolchain
from printerfact.kernel import flavour, kernel, module
from printerfact.kernel.artifacts import Artifacts, ensure_artifacts

pytestmark = pytest.mark.vm

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "detectors"

# bug -> (module, the report the guard must quote).  Each pattern names the detector's own
# report header and, where the kernel prints it, the function with the bug.
C_BUGS = {
    "kasan": r"BUG: KASAN: slab-out-of-bounds in bug_kasan",
    "kfence": r"BUG: KFENCE: out-of-bounds read in bug_kfence",
    "ubsan": r"UBSAN: array-index-out-of-bounds in .*pf_detectors\.c",
    "lockdep": r"WARNING: possible circular locking dependency detected",
    "atomic_sleep": r"BUG: sleeping function called from invalid context at",
    "kmemleak": r"unreferenced object 0x[0-9a-f]+ \(size 128\)",
    "list": r"list_add double add",
    "odebug": r"ODEBUG: free active .*object type: timer_list",
    "refcount": r"refcount_t: decrement hit 0",
    "warn": r"WARNING: CPU: \d+ PID: \d+ at .*bug_warn",
}
RUST_BUGS = {
    "pf_rust_overflow": r"rust_kernel: panicked at .*pf_rust_overflow\.rs",
    "pf_rust_assert": r"pf_rust_assert: deliberate debug assertion",
}


def _fixture_ko(art: Artifacts, name: str) -> Path:
    tc = toolchain.detect()
    kb = kernel.ensure_kernel(tc, flavour.get(art.flavour))
    return module.ensure_module(kb, tc, src=FIXTURES, name=name)


@pytest.fixture(scope="module")
def debug_artifacts() -> Artifacts:
    return ensure_artifacts("debug")


@pytest.fixture(scope="module")
def default_artifacts() -> Artifacts:
    return ensure_artifacts("default")


def run_loading(art: Artifacts, tmp_path: Path, ko: Path, args: str = "") -> str:
    """Run a script that loads `ko` on one node; the guard's failure message (or a test
    failure if the run passed)."""
    script = f"""
        machine.copy_from_host({str(ko)!r}, "/tmp/fixture.ko")
        # A Rust panic kills insmod (an Oops): its status does not matter, the log does.
        machine.execute("insmod /tmp/fixture.ko {args}")
    """
    path = tmp_path / "testscript.py"
    path.write_text(textwrap.dedent(script))
    test = nodes.TestSpec("detector", path, (nodes.NodeSpec("machine", module_at_boot=False),))
    with runner.driver(test, art, tmp_path / "out", junit_xml=tmp_path / "junit.xml") as d:
        with pytest.raises(RequestedAssertionFailed, match="kernel report") as e:
            d.run_tests()
    return str(e.value)


@pytest.mark.parametrize("bug", list(C_BUGS))
def test_detector_fires_and_guard_quotes_it(
    bug: str, debug_artifacts: Artifacts, tmp_path: Path
) -> None:
    ko = _fixture_ko(debug_artifacts, "pf_detectors")
    message = run_loading(debug_artifacts, tmp_path, ko, f"bug={bug}")
    assert re.search(C_BUGS[bug], message), message


@pytest.mark.parametrize("name", list(RUST_BUGS))
def test_rust_checks_fire_and_guard_quotes_them(
    name: str, debug_artifacts: Artifacts, tmp_path: Path
) -> None:
    message = run_loading(debug_artifacts, tmp_path, _fixture_ko(debug_artifacts, name))
    assert re.search(RUST_BUGS[name], message), message


def test_guard_on_default_kernel_is_its_own_junit_case(
    default_artifacts: Artifacts, tmp_path: Path
) -> None:
    ko = _fixture_ko(default_artifacts, "pf_detectors")
    message = run_loading(default_artifacts, tmp_path, ko, "bug=warn")
    assert re.search(C_BUGS["warn"], message), message
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")}
    guard = cases["kernel log guard"]
    failure = guard.find("failure")
    assert failure is not None and "WARNING: CPU:" in ET.tostring(guard, encoding="unicode")
