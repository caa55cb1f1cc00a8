"""Everything a VM test needs, built or taken from the cache in dependency order, and the
cache entries that this checkout's build uses (for `printerfact cache`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from printerfact.host import cache, cache_gc, progress, toolchain
from printerfact.image import packages
from printerfact.image.base import base_image_entry, ensure_base_image

from . import flavour as flavours
from . import kernel, module

# What a build can fail with that deserves a one-line message rather than a traceback: each
# names the log, the package or the file to fix.
BUILD_ERRORS = (
    progress.BuildError,
    toolchain.ToolchainError,
    kernel.KernelSourceError,
    flavours.UnknownFlavour,
    packages.PackageError,
    FileNotFoundError,
)


@dataclass(frozen=True)
class Artifacts:
    kernel_image: Path
    kernel_release: str
    kbuild_dir: Path
    module_ko: Path
    initrd: Path
    flavour: str = flavours.DEFAULT
    kernel_append: str = flavours.FLAVOURS[flavours.DEFAULT].kernel_append


def ensure_artifacts(flavour: str | None = None, jobs: int | None = None) -> Artifacts:
    """Toolchain check -> kernel -> module -> base image; each a cache hit when unchanged.

    `flavour`: a name from `flavour.FLAVOURS`; None means $PRINTERFACT_FLAVOUR or `default`.
    """
    fl = flavours.get(flavour)
    tc = toolchain.detect()
    kb = kernel.ensure_kernel(tc, fl, jobs)
    ko = module.ensure_module(kb, tc)
    initrd = ensure_base_image(ko, kb.release)
    return Artifacts(
        kernel_image=kb.kernel_image,
        kernel_release=kb.release,
        kbuild_dir=kb.build_dir,
        module_ko=ko,
        initrd=initrd,
        flavour=fl.name,
        kernel_append=fl.kernel_append,
    )


def current_entries() -> set[Path]:
    """The entries this checkout's build uses now (those it has not built yet included)."""
    tc = toolchain.detect()
    identity, source = kernel.source_identity(kernel.source_path())
    live = {source} if source is not None else set()
    for fl in flavours.FLAVOURS.values():
        k = kernel.kernel_entry(identity, tc, fl)
        m = module.module_entry(k / "build", tc)
        live |= {k, m}
        ko = m / f"{module.MODULE_NAME}.ko"
        if cache.is_complete(k) and ko.is_file():  # the image's key holds the module's digest
            live.add(base_image_entry(ko, kernel.built_kernel(k, fl, k).release))
    for name in [*packages.DEBIAN_PACKAGES, *packages.EVERY_NODE]:
        try:
            live.add(packages.segment_entry(name))
        except packages.PackageError:  # not installed here: no current segment
            pass
    return live | cache_gc.dependents(live)
