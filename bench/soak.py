"""Soak of the command channel under oversubscription: more vCPUs than host cores, every
channel hammered at once with commands of mixed shapes, stalls counted.

Four guests (two with 2 vCPUs, two with 1: six vCPUs on a 2-core machine), one thread each,
for a bounded time.  The mix: empty output, a few bytes, MBs out of the guest, MBs into it (a
long command), commands that time out, that leave children behind (detached, or holding stdout
for a moment) and that read stdin.  Every reply is checked.  A *stall* is a command the guest
stopped answering (`CommandTimeout`, or the driver's channel watchdog): the node is restarted
and the soak goes on; a wrong reply is an *error*.

Figures: soak_commands, soak_stalls, soak_errors, soak_seconds (goal: 0 stalls over >= 20,000
commands).  It stops after 20,000 commands or 14 minutes, whichever comes first.
Usage: python bench/soak.py [--seconds S] [--commands N] [--json FILE] [--log FILE]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from figures import report, write_json  # bench/ is on sys.path: this is a script

from printerfact import runner
from printerfact.driver.errors import CommandTimeout, MachineError
from printerfact.driver.logger import TerminalLogger
from printerfact.driver.machine import Machine
from printerfact.kernel.artifacts import Artifacts, ensure_artifacts
from printerfact.nodes import NodeSpec, TestSpec

NODES = (("soak-a", 2), ("soak-b", 2), ("soak-c", 1), ("soak-d", 1))
BIG = 2 * 1024 * 1024
LONG_COMMAND = "x='" + "p" * BIG + "'; echo ${#x}"


@dataclass(frozen=True)
class Shape:
    name: str
    weight: int
    run: Callable[[Machine], tuple[int, str]]
    expect: Callable[[int, str], bool]


SHAPES = (
    Shape("empty", 40, lambda m: m.execute("true", timeout=10), lambda s, o: (s, o) == (0, "")),
    Shape("bytes", 40, lambda m: m.execute("echo hi", timeout=10), lambda s, o: o == "hi\n"),
    Shape(
        "mb-out",
        1,
        lambda m: m.execute(f"head -c {BIG} /dev/zero", timeout=60),
        lambda s, o: (s, len(o)) == (0, BIG),
    ),
    Shape(
        "mb-in",
        1,
        lambda m: m.execute(LONG_COMMAND, timeout=60),
        lambda s, o: (s, o) == (0, f"{BIG}\n"),
    ),
    Shape("timeout", 1, lambda m: m.execute("sleep 30", timeout=1), lambda s, o: s == 124),
    Shape(
        "detached",
        4,
        lambda m: m.execute("sleep 5 >/dev/null 2>&1 &", timeout=10),
        lambda s, o: (s, o) == (0, ""),
    ),
    Shape(
        "holds-stdout",
        2,
        lambda m: m.execute("(sleep 0.2; echo late) &", timeout=10),
        lambda s, o: (s, o) == (0, "late\n"),
    ),
    Shape("stdin", 1, lambda m: m.execute("cat", timeout=1), lambda s, o: (s, o) == (124, "")),
)


@dataclass
class Tally:
    commands: int = 0
    stalls: int = 0
    errors: int = 0
    by_shape: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, shape: str, seconds: float, *, stall: bool = False, error: str = "") -> None:
        with self.lock:
            self.commands += 1
            self.by_shape[shape] = self.by_shape.get(shape, 0) + 1
            self.seconds[shape] = self.seconds.get(shape, 0.0) + seconds
            self.stalls += stall
            self.errors += bool(error)
            if error:
                self.notes.append(error)


def hammer(m: Machine, until: float, enough: int, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    weights = [s.weight for s in SHAPES]
    while time.monotonic() < until and tally.commands < enough:
        shape = rng.choices(SHAPES, weights)[0]
        t0 = time.monotonic()
        try:
            status, out = shape.run(m)
        except (CommandTimeout, MachineError) as e:
            took = time.monotonic() - t0
            tally.add(shape.name, took, stall=True, error=f"{m.name} {shape.name}: stall: {e}")
            m.release()  # a fresh boot, then on
            continue
        took = time.monotonic() - t0
        if not shape.expect(status, out):
            tally.add(
                shape.name,
                took,
                error=f"{m.name} {shape.name}: status {status}, {len(out)} chars {out[:40]!r}",
            )
        else:
            tally.add(shape.name, took)


def soak(
    art: Artifacts, seconds: float, commands: int, log: Path | None = None
) -> dict[str, float]:
    """Until `commands` have run or `seconds` have passed, whichever comes first."""
    with tempfile.TemporaryDirectory(prefix="pf-soak-") as tmp:
        script = Path(tmp) / "soak.py"
        script.write_text("")
        nodes = tuple(NodeSpec(name, cpus=cpus, memory_mb=256, vlans=()) for name, cpus in NODES)
        stream = log.open("w") if log else open(os.devnull, "w")  # noqa: SIM115
        with (
            stream,
            runner.driver(
                TestSpec("soak", script, nodes),
                art,
                Path(tmp) / "out",
                logger=TerminalLogger(stream=stream, color=False),
                accel="tcg",
            ) as d,
        ):
            d.start_all()
            for m in d.machines:
                m.succeed("true")
            tally = Tally()
            t0 = time.monotonic()
            threads = [
                threading.Thread(
                    target=hammer, args=(m, t0 + seconds, commands, i, tally), daemon=True
                )
                for i, m in enumerate(d.machines)
            ]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            elapsed = time.monotonic() - t0
    for note in tally.notes[:20]:
        print(f"soak: {note}", file=sys.stderr)
    for name, n in tally.by_shape.items():
        mean = tally.seconds[name] / n * 1000
        print(f"soak: {name:13s} {n:6d} commands, {mean:8.1f} ms each", file=sys.stderr)
    return {
        "soak_commands": float(tally.commands),
        "soak_stalls": float(tally.stalls),
        "soak_errors": float(tally.errors),
        "soak_seconds": elapsed,
    }


COMMANDS = 20_000
SECONDS = 14 * 60.0  # the bound is 15 minutes on 2 cores, boots included
TARGETS = {"soak_stalls": 0.0, "soak_errors": 0.0, "soak_commands": float(COMMANDS)}
FLOORS = {"soak_commands"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=SECONDS)
    ap.add_argument("--commands", type=int, default=COMMANDS)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--log", type=Path, default=None, help="the driver's log (default: none)")
    args = ap.parse_args()
    figures = soak(ensure_artifacts(), args.seconds, args.commands, args.log)
    report(figures, TARGETS, FLOORS)
    if args.json:
        write_json(figures, args.json)


if __name__ == "__main__":
    main()
