"""Static checks of testscripts (pyflakes + mypy against each nixpkgs channel's API and ours),
no VM."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from printerfact import nodes
from printerfact.checks import (
    Finding,
    StaticCheckFailed,
    check,
    evaluation_warnings,
    mypy_findings,
    pyflakes_findings,
    require_clean,
)
from printerfact.stubs import CHANNELS, NIXOS_25_05, NIXOS_26_05, Channel
from printerfact.stubs.api import channel_apis

ALL = "nixos-25.05, nixos-26.05, printerfact driver"
NIXPKGS = "nixos-25.05, nixos-26.05"

GOOD = """\
start_all()
machine.wait_for_unit("multi-user.target")
with subtest("one fact per read"):
    fact = machine.succeed("head -c 4096 /dev/printerfact")
    t.assertGreater(len(fact.strip()), 0)
    status, _ = machine.execute("true")
    t.assertEqual(status, 0)
machine.fail("false")
retry(lambda last_try: True, 5)
"""


def make_test(
    tmp_path: Path, script: str, toml: str = "[tests.demo.nodes.machine]\n"
) -> nodes.TestSpec:
    (tmp_path / "tests.toml").write_text(toml)
    (tmp_path / "demo.py").write_text(textwrap.dedent(script))
    return nodes.load_tests(tmp_path / "tests.toml")["demo"]


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, "\n".join(map(str, findings))
    return findings[0]


def test_good_script_passes(tmp_path: Path) -> None:
    assert check([make_test(tmp_path, GOOD)]) == []


def test_undefined_name_is_reported_by_pyflakes_with_its_line(tmp_path: Path) -> None:
    test = make_test(tmp_path, "start_all()\n\nfrobnicate(machine)\n")
    f = only(check([test]))
    assert (f.script, f.line, f.source) == (test.script, 3, f"pyflakes: {ALL}")
    assert "undefined name 'frobnicate'" in f.message
    assert str(f).startswith(f"{test.script}:3: ")


def test_misspelt_method_fails_against_every_api(tmp_path: Path) -> None:
    # 25.05 says "Machine", 26.05 "QemuMachine": one finding all the same.
    f = only(check([make_test(tmp_path, 'start_all()\nmachine.succed("true")\n')]))
    assert f.line == 2
    assert 'has no attribute "succed"' in f.message
    assert f.source == f"mypy: {ALL}"


def test_wrong_argument_type_fails(tmp_path: Path) -> None:
    f = only(check([make_test(tmp_path, "machine.succeed(1)\n")]))
    assert f.line == 1
    assert 'incompatible type "int"; expected "str"' in f.message


def test_retry_takes_either_channels_keyword(tmp_path: Path) -> None:
    # 25.05 says `timeout` (tries), 26.05 `timeout_seconds` (a monotonic clock): one each.
    assert check([make_test(tmp_path, "retry(lambda last_try: True, timeout=5)\n")]) == []
    script = "retry(lambda last_try: True, timeout_seconds=5)\n"
    assert check([make_test(tmp_path, script)]) == []


def test_a_form_our_driver_accepts_but_nixpkgs_does_not_fails(tmp_path: Path) -> None:
    f = only(check([make_test(tmp_path, "driver.qemu_command_lines()\n")]))
    assert f.source == f"mypy: {NIXPKGS}"
    assert '"Driver" has no attribute "qemu_command_lines"' in f.message


@pytest.mark.parametrize(
    "line",
    [
        'machine.screenshot("boot")',  # no display: raises at the call, as nixpkgs
        'machine.wait_for_text("login:")',  # no OCR: nixpkgs' MachineError at the call
        'machine.send_monitor_command("info status")',
        "machine.switch_root()",
        "print(machine.process, machine.shell, vlans[0].pid, driver.race_timer)",
        'create_machine("run-x-vm")',  # unavailable: raises at the call
    ],
)
def test_what_nixpkgs_accepts_passes_though_it_raises_here(tmp_path: Path, line: str) -> None:
    assert check([make_test(tmp_path, line + "\n")]) == []


def test_a_script_one_channel_accepts_passes(tmp_path: Path) -> None:
    only_25_05 = "print(machines)\nm: Machine = machine\nmachine.wait_for_job('x')\n"
    assert check([make_test(tmp_path, only_25_05)]) == []
    only_26_05 = (
        "m: BaseMachine = machine\nprint(machine.get_console_log())\n"
        "machine.copy_from_machine('/etc/hostname')\ndebug.breakpoint()\n"
        "print(machine.keep_machine_state)\n"
    )
    assert check([make_test(tmp_path, only_26_05)]) == []


def test_a_script_no_channel_accepts_gets_each_channels_findings(tmp_path: Path) -> None:
    # `machines` only in 25.05, get_console_log() only in 26.05: both fail, each labelled.
    test = make_test(tmp_path, "print(machines)\nprint(machine.get_console_log())\n")
    findings = check([test])
    assert [(f.line, f.source) for f in findings] == [
        (1, "pyflakes: nixos-26.05"),
        (2, "mypy: nixos-25.05"),
    ]
    assert "undefined name 'machines' (defined by nixos-25.05, printerfact driver)" in (
        findings[0].message
    )
    assert 'has no attribute "get_console_log"' in findings[1].message


def test_imports_of_the_drivers_modules_pass(tmp_path: Path) -> None:
    script = """\
    from test_driver.machine import Machine
    from test_driver.errors import MachineError, RequestedAssertionFailed
    from test_driver.driver import Driver
    from test_driver.qmp import QMPSession
    from test_driver.polling_condition import PollingCondition
    from test_driver.logger import AbstractLogger
    import test_driver.vlan

    m: Machine = machine
    d: Driver = driver
    print(MachineError, RequestedAssertionFailed, QMPSession, PollingCondition, AbstractLogger)
    print(test_driver.vlan.VLan)
    """
    assert check([make_test(tmp_path, script)]) == []


def test_26_05_modules_pass_though_25_05_lacks_them(tmp_path: Path) -> None:
    script = """\
    from test_driver.machine import NspawnMachine, QemuMachine
    from test_driver.machine.ocr import perform_ocr_on_screenshot
    from test_driver.debug import DebugNop

    q: QemuMachine = machine
    print(NspawnMachine, perform_ocr_on_screenshot, DebugNop)
    """
    assert check([make_test(tmp_path, script)]) == []


def test_a_name_no_channel_has_fails_the_import(tmp_path: Path) -> None:
    script = "from test_driver.machine import Frobnicator\nprint(Frobnicator)\n"
    f = only(check([make_test(tmp_path, script)]))
    assert f.source == f"mypy: {ALL}"
    assert 'Module "test_driver.machine" has no attribute "Frobnicator"' in f.message


def test_skip_lint_drops_pyflakes_and_warns_as_nixpkgs(tmp_path: Path) -> None:
    script = "import os.path as unused\n"  # pyflakes' finding; mypy has none
    assert len(check([make_test(tmp_path, script)])) == 1
    toml = "[tests.demo]\nskipLint = true\n[tests.demo.nodes.machine]\n"
    test = make_test(tmp_path, script, toml)
    assert check([test]) == []
    assert evaluation_warnings([test]) == ["demo: Linting is disabled"]


def test_skip_type_check_drops_mypy(tmp_path: Path) -> None:
    toml = "[tests.demo]\nskipTypeCheck = true\n[tests.demo.nodes.machine]\n"
    test = make_test(tmp_path, "machine.succeed(1)\n", toml)
    assert check([test]) == []
    assert evaluation_warnings([test]) == []


def test_vlan_variables_are_not_pyflakes_builtins_in_nixpkgs(tmp_path: Path) -> None:
    # nixpkgs' driver-symbols are generated without VLANs: `vlan1` in a script fails its lint.
    findings = check([make_test(tmp_path, "vlan1.nr\n")])
    assert {f.source for f in findings} == {f"pyflakes: {ALL}"}
    assert all("vlan1" in f.message for f in findings)


def test_node_names_with_dashes_become_underscored_variables(tmp_path: Path) -> None:
    toml = "[tests.demo.nodes.client-a]\n[tests.demo.nodes.server]\n"
    script = 'client_a.succeed("true")\nserver.succeed("true")\nmachine.succeed("true")\n'
    f = only(check([make_test(tmp_path, script, toml)]))  # no `machine` with two nodes
    assert f.line == 3 and "undefined name 'machine'" in f.message


def test_syntax_error_is_reported_once(tmp_path: Path) -> None:
    f = only(check([make_test(tmp_path, "start_all(\n")]))
    assert f.source == "syntax" and f.line == 1


def test_require_clean_raises_with_every_finding(tmp_path: Path) -> None:
    test = make_test(tmp_path, 'machine.succed("a")\nnope()\n')
    with pytest.raises(StaticCheckFailed) as e:
        require_clean([test])
    assert len(e.value.findings) == 2  # succed (mypy), nope (pyflakes; mypy's echo dropped)
    assert f"{test.script}:1: " in str(e.value) and f"{test.script}:2: " in str(e.value)


def test_repository_testscripts_pass() -> None:
    tests = nodes.load_tests()
    assert tests, "testscripts/tests.toml has no tests"
    assert check(tests.values()) == []


def test_repository_testscripts_pass_each_channel_on_its_own() -> None:
    # The Nix pin moves from one channel to the next: every testscript (and the kernel-log
    # guard after it) must build on each, not only on one.
    tests = list(nodes.load_tests().values())
    apis = channel_apis()
    for api in apis:
        lint = [f for test in tests for f in pyflakes_findings(test, api, apis)]
        assert lint + mypy_findings(tests, api) == [], api.label


def _declared(channel: Channel) -> set[str]:
    tree = ast.parse(channel.prepend.read_text())
    declared = {n.target.id for n in tree.body if isinstance(n, ast.AnnAssign)}  # type: ignore[union-attr]
    return declared | {
        a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names
    }


@pytest.mark.parametrize(
    "channel, undeclared",
    [
        # `os` nixpkgs' driver passes at run time (and pyflakes accepts) but its prepend does
        # not declare (so mypy rejects it); 26.05's prepend lacks machines_qemu/_nspawn too.
        (NIXOS_25_05, {"os"}),
        (NIXOS_26_05, {"os", "machines_qemu", "machines_nspawn"}),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_pyflakes_builtins_are_what_the_prepend_declares(
    channel: Channel, undeclared: set[str]
) -> None:
    assert set(channel.driver_symbols) - _declared(channel) == undeclared


def test_the_channels_are_listed_once() -> None:
    assert [c.name for c in CHANNELS] == ["nixos-25.05", "nixos-26.05"]
    assert all(c.prepend.is_file() and (c.stubs_dir / "test_driver").is_dir() for c in CHANNELS)
