"""The real build: kernel honours the fragment, warm runs are cache hits, module-only rebuilds.

These use the cached kernel (the first run of the suite builds it, ~8-10 min on 2 cores).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from printerfact.host import paths, toolchain
from printerfact.kernel import flavour, kernel, module
from printerfact.kernel.artifacts import Artifacts, ensure_artifacts
from printerfact.kernel.kernel_config import parse_config, unmet_options


@pytest.fixture(scope="session")
def artifacts() -> Artifacts:
    return ensure_artifacts("default")


@pytest.mark.parametrize("name", list(flavour.FLAVOURS))
def test_config_has_every_fragment_option(name: str) -> None:
    built = ensure_artifacts(name)
    dot_config = built.kbuild_dir / ".config"
    fragment = parse_config(paths.FRAGMENT.read_text())
    assert len(fragment) >= 40  # the parser really read the fragment
    for fragment_file in flavour.FLAVOURS[name].fragments:
        assert unmet_options(fragment_file, dot_config) == {}, fragment_file
    config = parse_config(dot_config.read_text())
    assert config["CONFIG_RUST"] == "y"
    # The flavours really differ: the sanitizers are on in debug only.
    assert config.get("CONFIG_KASAN", "n") == ("y" if name == "debug" else "n")


# docs/nix-api.md, "What the debug kernel has, on each path": | `OPTION` | Nix | portable | ...
_CLAIM_ROW = re.compile(r"^\| `([A-Z0-9_]+)` \| ([^ |]+) \| ([^ |]+) \|", re.M)


def debug_claims_portable(doc: str) -> dict[str, str]:
    """option -> the value the docs claim for the portable debug kernel ("n" = not set)."""
    _, found, rest = doc.partition("### What the debug kernel has, on each path")
    section = rest.split("\n#", 1)[0] if found else ""
    return {m[1]: m[3] for m in _CLAIM_ROW.finditer(section)}


def claims_unmet(claims: dict[str, str], dot_config: str) -> dict[str, tuple[str, str]]:
    """Claimed options whose value in the .config differs: name -> (claimed, got)."""
    config = parse_config(dot_config)
    got = {name: config.get(f"CONFIG_{name}", "n").strip('"') for name in claims}
    return {name: (want, got[name]) for name, want in claims.items() if got[name] != want}


def test_debug_kernel_claims_hold_on_the_portable_path() -> None:
    """The docs' table of the debug kernel (the lockup detectors, DEBUG_VM and DEBUG_LOCKDEP off,
    lockdep's raised tables, ...) is true of the built portable debug kernel, and names every
    option of kernel/debug.config."""
    claims = debug_claims_portable((paths.REPO_ROOT / "docs" / "nix-api.md").read_text())
    assert set(parse_config(paths.DEBUG_FRAGMENT.read_text())) <= {f"CONFIG_{n}" for n in claims}
    dot_config = (ensure_artifacts("debug").kbuild_dir / ".config").read_text()
    assert claims_unmet(claims, dot_config) == {}


def test_flavours_are_separate_cache_entries() -> None:
    default, debug = ensure_artifacts("default"), ensure_artifacts("debug")
    assert default.kernel_image != debug.kernel_image and default.module_ko != debug.module_ko
    assert "kasan_multi_shot" in debug.kernel_append
    assert "kasan" not in default.kernel_append
    # Each boots its own image: the default kernel by its PVH entry (the uncompressed vmlinux,
    # an ELF), the debug one as a bzImage (with KASAN, the PVH entry does not boot).
    assert default.kernel_image.name == "vmlinux" and debug.kernel_image.name == "bzImage"
    assert default.kernel_image.read_bytes()[:4] == b"\x7fELF"
    assert debug.kernel_image.read_bytes()[0x202:0x206] == b"HdrS"  # the x86 boot protocol


def test_modinfo(artifacts: Artifacts) -> None:
    info = module.modinfo(artifacts.module_ko)
    assert info["name"] == "printerfact"
    assert info["license"] == "GPL"
    assert info["description"]
    assert info["vermagic"].startswith("6.12.")
    assert artifacts.kernel_release.startswith("6.12.")


def test_warm_build_is_a_cache_hit(artifacts: Artifacts) -> None:
    kernel_entry = artifacts.kernel_image.parent
    stamp = (kernel_entry / ".complete").stat().st_mtime_ns
    result = subprocess.run(
        [sys.executable, "-m", "printerfact.kernel"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert str(artifacts.kernel_image) in result.stdout
    assert (kernel_entry / ".complete").stat().st_mtime_ns == stamp  # not rebuilt
    assert "kernel build" not in result.stderr  # no build step ran (timings: bench/)


def test_module_only_rebuild(artifacts: Artifacts, tmp_path: Path) -> None:
    src = tmp_path / "module"
    shutil.copytree(paths.MODULE_DIR, src, ignore=shutil.ignore_patterns("*.o", "*.ko", ".*"))
    root = src / "printerfact.rs"
    root.write_text(root.read_text() + f"\n// rebuild marker {time.time_ns()}\n")
    tc = toolchain.detect()
    kb = kernel.ensure_kernel(tc, flavour.get("default"))
    kernel_stamp = (kb.kernel_image.parent / ".complete").stat().st_mtime_ns
    ko = module.ensure_module(kb, tc, src=src)
    assert ko != artifacts.module_ko  # a new cache entry for the changed source
    assert module.modinfo(ko)["name"] == "printerfact"
    assert (kb.kernel_image.parent / ".complete").stat().st_mtime_ns == kernel_stamp
    shutil.rmtree(ko.parent)  # keep the cache from growing one entry per test run
