"""The accelerator choice: a real KVM probe, its per-boot cache, the env override."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from printerfact.kernel.artifacts import Artifacts
from printerfact.vm import kvm_probe

pytestmark = pytest.mark.vm


def test_probe_verdict_is_cached_per_boot_and_boots(
    artifacts: Artifacts, driver_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRINTERFACT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(kvm_probe.ENV, "auto")
    said: list[str] = []
    accel = kvm_probe.choose_accel(artifacts.kernel_image, said.append)
    assert said and said[0].startswith(f"accelerator: {accel} (probed: ")
    cached = json.loads((tmp_path / "cache" / "accel.json").read_text())
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert cached["accel"] == accel and cached["boot_id"] == boot_id
    t0 = time.monotonic()
    assert kvm_probe.choose_accel(artifacts.kernel_image, said.append) == accel
    assert time.monotonic() - t0 < 1 and "cached for this host boot" in said[1]
    # The verdict must be one a guest really boots with.
    with driver_for(tmp_path / "run", accel=accel) as d:
        assert d.machines[0].succeed("echo booted") == "booted\n"


def test_env_override(
    artifacts: Artifacts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRINTERFACT_CACHE", str(tmp_path / "cache"))
    said: list[str] = []
    monkeypatch.setenv(kvm_probe.ENV, "tcg")
    assert kvm_probe.choose_accel(artifacts.kernel_image, said.append) == "tcg"
    assert said == [f"accelerator: tcg ({kvm_probe.ENV}=tcg)"]
    assert not (tmp_path / "cache" / "accel.json").exists()  # no probe ran
    monkeypatch.setenv(kvm_probe.ENV, "fast")
    with pytest.raises(ValueError, match="kvm, tcg or auto"):
        kvm_probe.choose_accel(artifacts.kernel_image, said.append)


def test_probe_requires_the_kernel_to_reach_init_not_just_its_banner(artifacts: Artifacts) -> None:
    # The probe's boot logic under TCG (KVM is not usable everywhere the tests run).
    t0 = time.monotonic()
    works, why = kvm_probe.probe_boot(artifacts.kernel_image, "tcg")
    assert works, why
    assert time.monotonic() - t0 < kvm_probe.PROBE_SECONDS
    # With 6 MiB the kernel prints its banner and dies before it runs init: a guest that
    # starts and then crashes must not count as a working accelerator.
    works, why = kvm_probe.probe_boot(
        artifacts.kernel_image, "tcg", append=f"{kvm_probe.PROBE_APPEND} mem=6M"
    )
    assert not works
    assert "the banner, then it stopped before running init" in why
