"""No QEMU and no socket directory outlive a driver run that is interrupted mid-run."""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from printerfact.build.artifacts import Artifacts

pytestmark = pytest.mark.vm
PR_SET_CHILD_SUBREAPER = 36

RUNNER = """
import json, sys
from pathlib import Path
from printerfact.build.artifacts import Artifacts
from printerfact.driver.driver import Driver
from printerfact.nodes import NodeSpec, TestSpec

fields = json.loads(sys.argv[1])
art = Artifacts(**{k: (v if k == "kernel_release" else Path(v)) for k, v in fields.items()})
test = TestSpec("cleanup", Path(sys.argv[2]), (NodeSpec("machine"), NodeSpec("other")))
with Driver(test, art, Path(sys.argv[3])) as d:
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
    fields = {k: str(v) for k, v in dataclasses.asdict(artifacts).items()}
    proc = subprocess.Popen(
        [sys.executable, str(tmp / "runner.py"), json.dumps(fields), str(tmp / "script.py"),
         str(tmp / "out")],
        stdout=subprocess.PIPE,
        stderr=(tmp / "stderr.log").open("w"),
        text=True,
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
