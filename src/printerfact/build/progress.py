"""Run a long build step with a short progress display and the full log kept in a file.

On a terminal one line is rewritten in place; elsewhere (CI logs) a line is printed every
`interval` seconds.  On failure the last 40 lines of the log and its path are shown.
"""

from __future__ import annotations

import subprocess
import sys
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
    interval: float = 20.0,
) -> int:
    """Run `argv`, stream its output to `log`, report progress; return the number of steps seen."""
    log.parent.mkdir(parents=True, exist_ok=True)
    tty = sys.stderr.isatty()
    tail: deque[str] = deque(maxlen=40)
    steps = 0
    start = last = time.monotonic()
    with (
        log.open("w", buffering=1) as out,
        subprocess.Popen(  # line-buffered: a killed build keeps its log
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as proc,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            tail.append(line.rstrip("\n"))
            if line.lstrip().split(" ", 1)[0] in _STEP_PREFIXES:
                steps += 1
            now = time.monotonic()
            if tty or now - last >= interval:
                last = now
                _show(label, steps, expected_steps, now - start, tty)
        rc = proc.wait()
    if tty:
        sys.stderr.write("\n")
    if rc != 0:
        raise BuildError(
            f"{label} failed (exit {rc}). Last lines of the log:\n"
            + "\n".join(tail)
            + f"\nFull log: {log}"
        )
    print(f"{label}: done in {time.monotonic() - start:.0f} s ({steps} steps)", file=sys.stderr)
    return steps


def _show(label: str, steps: int, expected: int | None, elapsed: float, tty: bool) -> None:
    done = f"{steps}/{expected} ({100 * steps // max(expected, 1)}%)" if expected else str(steps)
    text = f"{label}: {done} files, {elapsed // 60:.0f}m{elapsed % 60:02.0f}s"
    sys.stderr.write(f"\r\033[K{text}" if tty else text + "\n")
    sys.stderr.flush()
