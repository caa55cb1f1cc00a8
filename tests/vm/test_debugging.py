"""Issue 20, driven through real terminals (ptys): a failing script whose VMs stay up with a
REPL at the failure, a shell attached to a node while a command of the test runs, and gdb
reading a symbol of the module through QEMU's stub."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from terminal import Terminal

from printerfact.kernel import artifacts as build_artifacts
from printerfact.vm import channels

pytestmark = pytest.mark.vm

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module", autouse=True)
def _built() -> None:
    build_artifacts.ensure_artifacts()  # the runs below take it from the cache


@pytest.fixture
def env() -> Iterator[dict[str, str]]:
    """The runs' environment: this source tree, a runtime directory of the test's own (other
    runs on the machine are not listed; short, for socket paths), the stdlib REPL (plain
    prompts to wait for)."""
    runtime = Path(tempfile.mkdtemp(prefix="pf-rt-"))
    yield dict(
        os.environ,
        PYTHONPATH=str(SRC),
        XDG_RUNTIME_DIR=str(runtime),
        PRINTERFACT_REPL="plain",
        TERM="xterm",
    )
    base = runtime / "printerfact"
    leftovers = list(base.iterdir()) if base.exists() else []
    shutil.rmtree(runtime)
    assert leftovers == [], "a run left its channel directory behind"


def write_test(tmp: Path, name: str, script: str, node: str = "module_at_boot = true") -> Path:
    (tmp / f"{name}.py").write_text(textwrap.dedent(script))
    tests = tmp / "tests.toml"
    tests.write_text(f"[tests.{name}.nodes.machine]\n{node}\n")
    return tests


def printerfact(tests: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "printerfact.cli", "--tests-file", str(tests), *args]


def live_runs(env: dict[str, str]) -> list[channels.Run]:
    return channels.runs(Path(env["XDG_RUNTIME_DIR"]) / "printerfact")


def qemu_gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.2)
    return False


def qemu_pid(term: Terminal) -> int:
    return int(re.findall(r"QEMU running \(pid (\d+)", term.text())[-1])


FAILING = """\
    machine.start()
    answer = 42
    machine.succeed("echo kept > /tmp/marker")
    machine.succeed("test -e /nonexistent")
