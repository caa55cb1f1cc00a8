"""Build timings: cold kernels, warm no-op, module rebuild, image build, provisioning no-op.

The cold kernel times (default and debug flavour) are the ones measured when the cached kernel
entries were built (~8-10 minutes each on 2 cores); `--cold` rebuilds the default one now in a
temporary cache to measure it afresh.
Prints one line per figure; `--json PATH` also writes them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from figures import report, write_json  # bench/ is on sys.path: this is a script

from printerfact.host import cache, paths, toolchain
from printerfact.image import base
from printerfact.kernel import flavour, kernel, module
from printerfact.kernel.artifacts import ensure_artifacts

TARGETS = {
    "kernel_cold_s": 7 * 60,
    "kernel_cold_debug_s": 15 * 60,
    "warm_noop_s": 5,
    "module_rebuild_s": 20,
    "image_build_s": 3,
    "provision_noop_s": 3,
}


def timed(fn: Callable[[], object]) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def run(argv: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(argv, check=True, capture_output=True, env=env, cwd=paths.REPO_ROOT)


def measure(cold: bool) -> dict[str, float]:
    art = ensure_artifacts("default")
    figures: dict[str, float] = {}
    if cold:
        with tempfile.TemporaryDirectory(prefix="pf-cold-") as tmp:
            env = {**os.environ, "PRINTERFACT_CACHE": tmp}
            shutil.copytree(paths.tools_dir(), Path(tmp) / "tools", symlinks=True)
            figures["kernel_cold_s"] = timed(
                lambda: run([sys.executable, "-m", "printerfact.kernel"], env)
            )
    else:
        figures["kernel_cold_s"] = float((art.kernel_image.parent / "build-seconds").read_text())
        debug = ensure_artifacts("debug")
        figures["kernel_cold_debug_s"] = float(
            (debug.kernel_image.parent / "build-seconds").read_text()
        )
    figures["warm_noop_s"] = timed(lambda: run([sys.executable, "-m", "printerfact.kernel"]))
    # Provisioning runs on the system python, before the venv exists (as the Makefile does).
    system_python = shutil.which("python3") or sys.executable
    figures["provision_noop_s"] = timed(
        lambda: run(
            [system_python, "-m", "printerfact.host.provision"],
            {**os.environ, "PYTHONPATH": str(paths.REPO_ROOT / "src")},
        )
    )
    tc = toolchain.detect()
    kb = kernel.ensure_kernel(tc, flavour.get("default"))
    with tempfile.TemporaryDirectory(prefix="pf-module-") as tmp:
        src = Path(tmp) / "module"
        shutil.copytree(
            paths.MODULE_DIR,
            src,
            ignore=lambda d, n: [
                x for x in n if not (Path(d, x).is_dir() or module.is_source(Path(d, x)))
            ],
        )
        rs = src / "printerfact.rs"
        rs.write_text(rs.read_text() + f"\n// bench {time.time_ns()}\n")
        ko_holder: list[Path] = []
        figures["module_rebuild_s"] = timed(
            lambda: ko_holder.append(module.ensure_module(kb, tc, src=src))
        )
        shutil.rmtree(ko_holder[0].parent)
    with tempfile.TemporaryDirectory(prefix="pf-image-") as tmp:
        figures["image_build_s"] = timed(
            lambda: cache.ensure_entry(
                Path(tmp) / "img",
                lambda d: base.write_base_image(
                    d / "initrd.cpio",
                    base.find_busybox(),
                    base.find_bash(),
                    art.module_ko,
                    art.kernel_release,
                ),
            )
        )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="rebuild the kernel in a temp cache")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures = measure(args.cold)
    report(figures, TARGETS)
    if args.json:
        write_json(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
