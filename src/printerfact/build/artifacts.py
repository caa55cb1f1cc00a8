"""Everything a VM test needs, built or taken from the cache in dependency order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import flavour as flavours
from . import image, kernel, module, packages, progress, toolchain

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
    initrd = image.ensure_base_image(ko, kb.release)
    return Artifacts(
        kernel_image=kb.kernel_image,
        kernel_release=kb.release,
        kbuild_dir=kb.build_dir,
        module_ko=ko,
        initrd=initrd,
        flavour=fl.name,
        kernel_append=fl.kernel_append,
    )
