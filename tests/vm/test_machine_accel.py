"""The accelerator choice: a real KVM probe, its per-boot cache, the env override."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from printerfact.build.artifacts import Artifacts
from printerfact.vm import kvm_probe

pytestmark = pytest.mark.vm


def test_probe_verdict_is_cached_per_boot_and_boots(
    artifacts: Artifacts, driver_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRINTERFACT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(kvm_probe.ENV, "auto")
    said: list[str] = []
    accel = kvm_probe.choose_accel(artifacts.bzimage, said.append)
    assert said and said[0].startswith(f"accelerator: {accel} (probed: ")
    cached = json.loads((tmp_path / "cache" / "accel.json").read_text())
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert cached["accel"] == accel and cached["boot_id"] == boot_id
    t0 = time.monotonic()
    assert kvm_probe.choose_accel(artifacts.bzimage, said.append) == accel
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
    assert kvm_probe.choose_accel(artifacts.bzimage, said.append) == "tcg"
    assert said == [f"accelerator: tcg ({kvm_probe.ENV}=tcg)"]
    assert not (tmp_path / "cache" / "accel.json").exists()  # no probe ran
    monkeypatch.setenv(kvm_probe.ENV, "fast")
    with pytest.raises(ValueError, match="kvm, tcg or auto"):
        kvm_probe.choose_accel(artifacts.bzimage, said.append)
