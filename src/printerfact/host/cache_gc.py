"""The build cache's entries: what each is, its size, when it was last used, and whether this
checkout's current keys still use it (`printerfact cache`); removing the rest
(`printerfact cache gc`).

"Current" means: the entries the build of this checkout would use now, for every kernel
flavour and node package, computed from the same keys the build computes (nothing is built to
find them; printerfact.kernel.artifacts.current_entries() lists them).  An entry that a
process holds (a build in progress, or a run that took it: see `cache.hold`) is never removed,
whatever its key.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import cache, paths

KINDS = ("kernel", "module", "image", "packages", "src", "snapshot")
# An entry made from others (a node's snapshot: driver/snapshot_boot.py) names them in this
# file, as {"what": "path"}; it is current while they all are.
DEPS_FILE = "deps.json"
# More stale entries than this and `printerfact build` says so (each kernel is ~640 MB).
PILE_UP = 3


@dataclass(frozen=True)
class Entry:
    kind: str
    path: Path
    size: int  # bytes
    last_used: float  # time.time() of its last use
    current: bool
    in_use: bool


def _size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
                total += min(st.st_size, st.st_blocks * 512)  # a sparse disk image: its data
            except OSError:
                pass
    return total


def dependents(live: set[Path]) -> set[Path]:
    """The entries made from others (see DEPS_FILE) whose sources are all in `live`."""
    found = set()
    for kind in KINDS:
        base = paths.cache_root() / kind
        for deps_file in base.glob(f"*/{DEPS_FILE}") if base.is_dir() else ():
            try:
                deps = json.loads(deps_file.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(deps, dict) and all(Path(str(p)) in live for p in deps.values()):
                found.add(deps_file.parent)
    return found


def entries(current: set[Path]) -> list[Entry]:
    """Every entry of the cache, oldest use first; `current`: the entries the build uses now."""
    found = []
    for kind in KINDS:
        base = paths.cache_root() / kind
        if not base.is_dir():
            continue
        for path in base.iterdir():
            if not path.is_dir():
                continue
            found.append(
                Entry(
                    kind=kind,
                    path=path,
                    size=_size(path),
                    last_used=cache.last_used(path),
                    current=path in current,
                    in_use=cache.in_use(path),
                )
            )
    return sorted(found, key=lambda e: e.last_used)


def stale(found: Iterable[Entry]) -> list[Entry]:
    return [e for e in found if not e.current and not e.in_use]


def collect(found: Iterable[Entry]) -> list[Entry]:
    """Remove the stale entries (each under its lock, so none a process takes meanwhile);
    returns those removed."""
    removed = []
    for e in stale(found):
        if cache.remove_unless_held(e.path):
            removed.append(e)
    return removed


def human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def table(found: list[Entry], now: float | None = None) -> str:
    now = time.time() if now is None else now
    rows = [f"{'kind':<9} {'entry':<34} {'size':>9}  {'last used':>12}  state"]
    for e in found:
        age = now - e.last_used
        ago = f"{age / 86400:.1f} d ago" if age >= 86400 else f"{age / 3600:.1f} h ago"
        state = "current" if e.current else "in use" if e.in_use else "stale"
        rows.append(f"{e.kind:<9} {e.path.name:<34} {human(e.size):>9}  {ago:>12}  {state}")
    total = sum(e.size for e in found)
    waste = sum(e.size for e in stale(found))
    rows.append(f"{len(found)} entries, {human(total)}; stale: {human(waste)}")
    return "\n".join(rows)


def pile_up_notice(found: list[Entry]) -> str | None:
    """One line for the end of a build when stale entries have piled up, else None."""
    old = stale(found)
    if len(old) <= PILE_UP:
        return None
    return (
        f"cache: {len(old)} entries ({human(sum(e.size for e in old))}) are used by no current"
        " key: `printerfact cache gc` removes them"
    )
