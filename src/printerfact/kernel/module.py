"""Build module/ against the cached kernel.  Only the module's own sources are in its key, so
editing the module rebuilds it in seconds and never touches the kernel."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from printerfact.host import cache, paths, progress
from printerfact.host.toolchain import Toolchain

from .kernel import KernelBuild

MODULE_NAME = "printerfact"
_SOURCE_SUFFIXES = {".rs", ".txt", ".c", ".h"}
_SOURCE_NAMES = {"Kbuild", "Makefile"}


def is_source(path: Path) -> bool:
    return path.name in _SOURCE_NAMES or path.suffix in _SOURCE_SUFFIXES


def module_entry(kbuild_dir: Path, toolchain: Toolchain, src: Path = paths.MODULE_DIR) -> Path:
    """The cache entry of the modules of `src` built against `kbuild_dir` (builds nothing)."""
    if not (src / "Kbuild").is_file():
        raise FileNotFoundError(f"{src} has no Kbuild: not a module source directory")
    key = cache.content_key(
        {
            "module": cache.tree_digest(src, ignore=lambda p: not is_source(p)),
            "kernel": str(kbuild_dir),
            "toolchain": toolchain.identity,
            "recipe": cache.recipe_digest(__file__),
        }
    )
    return paths.cache_root() / "module" / key


def ensure_module(
    kernel: KernelBuild,
    toolchain: Toolchain,
    src: Path = paths.MODULE_DIR,
    name: str = MODULE_NAME,
) -> Path:
    """Return the path of `<name>.ko` built from `src` against `kernel` (every module of `src`
    is built and kept in the same cache entry)."""
    entry = module_entry(kernel.build_dir, toolchain, src)

    def build(dest: Path) -> None:
        work = dest / "src"
        shutil.copytree(
            src,
            work,
            ignore=lambda d, names: [
                n for n in names if not (Path(d, n).is_dir() or is_source(Path(d, n)))
            ],
        )
        progress.run_logged(
            ["make", "-C", str(kernel.build_dir), f"M={work}", *toolchain.make_vars(), "modules"],
            log=dest / "build.log",
            label="module build",
            interval=60,
        )
        for ko in work.glob("*.ko"):
            shutil.copy2(ko, dest / ko.name)

    # The kernel's Makefiles record absolute paths of M=, so build at the final location.
    cache.ensure_entry_in_place(entry, build)
    ko = entry / f"{name}.ko"
    if not ko.is_file():
        raise FileNotFoundError(f"{src} builds no module {name}.ko")
    return ko


def modinfo(ko: Path) -> dict[str, str]:
    out = subprocess.run(["modinfo", str(ko)], capture_output=True, text=True, check=True).stdout
    fields: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields
