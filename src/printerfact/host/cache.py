"""Content-addressed cache entries that are either complete or absent.

An entry is built in a temporary sibling directory and renamed into place, then a marker file is
written last.  A directory without its marker (a build killed half-way, a disk that filled up) is
treated as torn: it is deleted and rebuilt, never used.  Builders hold an exclusive lock on
`<entry>.lock`, so a second run (another clone, CI, a test) waits instead of deleting an entry
that is still being built.  A process that uses an entry holds a shared lock on it until it
exits (`hold`), so `printerfact cache gc` (cache_gc.py) never removes what a build or a test
run is using; `.last-used` records each use.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

MARKER = ".complete"
LAST_USED = ".last-used"
_TMP = re.compile(r"\.tmp-(\d+)$")
_held: dict[Path, TextIO] = {}  # entry -> its lock file, open with a shared lock


def content_key(parts: dict[str, object]) -> str:
    """A stable hash of the named inputs (JSON with sorted keys, so order does not matter)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(root: Path, ignore: Callable[[Path], bool] = lambda p: False) -> str:
    """Hash of every file's relative path and content below `root` (sorted, so stable)."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not ignore(p)):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(file_digest(path).encode())
    return h.hexdigest()


def recipe_digest(*sources: str) -> str:
    """Hash of the given Python source files: the code that builds an entry is one of its inputs.

    Cheap products (image, module) use it, so editing their recipe can never leave a stale
    entry in use.  The kernel takes a version constant instead: a comment edit should not cost
    a 7-minute rebuild.
    """
    h = hashlib.sha256()
    for source in sources:
        h.update(Path(source).read_bytes())
    return h.hexdigest()


def is_complete(entry: Path) -> bool:
    return (entry / MARKER).is_file()


def _lock_path(entry: Path) -> Path:
    return entry.with_name(entry.name + ".lock")


def hold(entry: Path) -> bool:
    """Take a shared lock on a complete entry for the rest of this process, and note its use;
    False if it is gone (a collection got there first) and must be built again."""
    if entry not in _held:
        lock = open(_lock_path(entry), "a")  # noqa: SIM115 - held until the process exits
        fcntl.flock(lock, fcntl.LOCK_SH)
        _held[entry] = lock
    if not is_complete(entry):
        _held.pop(entry).close()
        return False
    (entry / LAST_USED).touch()
    return True


def last_used(entry: Path) -> float:
    for stamp in (entry / LAST_USED, entry / MARKER, entry):
        try:
            return stamp.stat().st_mtime
        except OSError:
            continue
    return 0.0


def in_use(entry: Path) -> bool:
    """Held by a process: being built, or taken by a run (`hold`).  A build's temporary
    directory is in use while its process lives."""
    if m := _TMP.search(entry.name):
        return Path(f"/proc/{m[1]}").exists()
    try:
        with open(_lock_path(entry), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    return False


def remove_unless_held(entry: Path) -> bool:
    """Delete `entry` (and its lock file) unless a process holds it; True if deleted."""
    if _TMP.search(entry.name):
        if in_use(entry):
            return False
        shutil.rmtree(entry, ignore_errors=True)
        return True
    lock_path = _lock_path(entry)
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        shutil.rmtree(entry, ignore_errors=True)
        lock_path.unlink(missing_ok=True)
    return True


@contextlib.contextmanager
def locked(entry: Path) -> Iterator[None]:
    """Hold the entry's build lock (released by the kernel if the process dies)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    with open(_lock_path(entry), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another build of {entry} ...", file=sys.stderr)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_entry(entry: Path, build: Callable[[Path], None]) -> Path:
    """Return `entry`, building it with `build(tmp_dir)` unless a complete one exists; the
    entry is held (`hold`) for the rest of the process.

    `build` fills the temporary directory it is given; only when it returns is the directory
    renamed to `entry` and marked complete.  Tools that record absolute paths (the kernel's
    O= build dir does) must be given the final path instead: see `ensure_entry_in_place`.
    """

    def aside(entry: Path) -> None:
        tmp = entry.with_name(f"{entry.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            build(tmp)
            tmp.rename(entry)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    return _ensure(entry, aside)


def ensure_entry_in_place(entry: Path, build: Callable[[Path], None]) -> Path:
    """Like `ensure_entry` for builds that must run at their final path.

    The marker is what makes the entry valid; a killed build leaves no marker, so the next run
    sees a torn entry and starts over.
    """

    def in_place(entry: Path) -> None:
        entry.mkdir(parents=True)
        build(entry)

    return _ensure(entry, in_place)


def _ensure(entry: Path, make: Callable[[Path], None]) -> Path:
    while not (is_complete(entry) and hold(entry)):
        with locked(entry):
            if not is_complete(entry):  # else built by whoever held the lock before us
                discard_torn(entry)
                make(entry)
                (entry / MARKER).write_text("ok\n")
    return entry


def discard_torn(entry: Path) -> None:
    if entry.exists() and not is_complete(entry):
        shutil.rmtree(entry)
