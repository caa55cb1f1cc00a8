"""The Linux version each path builds: the Nix pin (nix/sources.json) and the portable source.

The portable path builds Debian's linux-source-6.12 (or $PRINTERFACT_KERNEL_SRC), which
Debian's security updates move; the Nix pin moves only by a commit.  `make test` reports both
(pytest_report_header in the root conftest.py) and warns when they differ
(tests/nix/test_kernel_versions.py), never fails: a failure would break CI at every Debian
update.  Bring the pin level with `niv update linux -v <version>` (README, "Nix").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from printerfact.kernel import kernel

# PRINTERFACT_NIX_REPO: another checkout's pin, as for the other Nix tests (tests/nix/nixeval.py).
REPO = Path(os.environ.get("PRINTERFACT_NIX_REPO") or Path(__file__).resolve().parents[2])
SOURCES = REPO / "nix" / "sources.json"
DEBIAN_PACKAGE = "linux-source-6.12"
# lib.fakeSha256: a hash nobody has verified yet (the first fetch fails and prints the right one).
PLACEHOLDER_SHA256 = "0" * 64


class KernelPinDrift(UserWarning):
    """The Nix pin and the portable source are different Linux versions."""


@dataclass(frozen=True)
class Versions:
    nix: str  # upstream version of the Nix pin, e.g. "6.12.118"
    nix_hash_verified: bool
    portable: str | None  # upstream version the portable path builds; None if unknown
    portable_origin: str  # where that came from, for the report

    def differ(self) -> bool:
        return self.portable is not None and self.portable != self.nix

    def report(self) -> str:
        nix = self.nix + ("" if self.nix_hash_verified else ", hash not yet verified")
        portable = self.portable or "unknown"
        return f"Linux: portable path {portable} ({self.portable_origin}), Nix pin {nix}"

    def warning(self) -> str | None:
        if not self.differ():
            return None
        return (
            f"the two paths build different kernels: portable {self.portable} "
            f"({self.portable_origin}), Nix pin {self.nix}; bring the pin level with "
            f"`niv update linux -v {self.portable}` (README, Nix)"
        )


def upstream_of_debian(version: str) -> str:
    """Debian's package version -> the upstream one: 6.12.118-1~deb12u1 -> 6.12.118."""
    upstream = version.split(":", 1)[-1].rsplit("-", 1)[0]
    return upstream.replace("~", "-")  # 6.13~rc1 -> 6.13-rc1


def nix_pin(sources: Path = SOURCES) -> tuple[str, bool]:
    spec = json.loads(sources.read_text())["linux"]
    return spec["version"], spec["sha256"] != PLACEHOLDER_SHA256


def portable_source() -> tuple[str | None, str]:
    """(upstream version, origin) of what the portable build would build, read without
    unpacking anything: a tree's Makefile, or dpkg's record of Debian's tarball."""
    src = kernel.source_path()
    if src.is_dir():
        try:
            return ".".join(map(str, kernel.kernel_version(src))), f"tree {src}"
        except (OSError, kernel.KernelSourceError):
            return None, f"tree {src} without a readable Makefile"
    if src == kernel.DEFAULT_SOURCE and shutil.which("dpkg-query"):
        proc = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", DEBIAN_PACKAGE],
            capture_output=True,
            text=True,
        )
        if proc.returncode == 0 and re.fullmatch(r"[\w.:~+-]+", proc.stdout):
            return upstream_of_debian(proc.stdout), f"Debian {DEBIAN_PACKAGE} {proc.stdout}"
        return None, f"{DEBIAN_PACKAGE} not installed"
    return None, f"tarball {src}"


def versions() -> Versions:
    nix, verified = nix_pin()
    portable, origin = portable_source()
    return Versions(nix=nix, nix_hash_verified=verified, portable=portable, portable_origin=origin)
