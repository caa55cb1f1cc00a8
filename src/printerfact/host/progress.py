"""Run a long build step with a short progress display and the full log kept in a file.

On a terminal one line is rewritten in place every second; elsewhere (CI logs) a line is printed
every `interval` seconds (10 s by default), whether or not the step prints anything.  On
failure the last 40 lines of the log and its path are shown.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

# Kbuild prints one short line per compiled object ("  CC      mm/memfd.o").
_STEP_PREFIXES = ("CC", "RUSTC", "AS", "LD", "AR", "BINDGEN", "HOSTCC", "EXPORTS", "OBJCOPY")


class BuildError(RuntimeError):
    """A build step failed; the message carries the log tail and the log's path."""


def run_logged(
    argv: Sequence[str],
    *,
    log: Path,
    label: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    expected_steps: int | None = None,
    interval: float = 10.0,
    unit: str | None = "files",
) -> int:
    """Run `argv`, stream its output to `log`, report progress; return the number of steps seen.

    Progress is timed, not driven by output: a quiet step (apt-get, cargo) still says every
    `interval` seconds what runs and for how long.  `unit` names kbuild's steps (lines such as
    "  CC  mm/memfd.o"); None shows the elapsed time only.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    tty = sys.stderr.isatty()
    tail: deque[str] = deque(maxlen=40)
    steps = 0
    start = time.monotonic()
    finished = threading.Event()

    def heartbeat() -> None:
        while not finished.wait(1.0 if tty else interval):
            _show(
                label, steps if unit else None, expected_steps, unit, time.monotonic() - start, tty
            )

    print(f"{label}: started (log: {log})", file=sys.stderr)
    ticker = threading.Thread(target=heartbeat, name=f"progress {label}", daemon=True)
    with (
        log.open("w", buffering=1) as out,
        subprocess.Popen(  # line-buffered: a killed build keeps its log
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as proc,
    ):
        ticker.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                # Each log line carries its time since the start: where a build's time went.
                out.write(f"[{time.monotonic() - start:7.1f}] {line}")
                tail.append(line.rstrip("\n"))
                if line.lstrip().split(" ", 1)[0] in _STEP_PREFIXES:
                    steps += 1
            rc = proc.wait()
        finally:
            finished.set()
            ticker.join()
    if tty:
        sys.stderr.write("\n")
    if rc != 0:
        raise BuildError(
            f"{label} failed (exit {rc}). Last lines of the log:\n"
            + "\n".join(tail)
            + f"\nFull log: {log}"
        )
    counted = f" ({steps} {unit})" if unit else ""
    print(f"{label}: done in {time.monotonic() - start:.0f} s{counted}", file=sys.stderr)
    return steps


def _show(
    label: str,
    steps: int | None,
    expected: int | None,
    unit: str | None,
    elapsed: float,
    tty: bool,
) -> None:
    clock = f"{elapsed // 60:.0f}m{elapsed % 60:02.0f}s"
    if steps is None:
        text = f"{label}: running, {clock}"
    else:
        done = (
            f"{steps}/{expected} ({100 * steps // max(expected, 1)}%)" if expected else str(steps)
        )
        text = f"{label}: {done} {unit}, {clock}"
    sys.stderr.write(f"\r\033[K{text}" if tty else text + "\n")
    sys.stderr.flush()
