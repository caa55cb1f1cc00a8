"""Driver benchmarks under TCG: boot to first command (booted and restored from a snapshot,
alternately), command round trip, parallel boot, file copies through the shared directory.

Prints one JSON object, then one line per figure.  Goals: boot <= 1.0 s per node (median),
restore <= 0.3 s, round trip <= 20 ms, copies >= 50 MB/s both ways.
Usage: python bench/driver_bench.py [--runs N] [--round-trips N] [--nodes N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from figures import report  # bench/ is on sys.path: this is a script

from printerfact import runner
from printerfact.driver.driver import Driver
from printerfact.driver.logger import TerminalLogger
from printerfact.kernel.artifacts import Artifacts, ensure_artifacts
from printerfact.nodes import NodeSpec, TestSpec


def _driver(
    art: Artifacts, tmp: Path, nodes: tuple[NodeSpec, ...], snapshots: Path | None = None
) -> Driver:
    script = tmp / "empty.py"
    script.write_text("")
    quiet = TerminalLogger(stream=open(os.devnull, "w"))  # noqa: SIM115 - closed with the process
    test = TestSpec("bench", script, nodes)
    return runner.driver(test, art, tmp / "out", logger=quiet, accel="tcg", snapshots=snapshots)


def _boot(art: Artifacts, snapshots: Path | None = None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        with _driver(art, Path(tmp), (NodeSpec("m"),), snapshots) as d:
            t0 = time.monotonic()
            d.machines[0].succeed("true")
            return time.monotonic() - t0


def boot_to_first_command(art: Artifacts, runs: int) -> list[float]:
    return [_boot(art) for _ in range(runs)]


def boots_with_and_without_snapshots(art: Artifacts, runs: int) -> dict[str, float]:
    """Boot to the first succeed, and the same from a snapshot (driver/snapshot_boot.py),
    alternating, so that both see the same host load; the snapshot is saved first."""
    boots: list[float] = []
    restores: list[float] = []
    with tempfile.TemporaryDirectory() as snaps:
        saving = _boot(art, Path(snaps))
        for _ in range(runs):
            boots.append(_boot(art))
            restores.append(_boot(art, Path(snaps)))
    return {
        "boot_to_first_succeed_s": statistics.median(boots),
        "boot_to_first_succeed_max_s": max(boots),
        "snapshot_boot_to_first_succeed_s": statistics.median(restores),
        "snapshot_boot_to_first_succeed_max_s": max(restores),
        "snapshot_boot_ratio": statistics.median(restores) / statistics.median(boots),
        "snapshot_saving_boot_s": saving,
    }


def flavoured(name: str, flavour: str) -> str:
    """A figure's name for another kernel flavour: boot_to_first_succeed_s ->
    boot_to_first_succeed_debug_s, snapshot_boot_ratio -> snapshot_boot_ratio_debug."""
    stem, unit = name.rsplit("_", 1) if name.endswith("_s") else (name, "")
    return f"{stem}_{flavour}" + (f"_{unit}" if unit else "")


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


COPY_MB = 64


def copy_rates(art: Artifacts, size_mb: int = COPY_MB) -> dict[str, float]:
    """MB/s of copy_from_host and copy_from_vm for one file of `size_mb` MiB (round trip
    checked byte for byte)."""
    with tempfile.TemporaryDirectory() as tmp, _driver(art, Path(tmp), (NodeSpec("m"),)) as d:
        m = d.machines[0]
        m.succeed("true")
        blob = Path(tmp) / "blob.bin"
        blob.write_bytes(os.urandom(size_mb << 20))
        t0 = time.monotonic()
        m.copy_from_host(str(blob), "/root/blob.bin")
        to_vm = time.monotonic() - t0
        t0 = time.monotonic()
        m.copy_from_vm("/root/blob.bin", "back")
        from_vm = time.monotonic() - t0
        if (m.out_dir / "back" / "blob.bin").read_bytes() != blob.read_bytes():
            raise RuntimeError("the copied file came back different")
    mb = (size_mb << 20) / 1e6
    return {"copy_from_host_mb_s": mb / to_vm, "copy_from_vm_mb_s": mb / from_vm}


TARGETS = {
    "boot_to_first_succeed_s": 1.0,
    "snapshot_boot_to_first_succeed_s": 0.3,
    "succeed_true_round_trip_ms": 20.0,
    "copy_from_host_mb_s": 50.0,
    "copy_from_vm_mb_s": 50.0,
}
FLOORS = {"copy_from_host_mb_s", "copy_from_vm_mb_s"}


def measure(
    art: Artifacts,
    runs: int = 7,
    round_trip_count: int = 100,
    nodes: int = 4,
) -> dict[str, float]:
    """Medians of `runs` boots (and snapshot restores) and `round_trip_count` round trips, and
    one parallel boot."""
    boots = boots_with_and_without_snapshots(art, runs)
    rtts = round_trips(art, round_trip_count)
    return {
        **boots,
        "succeed_true_round_trip_ms": statistics.median(rtts) * 1000,
        "succeed_true_round_trip_p90_ms": sorted(rtts)[int(len(rtts) * 0.9)] * 1000,
        f"parallel_boot_{nodes}_nodes_s": parallel_boot(art, nodes),
        **copy_rates(art),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--round-trips", type=int, default=100)
    ap.add_argument("--nodes", type=int, default=4)
    args = ap.parse_args()
    figures = measure(ensure_artifacts(), args.runs, args.round_trips, args.nodes)
    print(json.dumps({"accel": "tcg", "cpus": os.cpu_count(), **figures}, indent=2))
    report(figures, TARGETS, FLOORS)


if __name__ == "__main__":
    main()
