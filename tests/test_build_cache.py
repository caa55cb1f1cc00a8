"""The content-hash cache: hits, misses on input change, torn entries rebuilt (no kernel needed)."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from printerfact.host import cache, paths, toolchain
from printerfact.kernel import flavour, kernel


def test_entry_is_built_once(tmp_path: Path) -> None:
    calls: list[Path] = []

    def build(d: Path) -> None:
        calls.append(d)
        (d / "out").write_text("x")

    entry = tmp_path / "e"
    cache.ensure_entry(entry, build)
    cache.ensure_entry(entry, build)
    assert len(calls) == 1
    assert (entry / "out").read_text() == "x"
    assert cache.is_complete(entry)


def test_torn_entry_is_rebuilt_not_used(tmp_path: Path) -> None:
    entry = tmp_path / "e"
    entry.mkdir()
    (entry / "out").write_text("half-written")  # a build killed before its marker
    cache.ensure_entry_in_place(entry, lambda d: (d / "out").write_text("whole"))
    assert (entry / "out").read_text() == "whole"
    assert cache.is_complete(entry)


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    entry = tmp_path / "e"

    def boom(d: Path) -> None:
        (d / "partial").write_text("x")
        raise RuntimeError("compiler crashed")

    with pytest.raises(RuntimeError):
        cache.ensure_entry(entry, boom)
    assert not entry.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["e.lock"]  # no entry, no temp dir


DEFAULT = flavour.FLAVOURS["default"]


def test_kernel_key_changes_with_fragment(tmp_path: Path) -> None:
    tc = toolchain.Toolchain(Path("rustc"), Path("bindgen"), Path("clang"), {"rustc": "1"})
    before = kernel.build_key("tarball:abc", tc, DEFAULT)
    assert kernel.build_key("tarball:abc", tc, DEFAULT) == before  # stable
    fragment = tmp_path / "frag.config"
    fragment.write_text(paths.FRAGMENT.read_text() + "CONFIG_IKCONFIG=y\n")
    changed = replace(DEFAULT, fragments=(fragment, paths.BOOT_FRAGMENT))
    assert kernel.build_key("tarball:abc", tc, changed) != before


def test_kernel_key_changes_with_boot_image() -> None:
    tc = toolchain.Toolchain(Path("rustc"), Path("bindgen"), Path("clang"), {"rustc": "1"})
    bzimage = replace(DEFAULT, boot_image="bzImage")
    key = kernel.build_key
    assert key("tarball:abc", tc, bzimage) != key("tarball:abc", tc, DEFAULT)


def test_flavours_have_different_kernel_keys() -> None:
    tc = toolchain.Toolchain(Path("rustc"), Path("bindgen"), Path("clang"), {"rustc": "1"})
    keys = {kernel.build_key("tarball:abc", tc, f) for f in flavour.FLAVOURS.values()}
    assert len(keys) == len(flavour.FLAVOURS)
    base = DEFAULT.fragments
    assert flavour.FLAVOURS["debug"].fragments[: len(base)] == base  # same base


def test_kernel_key_changes_with_toolchain_and_source() -> None:
    tc1 = toolchain.Toolchain(Path("rustc"), Path("bindgen"), Path("clang"), {"rustc": "1.96"})
    tc2 = toolchain.Toolchain(Path("rustc"), Path("bindgen"), Path("clang"), {"rustc": "1.97"})
    key = kernel.build_key
    assert key("tarball:abc", tc1, DEFAULT) != key("tarball:abc", tc2, DEFAULT)
    assert key("tarball:abc", tc1, DEFAULT) != key("tarball:abd", tc1, DEFAULT)


@pytest.mark.parametrize(
    ("version", "ok"),
    [((6, 12, 19), True), ((6, 12, 117), True), ((6, 12, 18), False), ((6, 13, 1), False)],
)
def test_kernel_version_gate(version: tuple[int, int, int], ok: bool) -> None:
    if ok:
        kernel.check_version(version)
    else:
        with pytest.raises(kernel.KernelSourceError, match="6.12.y"):
            kernel.check_version(version)


def test_concurrent_run_waits_instead_of_deleting(tmp_path: Path) -> None:
    """A second build of an entry that is being built waits for it and then uses it."""
    entry = tmp_path / "e"
    calls: list[Path] = []
    result: list[Path] = []
    with cache.locked(entry):  # "another process" is building the entry in place
        entry.mkdir()
        (entry / "out").write_text("in progress")
        waiter = threading.Thread(
            target=lambda: result.append(cache.ensure_entry_in_place(entry, calls.append))
        )
        waiter.start()
        waiter.join(timeout=0.5)
        assert waiter.is_alive()  # blocked on the lock
        assert (entry / "out").read_text() == "in progress"  # not discarded as torn
        (entry / "out").write_text("whole")
        (entry / cache.MARKER).write_text("ok\n")
    waiter.join(timeout=5)
    assert result == [entry] and calls == []  # used the finished entry, built nothing
