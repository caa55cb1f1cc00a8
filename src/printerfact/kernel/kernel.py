"""Build the Rust-enabled kernel: tinyconfig + the project's fragment, LLVM=1, out of tree, cached.

Cache layout (under paths.cache_root()):
  src/<digest>/linux/        an extracted source tarball
  kernel/<key>/build/        the O= build directory (modules are built against it)
  kernel/<key>/vmlinux or bzImage (the flavour's boot image), kernel/<key>/release
where <key> hashes the source identity, the fragment, and the toolchain versions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from printerfact.host import cache, paths, progress
from printerfact.host.toolchain import Toolchain, ToolchainError, check_rustavailable

from .flavour import Flavour
from .kernel_config import unmet_options

DEFAULT_SOURCE = Path("/usr/src/linux-source-6.12.tar.xz")
MIN_VERSION = (6, 12, 19)  # 6.12.19 backported the KBox/KVec Rust API the module uses
ESTIMATED_STEPS = 1900  # kbuild lines of a cold build of this config
# Part of the cache key: bump it whenever _build changes what it produces (base config, make
# targets or variables), so existing cache entries are not reused.
RECIPE_VERSION = 2


class KernelSourceError(RuntimeError):
    pass


@dataclass(frozen=True)
class KernelBuild:
    kernel_image: Path
    release: str
    build_dir: Path
    source_dir: Path


def source_path() -> Path:
    """$PRINTERFACT_KERNEL_SRC (a tarball or an unpacked tree), else Debian's linux-source-6.12."""
    return Path(os.environ.get("PRINTERFACT_KERNEL_SRC") or DEFAULT_SOURCE)


def _memo_digest(tarball: Path) -> str:
    """sha256 of the tarball, remembered by (path, size, mtime) so warm runs skip re-hashing."""
    memo_file = paths.cache_root() / "digests.json"
    st = tarball.stat()
    stamp = f"{tarball.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if stamp not in memo:
        memo[stamp] = cache.file_digest(tarball)
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_file.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps(memo, indent=1))
        tmp.replace(memo_file)
    return str(memo[stamp])


def _tree_identity(tree: Path) -> str:
    """A user's tree changes under us; its newest mtime and version stand in for a full hash."""
    newest = 0
    for root, dirs, files in os.walk(tree):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            try:
                newest = max(newest, os.stat(os.path.join(root, f)).st_mtime_ns)
            except OSError:
                pass
    return f"tree:{tree.resolve()}:{newest}"


def source_identity(src: Path) -> tuple[str, Path | None]:
    """What identifies the source in the kernel's key, and the cache entry a tarball is
    extracted into (None for a tree, used where it is); builds nothing."""
    if src.is_dir():
        if not (src / "Makefile").is_file():
            raise KernelSourceError(f"{src} is not a kernel source tree (no Makefile)")
        return _tree_identity(src), None
    if not src.is_file():
        raise KernelSourceError(
            f"kernel source {src} not found. Install: apt-get install linux-source-6.12, "
            "or point PRINTERFACT_KERNEL_SRC at a 6.12.y tarball or tree"
        )
    digest = _memo_digest(src)
    return f"tarball:{digest}", paths.cache_root() / "src" / digest[:24]


def unpacked_source(src: Path) -> tuple[Path, str]:
    """(source tree, identity) for a tarball (extracted into the cache) or a directory."""
    identity, entry = source_identity(src)
    if entry is None:
        return src, identity

    def extract(dest: Path) -> None:
        # GNU tar: faster than tarfile, and tarfile's `filter` is missing before Python 3.11.4
        # (Debian 12 has 3.11.2).  The tarball's top directory name varies; strip it.
        (dest / "linux").mkdir()
        progress.run_logged(
            ["tar", "-xf", str(src), "-C", str(dest / "linux"), "--strip-components=1"],
            log=dest / "extract.log",
            label=f"kernel source: extracting {src.name}",
            unit=None,
        )

    cache.ensure_entry(entry, extract)
    return entry / "linux", identity


