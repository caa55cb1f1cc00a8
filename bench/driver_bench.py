"""Driver benchmarks under TCG: boot to first command, command round trip, parallel boot.

Prints one JSON object, then one line per figure.  Goals: boot <= 2.0 s per node, round trip
<= 20 ms.  Usage: python bench/driver_bench.py [--runs N] [--round-trips N] [--nodes N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from printerfact.build.artifacts import Artifacts, ensure_artifacts
from printerfact.driver.driver import Driver
from printerfact.driver.logger import TerminalLogger
from printerfact.nodes import NodeSpec, TestSpec


def _driver(art: Artifacts, tmp: Path, nodes: tuple[NodeSpec, ...]) -> Driver:
    script = tmp / "empty.py"
    script.write_text("")
    quiet = TerminalLogger(stream=open(os.devnull, "w"))  # noqa: SIM115 - closed with the process
    return Driver(TestSpec("bench", script, nodes), art, tmp / "out", logger=quiet, accel="tcg")


def boot_to_first_command(art: Artifacts, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp, _driver(art, Path(tmp), (NodeSpec("m"),)) as d:
            t0 = time.monotonic()
            d.machines[0].succeed("true")
            times.append(time.monotonic() - t0)
    return times


def round_trips(art: Artifacts, n: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp, _driver(art, Path(tmp), (NodeSpec("m"),)) as d:
        m = d.machines[0]
        m.succeed("true")
        times = []
        for _ in range(n):
            t0 = time.monotonic()
            m.succeed("true")
            times.append(time.monotonic() - t0)
    return times


def parallel_boot(art: Artifacts, nodes: int) -> float:
    specs = tuple(NodeSpec(f"n{i}") for i in range(nodes))
    with tempfile.TemporaryDirectory() as tmp, _driver(art, Path(tmp), specs) as d:
        t0 = time.monotonic()
        d.start_all()
        for m in d.machines:
            m.succeed("true")
        return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--round-trips", type=int, default=100)
    ap.add_argument("--nodes", type=int, default=4)
    args = ap.parse_args()
    art = ensure_artifacts()
    boots = boot_to_first_command(art, args.runs)
    rtts = round_trips(art, args.round_trips)
    par = parallel_boot(art, args.nodes)
    result: dict[str, Any] = {
        "accel": "tcg",
        "cpus": os.cpu_count(),
        "boot_to_first_succeed_s": {
            "median": round(statistics.median(boots), 3),
            "min": round(min(boots), 3),
            "max": round(max(boots), 3),
            "runs": len(boots),
            "goal": 2.0,
        },
        "succeed_true_round_trip_ms": {
            "median": round(statistics.median(rtts) * 1000, 2),
            "p90": round(sorted(rtts)[int(len(rtts) * 0.9)] * 1000, 2),
            "runs": len(rtts),
            "goal": 20.0,
        },
        "parallel_boot_s": {"nodes": args.nodes, "wall": round(par, 3)},
    }
    print(json.dumps(result, indent=2))
    b, r = result["boot_to_first_succeed_s"], result["succeed_true_round_trip_ms"]
    print(f"boot to first succeed (TCG, median of {b['runs']}): {b['median']} s (goal <= 2.0 s)")
    print(f"succeed('true') round trip (median of {r['runs']}): {r['median']} ms (goal <= 20 ms)")
    print(f"{args.nodes} nodes booted in parallel, wall to all connected: {par:.2f} s")


if __name__ == "__main__":
    main()
