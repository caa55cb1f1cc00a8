"""Static checks of testscripts (pyflakes + mypy against nixpkgs' API and ours), no VM."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from printerfact import nodes
from printerfact.checks import Finding, StaticCheckFailed, check, require_clean
from printerfact.stubs import DRIVER_SYMBOLS, NIXPKGS_PREPEND
from printerfact.stubs.api import driver_symbols

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
    f = only([f for f in check([test]) if f.source == "pyflakes"])
    assert (f.script, f.line) == (test.script, 3)
    assert "undefined name 'frobnicate'" in f.message
    assert str(f).startswith(f"{test.script}:3: ")


def test_misspelt_method_fails_against_both_apis(tmp_path: Path) -> None:
    f = only(check([make_test(tmp_path, 'start_all()\nmachine.succed("true")\n')]))
    assert f.line == 2
    assert 'has no attribute "succed"' in f.message
    assert "nixpkgs API" in f.source and "printerfact driver" in f.source


def test_wrong_argument_type_fails(tmp_path: Path) -> None:
    f = only(check([make_test(tmp_path, "machine.succeed(1)\n")]))
    assert f.line == 1
    assert 'incompatible type "int"; expected "str"' in f.message


def test_retry_takes_timeout_by_keyword_as_in_nixos_25_05(tmp_path: Path) -> None:
    # nixos-unstable renamed it `timeout_seconds`; the pinned 25.05 (and our driver) say
    # `timeout`.
    assert check([make_test(tmp_path, "retry(lambda last_try: True, timeout=5)\n")]) == []


def test_a_form_our_driver_accepts_but_nixpkgs_does_not_fails(tmp_path: Path) -> None:
    f = only(check([make_test(tmp_path, "driver.qemu_command_lines()\n")]))
    assert f.source == "mypy: nixpkgs API"
    assert '"Driver" has no attribute "qemu_command_lines"' in f.message


def test_a_nixpkgs_method_we_reject_fails_with_the_reason(tmp_path: Path) -> None:
    f = only(check([make_test(tmp_path, 'machine.screenshot("boot")\n')]))
    assert f.source == "mypy: printerfact driver"
    assert '"Machine" has no attribute "screenshot"' in f.message
    assert "nixpkgs has it; the portable driver does not: no display" in f.message
    assert "docs/api-conformance.md" in f.message


def test_method_of_our_driver_that_nixpkgs_lacks_fails(tmp_path: Path) -> None:
    # Our Machine has get_console_log() (nixpkgs got it after the pinned revision).
    f = only(check([make_test(tmp_path, "machine.get_console_log()\n")]))
    assert f.source == "mypy: nixpkgs API"
    assert 'has no attribute "get_console_log"' in f.message


def test_symbol_nixpkgs_has_but_our_driver_lacks_fails(tmp_path: Path) -> None:
    test = make_test(tmp_path, "")
    lacking = sorted(set(DRIVER_SYMBOLS) - set(driver_symbols(test)))
    assert lacking == ["create_machine"]  # every other nixpkgs symbol is provided
    test.script.write_text(f"{lacking[0]}\n")
    f = only(check([test]))
    assert f.source == "pyflakes"
    assert "(defined by nixpkgs API, not by printerfact driver: needs a NixOS VM" in f.message


def test_vlan_variables_are_not_pyflakes_builtins_in_nixpkgs(tmp_path: Path) -> None:
    # nixpkgs' driver-symbols are generated without VLANs: `vlan1` in a script fails its lint.
    f = only(check([make_test(tmp_path, "vlan1.stop()\n")]))
    assert f.source == "pyflakes" and "vlan1" in f.message


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


def test_pyflakes_builtins_are_what_the_prepend_declares() -> None:
    # The two nixpkgs lists must agree, except `os`, which nixpkgs' driver passes at run time
    # (and pyflakes accepts) but its prepend does not declare (so mypy rejects it).
    tree = ast.parse(NIXPKGS_PREPEND.read_text())
    declared = {n.target.id for n in tree.body if isinstance(n, ast.AnnAssign)}  # type: ignore[union-attr]
    declared |= {
        a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names
    }
    assert set(DRIVER_SYMBOLS) - {"os"} <= declared
    assert "os" not in declared
