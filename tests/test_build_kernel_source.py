"""Choosing the kernel source: Debian's tarball by default, or a tree or tarball the user names."""

from __future__ import annotations

from pathlib import Path

import pytest

from printerfact.kernel import kernel

MAKEFILE = "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = {sub}\nEXTRAVERSION =\n"


def _tree(root: Path, sub: int) -> Path:
    root.mkdir()
    (root / "Makefile").write_text(MAKEFILE.format(sub=sub))
    return root


def test_user_tree_is_used_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = _tree(tmp_path / "linux", 64)
    monkeypatch.setenv("PRINTERFACT_KERNEL_SRC", str(tree))
    src, identity = kernel.unpacked_source(kernel.source_path())
    assert src == tree
    assert kernel.kernel_version(src) == (6, 12, 64)
    # Editing the tree changes its identity, hence the cache key.
    (tree / "new.c").write_text("int x;\n")
    assert kernel.unpacked_source(tree)[1] != identity


def test_old_tree_is_refused(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "linux", 10)
    with pytest.raises(kernel.KernelSourceError, match="6.12.10 is not supported"):
        kernel.check_version(kernel.kernel_version(tree))


def test_missing_source_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRINTERFACT_KERNEL_SRC", str(tmp_path / "nope.tar.xz"))
    with pytest.raises(kernel.KernelSourceError, match="apt-get install linux-source-6.12"):
        kernel.unpacked_source(kernel.source_path())


def test_not_a_kernel_tree(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(kernel.KernelSourceError, match="not a kernel source tree"):
        kernel.unpacked_source(tmp_path / "empty")


def test_default_is_debians_tarball(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRINTERFACT_KERNEL_SRC", raising=False)
    assert kernel.source_path() == Path("/usr/src/linux-source-6.12.tar.xz")
