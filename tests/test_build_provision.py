"""Provisioning: what it would install, and what it says when it may not install."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from printerfact.host import distro, paths, progress, provision


def test_package_set_covers_every_tool_for_both_releases() -> None:
    for release in distro.SUPPORTED:
        pkgs = provision.debian_packages(release)
        assert distro.package_for("rustc", release) in pkgs
        assert distro.package_for("rust-src", release) in pkgs
        assert {"linux-source-6.12", "busybox-static", "qemu-system-x86", "nix-bin"} <= set(pkgs)
    assert "bindgen" in provision.debian_packages("trixie")  # 0.71 there: new enough


def test_the_main_job_needs_no_nix_packages() -> None:
    main_job = set(provision.debian_packages("bookworm", nix_tools=False))
    assert "nix-bin" not in main_job
    assert main_job | {"nix-bin"} == set(provision.debian_packages("bookworm"))


def test_nothing_missing_after_provisioning() -> None:
    # The suite runs after `make provision`, so this is the idempotence check: a second run
    # would install nothing.
    assert provision.missing_packages(provision.debian_packages(distro.codename())) == []
    for tool in provision.NIX_TOOLS:
        assert tool.path.is_file(), tool


@pytest.fixture
def world_readable_src() -> Iterator[Path]:
    """A copy of the package that `nobody` can read (clones and pytest's tmp dirs are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="pf-src-"))
    try:
        root.chmod(0o755)
        shutil.copytree(
            paths.REPO_ROOT / "src" / "printerfact",
            root / "printerfact",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        for d in (root, *root.rglob("*")):
            d.chmod(0o755 if d.is_dir() else 0o644)
        yield root
    finally:
        shutil.rmtree(root)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_non_root_gets_the_exact_command(world_readable_src: Path) -> None:
    # Run as `nobody` with the system python, as a user without root would.
    python = shutil.which("python3", path="/usr/bin:/bin")
    assert python, "python3 missing: apt-get install python3"
    code = (
        "from printerfact.host import provision\n"
        "provision.install_packages(['printerfact-no-such-package'])\n"
    )
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c", code],
        capture_output=True,
        text=True,
        cwd=world_readable_src,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(world_readable_src)},
    )
    assert result.returncode != 0
    assert "run as root" in result.stderr
    assert (
        "apt-get update && apt-get install -y -q --no-install-recommends "
        "printerfact-no-such-package" in result.stderr
    )


def test_build_failure_shows_the_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "step.log"
    script = "for i in $(seq 1 100); do echo line-$i; done; exit 3"
    with pytest.raises(progress.BuildError) as err:
        progress.run_logged(["sh", "-c", script], log=log, label="step")
    message = str(err.value)
    assert "step failed (exit 3)" in message
    assert "line-61" in message and "line-100" in message  # the last 40 lines
    assert "line-60\n" not in message
    assert f"Full log: {log}" in message
    assert log.read_text().count("\n") == 100  # the whole output is kept


def test_a_quiet_step_still_shows_what_runs_and_for_how_long(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # apt-get and cargo print nothing for minutes: progress must come from a clock, not output.
    progress.run_logged(
        ["sleep", "2.5"], log=tmp_path / "q.log", label="quiet step", interval=1.0, unit=None
    )
    lines = capsys.readouterr().err.splitlines()
    beats = [line for line in lines if line.startswith("quiet step: running, 0m0")]
    assert len(beats) >= 2, lines
    assert lines[0].startswith("quiet step: started")
    assert lines[-1].startswith("quiet step: done in")


def _make_dry_run(target: str) -> str:
    return subprocess.run(
        ["make", "-n", "-C", str(paths.REPO_ROOT), target],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_the_main_job_provisions_without_the_nix_linters() -> None:
    # deadnix and nixpkgs-fmt are cargo builds of minutes that only the Nix checks use.
    for target in ("build", "vm-test"):
        steps = _make_dry_run(target)
        assert "printerfact.host.provision --no-nix-tools" in steps, target
        assert "--flavour default\n" in steps or "--flavour default " in steps, target
    test_steps = _make_dry_run("test")
    provision_lines = [line for line in test_steps.splitlines() if "host.provision" in line]
    assert provision_lines and all("--no-nix-tools" not in line for line in provision_lines)
    assert "--printerfact-flavours default,debug" in test_steps
