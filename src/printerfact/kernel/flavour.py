"""Kernel flavours: which config fragments a kernel is built from, and how its guests boot.

`default` is the production-like kernel; `debug` adds kernel/debug.config (KASAN, lockdep,
UBSAN, KFENCE, kmemleak, debug objects, ...).  Each flavour is its own cache entry (the
fragments are part of the kernel's cache key), so switching is free once both are built.
Selected per run: `printerfact run --flavour debug`, `PRINTERFACT_FLAVOUR=debug`,
`pytest --printerfact-flavours debug`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from printerfact.host import paths

ENV = "PRINTERFACT_FLAVOUR"
DEFAULT = "default"


@dataclass(frozen=True)
class Flavour:
    name: str
    # Merged in this order on top of tinyconfig (kernel.nix merges the same minus the
    # portable-only boot tuning on top of nixpkgs' common config).
    fragments: tuple[Path, ...]
    # Kernel command-line arguments beyond the driver's own (vm.qemu_argv.kernel_cmdline).
    cmdline: tuple[str, ...] = ()
    # What the runner boots: "vmlinux" by its PVH entry (no decompression under TCG, ~0.3 s
    # per boot), or "bzImage".
    boot_image: str = "vmlinux"

    @property
    def kernel_append(self) -> str:
        """The flavour's arguments as one string (`Artifacts.kernel_append`)."""
        return " ".join(self.cmdline)


BASE_FRAGMENTS = (paths.FRAGMENT, paths.BOOT_FRAGMENT)

FLAVOURS: dict[str, Flavour] = {
    "default": Flavour("default", BASE_FRAGMENTS),
    "debug": Flavour(
        "debug",
        (*BASE_FRAGMENTS, paths.DEBUG_FRAGMENT),
        cmdline=(
            # Every KASAN report, not only the first: one test may hit several bugs.
            "kasan_multi_shot",
            # ACPI IRQ routing runs AML for each PCI device; under TCG with kmemleak and KASAN
            # bookkeeping that took ~26 s per virtio device.  The MP table routes them as well.
            "acpi=noirq",
        ),
        # With KASAN, 6.12.117 entered by PVH dies before its first console line (QEMU
        # resets); the bzImage boots, and its decompression is little next to a 9 s boot.
        boot_image="bzImage",
    ),
}


class UnknownFlavour(ValueError):
    pass


def get(name: str | None = None) -> Flavour:
    """The flavour called `name`, else $PRINTERFACT_FLAVOUR, else `default`."""
    wanted = name or os.environ.get(ENV) or DEFAULT
    try:
        return FLAVOURS[wanted]
    except KeyError:
        raise UnknownFlavour(
            f"unknown kernel flavour {wanted!r}; known: {', '.join(FLAVOURS)}"
        ) from None


def names(value: str) -> list[str]:
    """The flavours of a comma-separated list (`printerfact --flavour`, pytest's
    `--printerfact-flavours`), in its order, each once; at least one."""
    wanted = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in wanted if n not in FLAVOURS]
    if unknown or not wanted:
        raise UnknownFlavour(
            f"unknown flavour(s) {', '.join(unknown) or repr(value)}; known: {', '.join(FLAVOURS)}"
        )
    return list(dict.fromkeys(wanted))