def kernel_version(tree: Path) -> tuple[int, int, int]:
    text = (tree / "Makefile").read_text(errors="replace")
    fields = dict(re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL) = (\d+)$", text, re.M))
    try:
        return int(fields["VERSION"]), int(fields["PATCHLEVEL"]), int(fields["SUBLEVEL"])
    except KeyError as e:
        raise KernelSourceError(f"{tree}/Makefile has no {e.args[0]}") from e


def check_version(version: tuple[int, int, int]) -> None:
    if version[:2] != (6, 12) or version < MIN_VERSION:
        raise KernelSourceError(
            f"kernel {'.'.join(map(str, version))} is not supported: the module targets 6.12.y "
            f"with y >= {MIN_VERSION[2]} (the Rust API of 6.12.19+)"
        )


def build_key(identity: str, toolchain: Toolchain, flavour: Flavour) -> str:
    return cache.content_key(
        {
            "source": identity,
            "fragments": [cache.file_digest(f) for f in flavour.fragments],
            "image": flavour.boot_image,  # what the entry holds: another target, another entry
            "toolchain": toolchain.identity,
            "recipe": RECIPE_VERSION,
        }
    )


def kernel_entry(identity: str, toolchain: Toolchain, flavour: Flavour) -> Path:
    return paths.cache_root() / "kernel" / build_key(identity, toolchain, flavour)


def ensure_kernel(toolchain: Toolchain, flavour: Flavour, jobs: int | None = None) -> KernelBuild:
    tree, identity = unpacked_source(source_path())
    check_version(kernel_version(tree))
    entry = kernel_entry(identity, toolchain, flavour)
    cache.ensure_entry_in_place(entry, lambda d: _build(tree, d, toolchain, flavour, jobs))
    return built_kernel(entry, flavour, tree)


def built_kernel(entry: Path, flavour: Flavour, tree: Path) -> KernelBuild:
    return KernelBuild(
        kernel_image=entry / flavour.boot_image,
        release=(entry / "release").read_text().strip(),
        build_dir=entry / "build",
        source_dir=tree,
    )


def _run_quiet(argv: list[str], cwd: Path | None = None) -> None:
    """A configuration step: its chatter is not worth showing, its failure is (stderr stays)."""
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, check=True)


def _build(
    tree: Path, entry: Path, toolchain: Toolchain, flavour: Flavour, jobs: int | None
) -> None:
    fragments = flavour.fragments
    out = entry / "build"
    out.mkdir()
    make = ["make", "-C", str(tree), f"O={out}", *toolchain.make_vars()]
    _run_quiet([*make, "tinyconfig"])
    merge = tree / "scripts/kconfig/merge_config.sh"
    _run_quiet([str(merge), "-m", "-O", str(out), str(out / ".config"), *map(str, fragments)],
               cwd=tree)  # fmt: skip
    _run_quiet([*make, "olddefconfig"])
    check_rustavailable(make, toolchain)
    unmet = {k: v for f in fragments for k, v in unmet_options(f, out / ".config").items()}
    if unmet:
        detail = ", ".join(f"{k}: want {w}, got {g}" for k, (w, g) in sorted(unmet.items()))
        raise ToolchainError(f"the kernel config does not honour the fragment: {detail}")
    steps_file = paths.cache_root() / "kernel" / f"last-build-steps-{flavour.name}"
    try:
        expected = int(steps_file.read_text())
    except (OSError, ValueError):
        expected = ESTIMATED_STEPS
    start = time.monotonic()
    steps = progress.run_logged(
        # Only the image the runner boots: vmlinux (PVH) needs no decompressor built or run;
        # `make bzImage` in the build directory still makes one.
        [*make, f"-j{jobs or (os.cpu_count() or 1) + 1}", flavour.boot_image, "modules"],
        log=entry / "build.log",
        label=f"{flavour.name} kernel build",
        expected_steps=expected,
    )
    steps_file.write_text(str(steps))
    (entry / "build-seconds").write_text(f"{time.monotonic() - start:.1f}\n")
    release = subprocess.run(
        [*make, "-s", "kernelrelease"], capture_output=True, text=True, check=True
    ).stdout.strip()
    built = out / ("vmlinux" if flavour.boot_image == "vmlinux" else "arch/x86/boot/bzImage")
    shutil.copy2(built, entry / flavour.boot_image)
    (entry / "release").write_text(release + "\n")
