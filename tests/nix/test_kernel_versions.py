"""One kernel version on both paths (issue 18, item 2): reported, and a warning, never a
failure, when Debian's updates move the portable source away from the Nix pin."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
from kernel_versions import (
    PLACEHOLDER_SHA256,
    KernelPinDrift,
    Versions,
    nix_pin,
    upstream_of_debian,
    versions,
)
from nixeval import REPO


def test_nix_pin_is_the_portable_kernel() -> None:
    """Warns (KernelPinDrift) when the portable source is another version than the Nix pin:
    `-W error::UserWarning` turns it into a failure, e.g. before a release."""
    found = versions()
    message = found.warning()
    if message is not None:
        warnings.warn(KernelPinDrift(message), stacklevel=1)
    assert found.nix == json.loads((REPO / "nix" / "sources.json").read_text())["linux"]["version"]


@pytest.mark.parametrize(
    "debian, upstream",
    [("6.12.118-1~deb12u1", "6.12.118"), ("6.12.57-1", "6.12.57"), ("6.13~rc1-1~exp1", "6.13-rc1")],
)
def test_upstream_of_debian(debian: str, upstream: str) -> None:
    assert upstream_of_debian(debian) == upstream


def test_drift_warns_and_names_both_versions() -> None:
    drift = Versions("6.12.118", True, "6.12.120", "Debian linux-source-6.12 6.12.120-1~deb12u1")
    message = drift.warning()
    assert message is not None and "6.12.120" in message and "6.12.118" in message
    assert "niv update linux -v 6.12.120" in message
    level = Versions("6.12.118", True, "6.12.118", "Debian linux-source-6.12 6.12.118-1~deb12u1")
    assert level.warning() is None
    unknown = Versions("6.12.118", True, None, "tarball /x.tar.xz")
    assert unknown.warning() is None and "unknown" in unknown.report()
    assert "hash not yet verified" in Versions("6.12.118", False, None, "x").report()


def test_nix_pin_reads_sources_json(tmp_path: Path) -> None:
    spec = {"linux": {"version": "6.12.99", "sha256": PLACEHOLDER_SHA256}}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    assert nix_pin(tmp_path / "s.json") == ("6.12.99", False)
    assert re.fullmatch(r"6\.12\.\d+", nix_pin()[0])
