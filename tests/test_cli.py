"""The `printerfact` command: parsing, `list`, `check`, the run bookkeeping; VMs only if marked."""

from __future__ import annotations

import io
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from printerfact import cli, repl, runner
from printerfact.nodes import load_tests
from printerfact.runner import Outcome


def write_tests(tmp_path: Path, scripts: dict[str, str]) -> Path:
    toml = "".join(f"[tests.{name}.nodes.machine]\n" for name in scripts)
    (tmp_path / "tests.toml").write_text(toml)
    for name, text in scripts.items():
        (tmp_path / f"{name}.py").write_text(text)
    return tmp_path / "tests.toml"


def test_run_defaults() -> None:
    args = cli.build_parser().parse_args(["run"])
    assert args.tests == []
    assert args.output_directory == Path("out")
    assert args.global_timeout is None  # runner.global_timeout decides per test
    assert args.junit_xml is None
    assert not (args.interactive or args.keep_vm_state or args.dry_run or args.skip_checks)


def test_run_flags() -> None:
    argv = ["run", "-I", "-K", "--junit-xml", "j.xml", "-o", "/o", "--global-timeout", "9", "a"]
    args = cli.build_parser().parse_args([*argv, "b", "--dry-run"])
    assert (args.interactive, args.keep_vm_state, args.dry_run) == (True, True, True)
    assert (args.junit_xml, args.output_directory) == (Path("j.xml"), Path("/o"))
    assert (args.global_timeout, args.tests) == (9, ["a", "b"])


def test_environment_gives_defaults_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRINTERFACT_OUT", "/from-env")
    monkeypatch.setenv("PRINTERFACT_GLOBAL_TIMEOUT", "42")
    monkeypatch.setenv("PRINTERFACT_JUNIT_XML", "/env/junit.xml")
    args = cli.build_parser().parse_args(["run"])
    assert args.output_directory == Path("/from-env")
    assert args.junit_xml == Path("/env/junit.xml")
    assert cli.build_parser().parse_args(["run", "-o", "x"]).output_directory == Path("x")


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main([])
    assert e.value.code == 2


def test_list_shows_every_test_and_node(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for test in ("printerfact", "lifecycle", "stress", "network"):
        assert f"\n{test}  (" in f"\n{out}"
    # network: client and server, numbered alphabetically on VLAN 1
    assert "client       192.168.1.1" in out and "server       192.168.1.2" in out
    assert "services factd" in out and "users alice" in out and "2 cpu" in out


def test_unknown_test_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "no-such-test"]) == 2
    assert "unknown test(s) no-such-test" in capsys.readouterr().err


def test_check_passes_on_a_good_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tests = write_tests(tmp_path, {"good": 'machine.succeed("true")\n'})
    assert cli.main(["--tests-file", str(tests), "check"]) == 0
    assert "static checks passed: 1 testscript(s)" in capsys.readouterr().out


def test_check_fails_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tests = write_tests(
        tmp_path, {"good": "start_all()\n", "bad": 'start_all()\nmachine.succed("x")\n'}
    )
    assert cli.main(["--tests-file", str(tests), "check"]) == 1
    captured = capsys.readouterr()
    assert f"{tmp_path / 'bad.py'}:2: " in captured.err
    assert 'has no attribute "succed"' in captured.err
    assert "good.py" not in captured.err
    assert "static checks failed: 2 testscript(s), 1 finding(s)" in captured.out


def test_check_honours_skip_lint_and_warns_as_nixpkgs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tests.toml").write_text(
        "[tests.lax]\nskipLint = true\n[tests.lax.nodes.machine]\n"
    )
    (tmp_path / "lax.py").write_text("import os.path as unused\n")  # only pyflakes minds
    assert cli.main(["--tests-file", str(tmp_path / "tests.toml"), "check"]) == 0
    assert "warning: lax: Linting is disabled" in capsys.readouterr().err


def test_check_selects_tests(tmp_path: Path) -> None:
    tests = write_tests(tmp_path, {"good": "start_all()\n", "bad": "nope()\n"})
    assert cli.main(["--tests-file", str(tests), "check", "good"]) == 0


def test_run_stops_at_static_checks_before_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_build() -> None:
        raise AssertionError("must not build when the static checks fail")

    monkeypatch.setattr(cli, "_artifacts", no_build)
    tests = write_tests(tmp_path, {"bad": "nope()\n"})
    assert cli.main(["--tests-file", str(tests), "run"]) == 1


