"""Content-addressed cache entries that are either complete or absent.

An entry is built in a temporary sibling directory and renamed into place, then a marker file is
written last.  A directory without its marker (a build killed half-way, a disk that filled up) is
treated as torn: it is deleted and rebuilt, never used.  Builders hold an exclusive lock on
`<entry>.lock`, so a second run (another clone, CI, a test) waits instead of deleting an entry
that is still being built.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

MARKER = ".complete"


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


@contextlib.contextmanager
def locked(entry: Path) -> Iterator[None]:
    """Hold the entry's build lock (released by the kernel if the process dies)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    with open(entry.with_name(entry.name + ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another build of {entry} ...", file=sys.stderr)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_entry(entry: Path, build: Callable[[Path], None]) -> Path:
    """Return `entry`, building it with `build(tmp_dir)` unless a complete one exists.

    `build` fills the temporary directory it is given; only when it returns is the directory
    renamed to `entry` and marked complete.  Tools that record absolute paths (the kernel's
    O= build dir does) must be given the final path instead: see `ensure_entry_in_place`.
    """
    if is_complete(entry):
        return entry
    with locked(entry):
        if is_complete(entry):  # built by whoever held the lock before us
            return entry
        discard_torn(entry)
        tmp = entry.with_name(f"{entry.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            build(tmp)
            tmp.rename(entry)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        (entry / MARKER).write_text("ok\n")
    return entry


def ensure_entry_in_place(entry: Path, build: Callable[[Path], None]) -> Path:
    """Like `ensure_entry` for builds that must run at their final path.

    The marker is what makes the entry valid; a killed build leaves no marker, so the next run
    sees a torn entry and starts over.
    """
    if is_complete(entry):
        return entry
    with locked(entry):
        if is_complete(entry):
            return entry
        discard_torn(entry)
        entry.mkdir(parents=True)
        build(entry)
        (entry / MARKER).write_text("ok\n")
    return entry


def discard_torn(entry: Path) -> None:
    if entry.exists() and not is_complete(entry):
        shutil.rmtree(entry)