"""


def test_debug_on_failure_keeps_the_vms_and_opens_the_repl(
    tmp_path: Path, env: dict[str, str]
) -> None:
    tests = write_test(tmp_path, "broken", FAILING)
    out = tmp_path / "out"
    argv = printerfact(tests, "run", "--skip-checks", "--debug-on-failure", "-o", str(out),
                       "--junit-xml", "junit.xml", "broken")  # fmt: skip
    term = Terminal(argv, env)
    try:
        term.expect(r"=== failing line: .*broken\.py:4: machine\.succeed\(.test -e /nonexistent.\)")
        term.expect(r"=== machine: running \(pid \d+\); last console lines:")
        term.expect(r"machine: shell .*machine\.attach")
        term.expect(r">>> ")
        pid = qemu_pid(term)
        # The kept VM answers, in the failing script's namespace.
        term.send('print("got", answer, machine.succeed("cat /tmp/marker").strip())\r')
        term.expect(r"got 42 kept")
        term.expect(r">>> ")
        term.send("print(type(error).__name__)\r")
        term.expect(r"RequestedAssertionFailed")
        term.expect(r">>> ")
        # `printerfact attach` with no node lists the kept VM.
        listing = subprocess.run(
            [sys.executable, "-m", "printerfact.cli", "attach"],
            env=env, capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
        assert "test broken" in listing and re.search(r"machine\s+running", listing)
        term.send(b"\x04")  # Ctrl-D: the run ends and cleans up
        assert term.wait(60) == 1
        assert re.search(r"broken\s+FAILED", term.text())
    finally:
        term.close()
    assert qemu_gone(pid)
    assert live_runs(env) == []
    junit = (out / "junit.xml").read_text()
    assert "machine.attach" in junit and "failing line" in junit


def test_debug_on_failure_is_refused_without_a_terminal(
    tmp_path: Path, env: dict[str, str]
) -> None:
    tests = write_test(tmp_path, "broken", FAILING)
    r = subprocess.run(
        printerfact(tests, "run", "--skip-checks", "--debug-on-failure", "broken"),
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2
    assert "--debug-on-failure needs a terminal" in r.stderr


def attach_machine(env: dict[str, str]) -> Terminal:
    term = Terminal(
        [sys.executable, "-m", "printerfact.cli", "attach", "machine"], env, rows=30, cols=100
    )
    term.expect(r"root shell on machine \(test waits")
    term.expect(r"# $")
    return term


def test_attach_while_a_command_of_the_test_runs(tmp_path: Path, env: dict[str, str]) -> None:
    # One command of the test, running until the attached shell ends it.
    tests = write_test(
        tmp_path,
        "waits",
        """\
        machine.start()
        machine.succeed("while [ ! -e /tmp/attached ]; do sleep 0.2; done", timeout=600)
        machine.succeed("test -e /tmp/attached")
        """,
    )
    log = (tmp_path / "run.log").open("w")
    run = subprocess.Popen(
        printerfact(tests, "run", "--skip-checks", "-o", str(tmp_path / "out"), "waits"),
        env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    term: Terminal | None = None
    try:
        deadline = time.monotonic() + 120
        console = tmp_path / "out/waits/machine.console.log"
        while not (live_runs(env) and console.exists() and "boot finished" in console.read_text()):
            assert run.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, "the node did not boot"
            time.sleep(0.5)
        term = attach_machine(env)
        term.send("tty; stty size\r")
        term.expect(r"/dev/hvc1\n30 100\n")
        # One shell per node at a time: a second attach is refused, not left waiting.
        second = subprocess.run(
            [sys.executable, "-m", "printerfact.cli", "attach", "machine"],
            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert second.returncode == 1 and "already has a shell attached" in second.stderr
        # Job control.
        term.send("sleep 60 &\r")
        term.expect(r"\[1\] \d+")
        term.send("jobs\r")
        term.expect(r"\[1\]\+\s+Running\s+sleep 60 &")
        term.send("kill %1; wait\r")
        # Ctrl-C reaches the foreground job.
        term.send("sleep 100\r")
        term.expect(r"sleep 100\n")
        time.sleep(1)
        term.send(b"\x03")
        term.send("echo status=$?\r")
        term.expect(r"status=130")
        # A resized window reaches the guest's tty.
        term.resize(40, 120)
        time.sleep(1)
        term.send("stty size\r")
        term.expect(r"\n40 120\n")
        # Detaching (Ctrl-]) hangs the shell and its jobs up; the next attach is a new shell.
        term.send("sleep 1000 &\r")
        term.expect(r"\[1\] \d+")
        term.send(b"\x1d")
        term.expect(r"detached \(Ctrl-\]\)")
        assert term.wait(30) == 0
        term.close()
        term = attach_machine(env)
        term.send("ps | grep -c '[s]leep 1000'; jobs | wc -l\r")
        term.expect(r"\n0\n0\n")
        # Still the test's command runs: the shell ends it, then leaves.
        assert run.poll() is None
        term.send("touch /tmp/attached; exit\r")
        term.expect(r"the shell exited")
        assert term.wait(30) == 0
        assert run.wait(120) == 0, (tmp_path / "run.log").read_text()
    finally:
        if term is not None:
            term.close()
        if run.poll() is None:
            run.terminate()
            run.wait(60)
        log.close()
    assert re.search(r"waits\s+passed", (tmp_path / "run.log").read_text())


def needs_gdb() -> None:
    assert shutil.which("gdb"), "no gdb: provisioning installs it (Debian package gdb)"


def test_gdb_reads_a_symbol_of_the_module(tmp_path: Path, env: dict[str, str]) -> None:
    needs_gdb()
    tests = write_test(tmp_path, "broken", FAILING)
    argv = printerfact(tests, "run", "--skip-checks", "--debug-on-failure", "--gdb",
                       "-o", str(tmp_path / "out"), "broken")  # fmt: skip
    term = Terminal(argv, env, rows=50, cols=400)
    try:
        term.expect(r"=== gdb for machine \(module symbols at their load addresses")
        line = term.expect(r"\n  (gdb .*)\n").group(1)
        term.expect(r">>> ")
        pid = qemu_pid(term)
        gdb = shlex.split(line)
        assert "add-symbol-file" in line and ".gnu.linkonce.this_module" in line
        # Batch mode; read the module's name out of its `struct module` (name at offset 24),
        # then detach: the guest runs on.
        gdb[gdb.index("-q")] = "-batch"
        gdb += ["-ex", "x/s (char *)&__this_module + 24", "-ex", "detach"]
        r = subprocess.run(gdb, capture_output=True, text=True, timeout=120)
        assert re.search(r'<__this_module\+24>:\s+"printerfact"', r.stdout), r.stdout + r.stderr
        term.send('print("still", machine.succeed("echo alive").strip())\r')
        term.expect(r"still alive")
        term.expect(r">>> ")
        term.send(b"\x04")
        assert term.wait(60) == 1
    finally:
        term.close()
    assert qemu_gone(pid)


def test_gdb_from_the_interactive_repl(tmp_path: Path, env: dict[str, str]) -> None:
    needs_gdb()
    tests = write_test(tmp_path, "quiet", "start_all()\n")
    argv = printerfact(tests, "run", "--skip-checks", "-I", "--gdb", "-o", str(tmp_path / "out"),
                       "quiet")  # fmt: skip
    term = Terminal(argv, env, rows=50, cols=400)
    try:
        term.expect(r"machine: shell .*machine\.attach, gdb stub .*machine\.gdb")
        term.expect(r">>> ")
        term.send('start_all(); machine.wait_for_unit("multi-user.target")\r')
        term.expect(r">>> ")
        term.send("print('cmd=' + gdb_command(machine))\r")
        line = term.expect(r"cmd=(gdb .*)\n").group(1)
        term.expect(r">>> ")
        gdb = shlex.split(line)
        gdb[gdb.index("-q")] = "-batch"
        gdb += ["-ex", "x/s (char *)&__this_module + 24", "-ex", "detach"]
        r = subprocess.run(gdb, capture_output=True, text=True, timeout=120)
        assert re.search(r'<__this_module\+24>:\s+"printerfact"', r.stdout), r.stdout + r.stderr
        pid = qemu_pid(term)
        term.send(b"\x04")
        assert term.wait(60) == 0
    finally:
        term.close()
    assert qemu_gone(pid)