def test_interactive_takes_one_test(tmp_path: Path) -> None:
    tests = write_tests(tmp_path, {"a": "", "b": ""})
    assert cli.main(["--tests-file", str(tests), "run", "-I"]) == 2


def test_dry_run_prints_each_nodes_qemu_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from printerfact.kernel.artifacts import Artifacts

    fake = tmp_path / "vmlinux"
    base_image = tmp_path / "initrd.cpio"
    base_image.write_bytes(b"")  # the node initrds are really written: base + node config
    artifacts = Artifacts(fake, "6.12.0", tmp_path, tmp_path / "printerfact.ko", base_image)
    monkeypatch.setattr(cli, "_artifacts", lambda flavour: artifacts)
    monkeypatch.setenv("PRINTERFACT_ACCEL", "tcg")  # no KVM probe: nothing boots
    assert cli.main(["run", "--dry-run", "--skip-checks", "network", "-o", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Nodes in name order, as nixpkgs' `machines`.
    assert lines[0] == "# network: client" and lines[2] == "# network: server"
    client, server = shlex.split(lines[1]), shlex.split(lines[3])
    assert server[0] == "qemu-system-x86_64"
    assert server[server.index("-kernel") + 1] == str(fake)
    assert server[server.index("-initrd") + 1].endswith("server.initrd")
    # The NIC names of NixOS test VMs, whose user-mode NIC is virtio-net-pci.0.
    assert "virtio-net-pci,netdev=vlan1,mac=52:54:00:12:01:02,id=virtio-net-pci.1" in server
    assert "virtio-net-pci,netdev=vlan1,mac=52:54:00:12:01:01,id=virtio-net-pci.1" in client
    disk = server[server.index("-drive") + 1]
    assert disk.startswith("file=") and "vm-state-server/server.img,format=raw" in disk


def test_dry_run_boots_nothing_and_its_initrds_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from printerfact.kernel.artifacts import Artifacts
    from printerfact.vm import kvm_probe, process

    def tripwire(*args: object, **kw: object) -> None:
        raise AssertionError("--dry-run started a process")

    base_image = tmp_path / "initrd.cpio"
    base_image.write_bytes(b"base")
    kernel = tmp_path / "vmlinux"
    artifacts = Artifacts(kernel, "6.12.0", tmp_path, tmp_path / "printerfact.ko", base_image)
    monkeypatch.setattr(cli, "_artifacts", lambda flavour: artifacts)
    # No override and an empty probe cache: a driver left to choose would probe KVM.
    monkeypatch.delenv("PRINTERFACT_ACCEL", raising=False)
    monkeypatch.setenv("PRINTERFACT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(kvm_probe, "probe_kvm", tripwire)
    monkeypatch.setattr(process, "_popen", tripwire)
    out = tmp_path / "out"
    assert cli.main(["run", "--dry-run", "--skip-checks", "network", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "--dry-run shows -accel tcg" in captured.err
    lines = captured.out.splitlines()
    assert [ln for ln in lines if ln.startswith("#")] == ["# network: client", "# network: server"]
    for line in lines[1::2]:
        argv = shlex.split(line)
        assert argv[0] == "qemu-system-x86_64"
        assert argv[argv.index("-accel") + 1] == "tcg"
        initrd = Path(argv[argv.index("-initrd") + 1])
        assert initrd.is_file() and initrd.is_relative_to(out)  # still there after the run
        assert initrd.read_bytes().startswith(b"base")
    assert not (tmp_path / "cache" / "accel.json").exists()
    monkeypatch.setenv("PRINTERFACT_ACCEL", "kvm")
    assert cli.main(["run", "--dry-run", "--skip-checks", "lifecycle", "-o", str(out)]) == 0
    argv = shlex.split(capsys.readouterr().out.splitlines()[1])
    assert argv[argv.index("-accel") + 1] == "kvm"


def test_junit_merge_marks_a_test_that_broke_outside_its_subtests(tmp_path: Path) -> None:
    # The driver wrote JUnit with every subtest passed, then the run broke (final sync, exit).
    suite = tmp_path / "a.xml"
    suite.write_text(
        '<testsuites><testsuite name="a" tests="1"><testcase name="boots"/></testsuite>'
        "</testsuites>"
    )
    outcomes = [Outcome("a", "error", 1.0, "VMCrashed: QEMU died during the final sync")]
    dest = tmp_path / "junit.xml"
    runner.merge_junit(outcomes, {"a": suite}, dest)
    root = ET.parse(dest).getroot()
    errors = root.findall("testsuite/testcase/error")
    assert [e.get("message") for e in errors] == ["VMCrashed: QEMU died during the final sync"]
    assert [c.get("name") for c in root.iter("testcase")] == ["boots", "main"]
    # A failure the JUnit already shows is not reported twice.
    suite.write_text(
        '<testsuite name="a"><testcase name="boots"><failure message="x"/></testcase></testsuite>'
    )
    runner.merge_junit([Outcome("a", "failed", 1.0, "boom")], {"a": suite}, dest)
    assert len(list(ET.parse(dest).getroot().iter("testcase"))) == 1


def test_repl_on_a_pipe_runs_code_with_the_symbols(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Not a terminal: the stdlib REPL, which reads the pipe (ptpython would need a tty).
    monkeypatch.setattr("sys.stdin", io.StringIO("print(answer * 2)\n"))
    repl.embed({"answer": 21}, tmp_path / "history")
    captured = capsys.readouterr()
    assert ">>> 42" in captured.out
    assert (tmp_path / "history").is_file()
    assert "Symbols: answer" in captured.err  # the banner


def test_repl_imports_nixpkgs_modules_only_while_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = "from test_driver.machine import Machine\nprint(Machine.__module__)\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(code))
    repl.embed({}, tmp_path / "history")
    assert "printerfact.driver.machine" in capsys.readouterr().out
    assert "test_driver" not in sys.modules


def test_summary_table_lists_each_test() -> None:
    table = runner.summary_table(
        [Outcome("printerfact", "passed", 12.34), Outcome("network", "failed", 3.0, "boom")]
    )
    lines = table.splitlines()
    assert lines[0].split() == ["test", "result", "seconds"]
    assert lines[1].split() == ["printerfact", "passed", "12.3"]
    assert lines[2].split() == ["network", "FAILED", "3.0"]


def test_junit_merge_keeps_each_suite_and_covers_crashed_tests(tmp_path: Path) -> None:
    suite = tmp_path / "a.xml"
    suite.write_text(
        '<testsuites><testsuite name="printerfact VM test" tests="2">'
        '<testcase name="boots"/><testcase name="reads"><failure message="x"/></testcase>'
        "</testsuite></testsuites>"
    )
    outcomes = [Outcome("a", "failed", 1.0), Outcome("b", "error", 2.0, "MachineError: QEMU died")]
    dest = tmp_path / "out" / "junit.xml"
    runner.merge_junit(outcomes, {"a": suite, "b": tmp_path / "missing.xml"}, dest)
    suites = ET.parse(dest).getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["a: printerfact VM test", "b"]
    assert [c.get("name") for c in suites[0]] == ["boots", "reads"]
    error = suites[1].find("testcase/error")
    assert error is not None and error.get("message") == "MachineError: QEMU died"


def test_entry_point_is_installed() -> None:
    exe = Path(sys.executable).parent / "printerfact"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("list", "check", "build", "run"):
        assert f"    {command} " in out


@pytest.mark.vm
@pytest.mark.slow
def test_run_printerfact_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junit = tmp_path / "junit.xml"
    code = cli.main(["run", "printerfact", "-o", str(tmp_path), "--junit-xml", str(junit)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[-1].split()[:2] == ["printerfact", "passed"]
    assert ET.parse(junit).getroot().find("testsuite/testcase") is not None
    assert (tmp_path / "printerfact" / "machine.console.log").is_file()


def test_global_timeout_flag_then_the_tests_own_then_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "a.py").write_text("")
    (tmp_path / "b.py").write_text("")
    (tmp_path / "tests.toml").write_text("[tests.a]\nglobalTimeout = 5\n[tests.b]\n")
    tests = load_tests(tmp_path / "tests.toml")
    monkeypatch.delenv("PRINTERFACT_GLOBAL_TIMEOUT", raising=False)
    assert [runner.global_timeout_of(t) for t in tests.values()] == [5, 3600]
    monkeypatch.setenv("PRINTERFACT_GLOBAL_TIMEOUT", "42")
    assert [runner.global_timeout_of(t) for t in tests.values()] == [5, 42]
    assert [runner.global_timeout_of(t, 9) for t in tests.values()] == [9, 9]
