"""`printerfact cache` and `cache gc`: stale entries go, current and held ones never (real
locks, held by other processes, as a running build or test run holds them)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from printerfact.host import cache, cache_gc

HOLDER = """
import fcntl, sys, time
lock = open(sys.argv[1], "a")
fcntl.flock(lock, getattr(fcntl, sys.argv[2]))
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PRINTERFACT_CACHE", str(tmp_path))
    return tmp_path


def make(root: Path, kind: str, name: str, size: int = 1000) -> Path:
    entry = root / kind / name
    cache.ensure_entry(entry, lambda d: (d / "blob").write_bytes(b"x" * size))
    return entry


@contextmanager
def held_elsewhere(entry: Path, how: str) -> Iterator[None]:
    """Another process holds the entry's lock (LOCK_EX: a build; LOCK_SH: a run using it)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(entry) + ".lock", how],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        yield
    finally:
        proc.kill()
        proc.wait()


def drop_own_holds(root: Path) -> None:
    # This process took each entry it made (as a run does); the others are what is tested.
    for entry in [e for e in cache._held if e.is_relative_to(root)]:
        cache._held.pop(entry).close()


def test_gc_removes_the_stale_and_keeps_the_current(root: Path) -> None:
    current = make(root, "kernel", "aaa")
    old = make(root, "kernel", "bbb", size=5000)
    old_module = make(root, "module", "ccc")
    drop_own_holds(root)
    found = cache_gc.entries(current={current})
    states = {e.path.name: (e.current, e.in_use) for e in found}
    assert states == {"aaa": (True, False), "bbb": (False, False), "ccc": (False, False)}
    assert {e.path for e in cache_gc.collect(found)} == {old, old_module}
    assert current.is_dir() and not old.exists() and not old_module.exists()
    assert not (root / "kernel" / "bbb.lock").exists()


@pytest.mark.parametrize("how", ["LOCK_EX", "LOCK_SH"])
def test_gc_never_removes_an_entry_a_process_holds(root: Path, how: str) -> None:
    entry = make(root, "kernel", "busy")
    drop_own_holds(root)
    with held_elsewhere(entry, how):
        found = cache_gc.entries(current=set())
        assert [e.in_use for e in found] == [True]
        assert cache_gc.collect(found) == []
        assert cache.is_complete(entry)
    assert [e.path for e in cache_gc.collect(cache_gc.entries(current=set()))] == [entry]


def test_an_entry_this_process_uses_is_held(root: Path) -> None:
    entry = make(root, "image", "mine")  # ensure_entry holds it for the process's lifetime
    try:
        assert cache_gc.collect(cache_gc.entries(current=set())) == []
        assert cache.is_complete(entry)
    finally:
        drop_own_holds(root)


def test_a_live_builds_temporary_directory_is_kept(root: Path) -> None:
    live = root / "kernel" / "x.tmp-1"  # pid 1 lives
    dead = root / "kernel" / "y.tmp-999999999"
    live.mkdir(parents=True)
    dead.mkdir()
    removed = cache_gc.collect(cache_gc.entries(current=set()))
    assert [e.path for e in removed] == [dead] and live.is_dir()


def test_a_use_is_recorded(root: Path) -> None:
    entry = make(root, "module", "m")
    drop_own_holds(root)
    before = cache.last_used(entry)
    time.sleep(0.05)
    cache.ensure_entry(entry, lambda d: None)
    assert cache.last_used(entry) > before
    drop_own_holds(root)


def test_the_table_and_the_pile_up_notice(root: Path) -> None:
    current = make(root, "kernel", "k0")
    for i in range(cache_gc.PILE_UP):
        make(root, "kernel", f"old{i}", size=2_000_000)
    drop_own_holds(root)
    found = cache_gc.entries(current={current})
    assert cache_gc.pile_up_notice(found) is None  # a few are fine
    make(root, "image", "one-more")
    drop_own_holds(root)
    found = cache_gc.entries(current={current})
    notice = cache_gc.pile_up_notice(found)
    assert notice is not None and "printerfact cache gc" in notice and "6.0 MB" in notice
    text = cache_gc.table(found)
    assert "current" in text and text.count("stale") >= 4 and "2.0 MB" in text


def test_an_entry_made_from_others_is_current_while_they_all_are(root: Path) -> None:
    kernel = root / "kernel" / "k1"
    kernel.mkdir(parents=True)
    made = {}
    for name, deps in {"s-live": {"kernel": str(kernel)}, "s-old": {"kernel": "/gone"}}.items():
        made[name] = root / "snapshot" / name
        made[name].mkdir(parents=True)
        (made[name] / cache_gc.DEPS_FILE).write_text(json.dumps(deps))
    (root / "snapshot" / "s-torn").mkdir()
    (root / "snapshot" / "s-torn" / cache_gc.DEPS_FILE).write_text("{")
    assert cache_gc.dependents({kernel}) == {made["s-live"]}
    assert cache_gc.dependents(set()) == set()
