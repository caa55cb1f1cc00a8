"""`make bench`: every benchmark of the project in one run; one line per figure, plus JSON.

  build   cold kernel (as measured when built), warm no-op, module rebuild, image, provisioning
  vm      per-node boot to first succeed and the same from a snapshot (median of 7; both
          flavours, 3 on the debug kernel), succeed("true") round trip, 4 nodes in parallel,
          copy_from_host/copy_from_vm throughput
  device  reads/s of 64-byte reads from /dev/printerfact vs /dev/zero in the same VM (ratio),
          one fact (open + read + close) vs the same on /dev/zero, its breakdown in
          microseconds, and how many distinct facts 1000 opens returned
  suite   wall time of the whole testscript suite on each kernel flavour, kernel builds
          excluded, and the fuzz test's trinity syscalls per second on each; then the same
          suite with snapshot boots, once saving the snapshots and once restoring them, beside
          the suite without them (same run, one after the other)
  soak    the command channel under oversubscription (bench/soak.py): commands, stalls,
          wrong replies and seconds, 4 guests with 6 vCPUs in all
Ratios are measured in one run, on one VM, so they compare like with like.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import build_bench  # noqa: E402
import driver_bench  # noqa: E402
import soak  # noqa: E402
from figures import report, write_json  # noqa: E402

from printerfact import runner  # noqa: E402
from printerfact.driver.logger import TerminalLogger  # noqa: E402
from printerfact.kernel.artifacts import Artifacts, ensure_artifacts  # noqa: E402
from printerfact.kernel.flavour import FLAVOURS  # noqa: E402
from printerfact.nodes import load_tests  # noqa: E402

DEVICE_READS = 200_000
OPEN_READS = 20_000
REPEATS = 5


def compile_readbench(dest: Path) -> Path:
    exe = dest / "readbench"
    subprocess.run(
        ["gcc", "-O2", "-static", "-o", str(exe), str(BENCH / "readbench.c")], check=True
    )
    return exe


def device_figures(art: Artifacts, work: Path) -> dict[str, float]:
    """pread and open+read+close rates on /dev/printerfact and /dev/zero, in one VM."""
    exe = compile_readbench(work)
    test = load_tests()["printerfact"]
    figures: dict[str, float] = {}
    with runner.driver(test, art, work / "device-vm") as d:
        m = d.machines[0]
        m.start()
        m.wait_for_unit("multi-user.target")
        m.copy_from_host(str(exe), "/tmp/readbench")
        # Uniformity at a glance: with 77 facts, 1000 opens should show nearly all of them.
        figures["device_distinct_facts_in_1000_reads"] = float(
            m.succeed("for i in $(seq 1000); do cat /dev/printerfact; done | sort -u | wc -l")
        )
        figures["device_facts_total"] = float(m.succeed("cat /sys/class/printerfact/facts"))
        for mode, n in (("pread", DEVICE_READS), ("open", OPEN_READS), ("openclose", OPEN_READS)):
            # Alternating runs, median of each: one run of either device can catch a host hiccup.
            rates: dict[str, list[float]] = {"printerfact": [], "zero": []}
            for _ in range(REPEATS):
                for dev, runs in rates.items():
                    runs.append(float(m.succeed(f"/tmp/readbench /dev/{dev} {n} {mode}")))
            for dev, runs in rates.items():
                figures[f"device_{mode}_{dev}_per_s"] = statistics.median(runs)
            figures[f"device_{mode}_ratio"] = (
                figures[f"device_{mode}_printerfact_per_s"] / figures[f"device_{mode}_zero_per_s"]
            )
        # Where one fact's time goes (microseconds per operation, same VM, same run).
        for dev in ("printerfact", "zero"):
            for mode in ("open", "openclose", "pread"):
                figures[f"device_{dev}_{mode}_us"] = 1e6 / figures[f"device_{mode}_{dev}_per_s"]
    return figures


def suite_figures(
    art: Artifacts, work: Path, snapshots: Path | None = None, mode: str = ""
) -> dict[str, float]:
    """Wall time of each testscript and of the suite on `art`'s flavour; trinity's rate.
    `snapshots`: with snapshot boots from that cache (`mode` names the run in the figures)."""
    tag = ("" if art.flavour == "default" else f"_{art.flavour}") + (f"_{mode}" if mode else "")
    figures: dict[str, float] = {}
    start = time.monotonic()
    for name, test in load_tests().items():
        log = io.StringIO()
        t0 = time.monotonic()
        # Raises if a test fails: a figure from a failed run would mean nothing.
        runner.execute(
            test,
            art,
            work / f"suite{tag}-{name}",
            logger=TerminalLogger(log, color=False),
            snapshots=snapshots if snapshots is not None else False,
        )
        figures[f"suite{tag}_{name}_s"] = time.monotonic() - t0
        if rate := re.search(r"trinity: \d+ syscalls in [\d.]+ s \((\d+)/s\)", log.getvalue()):
            figures[f"fuzz{tag}_trinity_syscalls_per_s"] = float(rate[1])
    figures[f"suite{tag}_total_s"] = time.monotonic() - start
    return figures


def snapshot_suite_figures(art: Artifacts, work: Path) -> dict[str, float]:
    """The suite without snapshots, saving them (from an empty cache of its own) and restoring
    them, one after the other, and the restoring run's time over the booting run's."""
    tag = "" if art.flavour == "default" else f"_{art.flavour}"
    figures = suite_figures(art, work / "booting")
    with tempfile.TemporaryDirectory(prefix="pf-bench-snapshots-") as snaps:
        figures |= suite_figures(art, work / "saving", Path(snaps), "saving")
        figures |= suite_figures(art, work / "restoring", Path(snaps), "restoring")
    figures[f"suite{tag}_snapshot_ratio"] = (
        figures[f"suite{tag}_restoring_total_s"] / figures[f"suite{tag}_total_s"]
    )
    return figures


TARGETS = {
    **build_bench.TARGETS,
    "device_pread_ratio": 0.5,  # goal: >= 0.5 (a floor, unlike the time targets)
    "device_open_ratio": 0.8,  # one fact = open + read + close, against /dev/zero
    "suite_total_s": 120,
    "suite_debug_total_s": 15 * 60,
    "boot_to_first_succeed_debug_s": 10.0,
    **driver_bench.TARGETS,
    **soak.TARGETS,
}
FLOORS = {"device_pread_ratio", "device_open_ratio", *driver_bench.FLOORS, *soak.FLOORS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=Path("out/bench.json"))
    parts_known = ["build", "vm", "device", "suite", "soak"]
    parser.add_argument("--only", choices=parts_known, action="append")
    args = parser.parse_args()
    parts = args.only or parts_known
    builds = {name: ensure_artifacts(name) for name in FLAVOURS}
    art = builds["default"]
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="pf-bench-") as tmp:
        work = Path(tmp)
        if "build" in parts:
            figures |= build_bench.measure(cold=False)
        if "vm" in parts:
            figures |= driver_bench.measure(art)
            # The debug kernel's boot and snapshot restore, medians of 3 (boots of ~5 s).
            debug = driver_bench.boots_with_and_without_snapshots(builds["debug"], 3)
            figures |= {driver_bench.flavoured(k, "debug"): v for k, v in debug.items()}
        if "device" in parts:
            figures |= device_figures(art, work)
        if "suite" in parts:
            for built in builds.values():
                figures |= snapshot_suite_figures(built, work)
        if "soak" in parts:
            figures |= soak.soak(art, soak.SECONDS, soak.COMMANDS)
    report(figures, TARGETS, FLOORS)
    write_json(figures, args.json)
    print(f"bench: figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
