"""No QEMU and no socket directory outlive a driver run that is interrupted mid-run."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from printerfact.kernel.artifacts import Artifacts
from printerfact.vm import session
from printerfact.vm.qemu_argv import qemu_argv

pytestmark = pytest.mark.vm
PR_SET_CHILD_SUBREAPER = 36
_spawned: list[subprocess.Popen[str]] = []


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and an ignored SIGINT is inherited:
    # Python then never raises KeyboardInterrupt.  The driver under test must see it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _spawn(argv: list[str], **kwargs: Any) -> subprocess.Popen[str]:
    proc = subprocess.Popen(argv, text=True, preexec_fn=_default_sigint, **kwargs)
    _spawned.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _kill_leftovers() -> Iterator[None]:
    """A failed assertion must not leave a driver (and, through it, QEMUs) running."""
    yield
    while _spawned:
        proc = _spawned.pop()
        if proc.poll() is None:
            proc.kill()  # its QEMUs die with it (parent-death signal)
            proc.wait(timeout=30)


RUNNER = """
import pickle, sys
from pathlib import Path
from printerfact import runner
from printerfact.nodes import NodeSpec, TestSpec

art = pickle.loads(bytes.fromhex(sys.argv[1]))  # the test's Artifacts, field types and all
test = TestSpec("cleanup", Path(sys.argv[2]), (NodeSpec("machine"), NodeSpec("other")))
with runner.driver(test, art, Path(sys.argv[3])) as d:
    print("SOCKETS", d.tmp_dir, flush=True)
    d.run_tests()
