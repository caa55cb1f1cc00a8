"""The toolchain check names the package that fixes what is missing (real commands, real PATH)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from printerfact.host import distro, paths, provision, toolchain


def _run_build(env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_overrides}
    return subprocess.run(
        [sys.executable, "-m", "printerfact.kernel"],
        capture_output=True,
        text=True,
        env=env,
        cwd=paths.REPO_ROOT,
        timeout=120,
    )


def _path_without(tmp_path: Path, *hidden: str) -> str:
    """A PATH of symlinks to every command of the current PATH except `hidden` ones."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for d in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            target = Path(d, name)
            link = bindir / name
            if name not in hidden and not link.exists() and os.access(target, os.X_OK):
                link.symlink_to(target)
    return str(bindir)


def test_missing_clang_names_the_package(tmp_path: Path) -> None:
    result = _run_build({"PATH": _path_without(tmp_path, "clang", "ld.lld")})
    assert result.returncode == 2
    assert "missing command(s): clang, ld.lld" in result.stderr
    assert "apt-get install clang lld" in result.stderr


def test_rustc_without_rust_src_is_explained(tmp_path: Path) -> None:
    # A rustc whose sysroot has no library sources: a copy of the real one in an empty sysroot.
    fake_sysroot = tmp_path / "sysroot"
    (fake_sysroot / "bin").mkdir(parents=True)
    script = fake_sysroot / "bin" / "rustc"
    script.write_text(
        f'#!/bin/sh\n[ "$1 $2" = "--print sysroot" ] && echo {fake_sysroot} && exit 0\n'
        'exec /usr/bin/rustc "$@"\n'
    )
    script.chmod(0o755)
    result = _run_build({"RUSTC": str(script)})
    assert result.returncode == 2
    assert "no rust-src" in result.stderr
    assert f"apt-get install {distro.package_for('rust-src')}" in result.stderr


def test_too_old_bindgen_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = tmp_path / "bindgen"
    old.write_text("#!/bin/sh\necho 'bindgen 0.60.1'\n")  # Debian 12's version
    old.chmod(0o755)
    monkeypatch.setenv("BINDGEN", str(old))
    with pytest.raises(toolchain.ToolchainError, match=r"0\.60\.1.*refuses older"):
        toolchain.find_bindgen()


def test_rustavailable_failure_is_translated() -> None:
    text = "***\n*** libclang (used by the Rust bindings generator 'bindgen') was not found.\n"
    assert "apt-get install libclang-dev" in toolchain.explain_rustavailable(text)


def test_every_release_has_a_package_or_a_hint_for_every_tool() -> None:
    # The releases' Rust tables name the same tools (bindgen aside: cargo-installed where the
    # release has none), so no hint is a KeyError on one release only; the cargo hint names the
    # version provisioning installs.
    tools = set().union(*distro.RUST_PACKAGES.values()) | set(distro.COMMON_PACKAGES)
    for release in distro.SUPPORTED:
        assert set(distro.RUST_PACKAGES[release]) | {"bindgen"} == tools - set(
            distro.COMMON_PACKAGES
        ), release
        for tool in tools:
            hint = distro.install_hint(tool, release)
            if tool == "bindgen" and tool not in distro.RUST_PACKAGES[release]:
                assert f"--version {provision.BINDGEN.version}" in hint, release
            else:
                assert hint == f"apt-get install {distro.package_for(tool, release)}"
    assert shutil.which("dpkg-query")  # provisioning relies on it
