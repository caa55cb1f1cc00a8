"""The driver's private socket directory, and the sweep of those left by killed drivers."""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from pathlib import Path

from printerfact.driver.driver import private_socket_dir


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_private_and_named_after_this_process() -> None:
    d = private_socket_dir()
    try:
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
        assert d.name.startswith(f"printerfact-{os.getpid()}-")
    finally:
        d.rmdir()


def test_directories_of_dead_drivers_are_swept() -> None:
    base = Path(tempfile.gettempdir())
    dead = Path(tempfile.mkdtemp(prefix=f"printerfact-{_dead_pid()}-", dir=base))
    (dead / "vlan1.hub").write_text("")
    alive = Path(tempfile.mkdtemp(prefix=f"printerfact-{os.getppid()}-", dir=base))
    d = private_socket_dir()
    try:
        assert not dead.exists()
        assert alive.exists()  # a running driver's directory is left alone
    finally:
        for p in (d, alive):
            p.rmdir()