"""

SCRIPT = """
start_all()
machine.succeed("true")
other.succeed("true")
print("READY", flush=True)
machine.succeed("sleep 600")
"""


def _qemu_pids_using(path: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"qemu-system" in cmdline and str(path).encode() in cmdline:
            pids.append(int(proc.name))
    return pids


def _run_until_ready(
    artifacts: Artifacts, tmp: Path, until: str = "READY"
) -> tuple[subprocess.Popen[str], Path]:
    (tmp / "runner.py").write_text(RUNNER)
    (tmp / "script.py").write_text(SCRIPT)
    proc = _spawn(
        [sys.executable, str(tmp / "runner.py"), pickle.dumps(artifacts).hex(),
         str(tmp / "script.py"), str(tmp / "out")],
        stdout=subprocess.PIPE,
        stderr=(tmp / "stderr.log").open("w"),
    )  # fmt: skip
    assert proc.stdout is not None
    sockets: Path | None = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if not ready:
            continue
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("SOCKETS "):
            sockets = Path(line.split(" ", 1)[1].strip())
        if sockets is not None and line.startswith(until):
            return proc, sockets
    proc.kill()
    pytest.fail("driver never got ready:\n" + (tmp / "stderr.log").read_text()[-3000:])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_run_cleans_up(artifacts: Artifacts, tmp_path: Path, sig: int) -> None:
    proc, sockets = _run_until_ready(artifacts, tmp_path)
    assert len(_qemu_pids_using(sockets)) == 2 and sockets.is_dir()
    proc.send_signal(sig)
    assert proc.wait(timeout=60) != 0
    assert _qemu_pids_using(sockets) == []
    assert not sockets.exists()
    assert "cleanup" in (tmp_path / "stderr.log").read_text()


def test_ctrl_c_while_booting_cleans_up(artifacts: Artifacts, tmp_path: Path) -> None:
    proc, sockets = _run_until_ready(artifacts, tmp_path, until="SOCKETS")
    deadline = time.monotonic() + 30
    while len(_qemu_pids_using(sockets)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)  # interrupt while the guests are still booting
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) != 0
    assert _qemu_pids_using(sockets) == []
    assert not sockets.exists()
    assert "cleanup" in (tmp_path / "stderr.log").read_text()


def test_sigkill_of_the_driver_takes_qemu_along(artifacts: Artifacts, tmp_path: Path) -> None:
    # Become the subreaper of the orphaned QEMUs, so they can be reaped here, not by PID 1.
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        proc, sockets = _run_until_ready(artifacts, tmp_path)
        pids = _qemu_pids_using(sockets)
        assert len(pids) == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        alive = pids
        while alive and time.monotonic() < deadline:
            alive = [p for p in pids if not _reaped(p)]
            time.sleep(0.1)
        for pid in alive:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        # The parent-death signal (set by the spawner) killed them, nothing else did.
        assert alive == []
        subprocess.run(["rm", "-rf", str(sockets)], check=True)  # nobody left to clean up
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def _reaped(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return not Path(f"/proc/{pid}").exists()
    return done == pid


TWO_TESTS_TOML = """
[tests.first]
script = "first.py"
[tests.first.nodes.machine]
[tests.second]
script = "second.py"
[tests.second.nodes.machine]
"""

FIRST = """
start_all()
machine.succeed("true")
print("SOCKETS", driver.tmp_dir, flush=True)
print("READY", flush=True)
machine.succeed("sleep 600")
"""

SECOND = """
open({marker!r}, "w").close()
start_all()
"""


def test_sigterm_stops_printerfact_run_before_the_next_test(tmp_path: Path) -> None:
    (tmp_path / "tests.toml").write_text(TWO_TESTS_TOML)
    (tmp_path / "first.py").write_text(FIRST)
    (tmp_path / "second.py").write_text(SECOND.format(marker=str(tmp_path / "second-started")))
    out = tmp_path / "out"
    proc = _spawn(
        [sys.executable, "-m", "printerfact.cli", "--tests-file", str(tmp_path / "tests.toml"),
         "run", "--skip-checks", "-o", str(out), "first", "second"],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.log").open("w"),
        env={**os.environ, "PRINTERFACT_ACCEL": "tcg"},
    )  # fmt: skip
    assert proc.stdout is not None
    sockets: Path | None = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line or line.startswith("READY"):
            break
        if line.startswith("SOCKETS "):
            sockets = Path(line.split(" ", 1)[1].strip())
    if sockets is None or proc.poll() is not None:
        proc.kill()
        pytest.fail("first test never got ready:\n" + (tmp_path / "stderr.log").read_text())
    assert len(_qemu_pids_using(sockets)) == 1
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    finally:
        proc.kill()
    assert time.monotonic() - t0 < 15  # promptly: no second boot
    assert code != 0
    assert _qemu_pids_using(sockets) == [] and not sockets.exists()
    assert not (tmp_path / "second-started").exists()
    assert not (out / "second").exists()
    assert "terminated" in (tmp_path / "stderr.log").read_text()


def test_repeated_ctrl_c_does_not_break_the_cleanup(artifacts: Artifacts, tmp_path: Path) -> None:
    proc, sockets = _run_until_ready(artifacts, tmp_path)
    assert len(_qemu_pids_using(sockets)) == 2
    # A user hammering Ctrl-C: signals keep coming while the driver cleans up.
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        time.sleep(0.002)
    assert proc.wait(timeout=10) != 0
    assert _qemu_pids_using(sockets) == []
    assert not sockets.exists()  # the cleanup ran to its end
    assert "error during cleanup" not in (tmp_path / "stderr.log").read_text()


def test_monitor_without_greeting_cleans_up_and_fails_the_start(
    driver_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "MONITOR_GREETING_S", 2.0)
    with driver_for(tmp_path) as d:
        m = d.machines[0]
        qc = m.qemu_config(m.prepare_initrd())
        argv = qemu_argv(qc)
        # A real QEMU that connects the monitor socket but never speaks HMP on it.
        i = argv.index("chardev=monitor,mode=readline")
        argv[i - 1 : i + 1] = ["-serial", "chardev:monitor"]
        with pytest.raises(session.QemuFailed, match="monitor did not answer"):
            session.VmSession("machine", argv, qc.sockets(), tmp_path / "c.log", print, print)
        assert _qemu_pids_using(d.tmp_dir) == []

        def readers() -> list[str]:
            names = [t.name for t in threading.enumerate()]
            return [n for n in names if n.startswith(("console-", "qemu-out-"))]

        deadline = time.monotonic() + 5
        while readers() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert readers() == []  # the console and QEMU output readers are gone
