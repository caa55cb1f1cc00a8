"""One QEMU process: spawn in its own process group, log its own output, reap, kill.

QEMU's stdout/stderr carry only QEMU's messages (the guest console is a socket); they are
logged line by line so an error like "KVM internal error" is visible.  `exited` is set the
moment QEMU is gone, which is what lets every waiting call fail at once.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable

# QEMU must not outlive the driver even if the driver is SIGKILLed.  PR_SET_PDEATHSIG (set by
# `setpriv --pdeathsig`) fires when the *thread* that forked the child ends, so every QEMU is
# forked by one spawner thread that lives as long as the driver process.
_SETPRIV = shutil.which("setpriv")
_requests: queue.Queue[tuple[list[str], queue.Queue[subprocess.Popen[bytes] | BaseException]]]
_requests = queue.Queue()
_spawner_lock = threading.Lock()
_spawner: threading.Thread | None = None


def _spawn_loop() -> None:
    while True:
        argv, answer = _requests.get()
        try:
            answer.put(
                subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        except BaseException as e:  # handed to the caller, who raises it
            answer.put(e)


def _popen(argv: list[str]) -> subprocess.Popen[bytes]:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = threading.Thread(target=_spawn_loop, name="qemu-spawner", daemon=True)
            _spawner.start()
    if _SETPRIV:
        argv = [_SETPRIV, "--pdeathsig", "KILL", "--", *argv]
    answer: queue.Queue[subprocess.Popen[bytes] | BaseException] = queue.Queue()
    _requests.put((argv, answer))
    got = answer.get()
    if isinstance(got, BaseException):
        raise got
    return got


class QemuProcess:
    def __init__(self, argv: list[str], on_output: Callable[[str], None]) -> None:
        self.argv = argv
        self.exited = threading.Event()
        self.returncode: int | None = None
        self.output_tail: list[str] = []
        # Own session: one killpg reaches QEMU and anything it spawned; a Ctrl-C on the
        # terminal reaches only the driver, which then cleans up in order.
        self._proc = _popen(argv)
        self.pid = self._proc.pid
        self._on_output = on_output
        self._reader = threading.Thread(target=self._read, name=f"qemu-out-{self.pid}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.output_tail = (self.output_tail + [line])[-20:]
            self._on_output(line)
        # EOF: QEMU closed its output, i.e. it exited (or is about to).
        self.returncode = self._proc.wait()
        self.exited.set()

    def is_running(self) -> bool:
        return not self.exited.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for QEMU to exit; True if it did."""
        return self.exited.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the process group and reap; idempotent."""
        if self._proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._proc.wait()
        self._reader.join(timeout=5)
        self.exited.set()
