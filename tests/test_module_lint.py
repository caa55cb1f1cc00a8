"""The module builds clean at W=1 and under the kernel's CLIPPY=1 against both kernel flavours
(the debug one compiles the lockdep-only code), and passes rustfmtcheck."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from printerfact.host import paths, toolchain
from printerfact.kernel import flavour, module
from printerfact.kernel.artifacts import Artifacts, ensure_artifacts

# Debian's clippy and rustfmt match its rustc; rustup's on PATH would not.
CLIPPY_DRIVER = "/usr/bin/clippy-driver"
RUSTFMT = "/usr/bin/rustfmt"


@pytest.fixture(scope="module", params=list(flavour.FLAVOURS))
def artifacts(request: pytest.FixtureRequest) -> Artifacts:
    return ensure_artifacts(request.param)


def _module_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "module"
    shutil.copytree(
        paths.MODULE_DIR,
        dest,
        ignore=lambda d, names: [
            n
            for n in names
            if not (Path(d, n).is_dir() or module.is_source(Path(d, n)) or n == ".rustfmt.toml")
        ],
    )
    return dest


def test_w1_and_clippy_clean(artifacts: Artifacts, tmp_path: Path) -> None:
    src = _module_copy(tmp_path)
    tc = toolchain.detect()
    result = subprocess.run(
        [
            "make",
            "-C",
            str(src),
            f"KDIR={artifacts.kbuild_dir}",
            *tc.make_vars(),
            "W=1",
            "CLIPPY=1",
            f"CLIPPY_DRIVER={CLIPPY_DRIVER}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "CLIPPY" in output  # clippy really ran on the crate
    assert "warning" not in output.lower(), output


def test_rustfmtcheck(tmp_path: Path) -> None:
    src = _module_copy(tmp_path)
    result = subprocess.run(
        ["make", "-C", str(src), "rustfmtcheck", f"RUSTFMT={RUSTFMT}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
