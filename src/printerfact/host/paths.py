"""Where things live: the repository, and the per-user cache shared by every clone and CI run."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
MODULE_DIR = REPO_ROOT / "module"
FRAGMENT = REPO_ROOT / "kernel" / "printerfact.config"  # shared with kernel.nix
BOOT_FRAGMENT = REPO_ROOT / "kernel" / "portable-boot.config"  # portable runner only
DEBUG_FRAGMENT = REPO_ROOT / "kernel" / "debug.config"  # the debug flavour (also kernel.nix)


def cache_root() -> Path:
    """$PRINTERFACT_CACHE, else $XDG_CACHE_HOME/dev-printerfact, else ~/.cache/dev-printerfact."""
    explicit = os.environ.get("PRINTERFACT_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "dev-printerfact"


def tools_dir() -> Path:
    """cargo-installed tools, one prefix per crate and version."""
    return cache_root() / "tools"


def cargo_tool(crate: str, version: str, binary: str) -> Path:
    return tools_dir() / f"{crate}-{version}" / "bin" / binary
