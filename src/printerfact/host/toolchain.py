"""Pick the Rust-for-Linux toolchain and explain, in package names, whatever is missing.

The kernel's `make rustavailable` says *that* something is wrong; this module says *which*
package fixes it.  Only a rustc whose sysroot holds the matching `rust-src` can build the
kernel's `core`, so rustup toolchains without that component are passed over.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import distro, paths

BINDGEN_MIN = (0, 65, 1)
LLVM_TOOLS = ("clang", "ld.lld", "llvm-ar")
HOST_TOOLS = ("flex", "bison", "bc", "make", "pahole")


class ToolchainError(RuntimeError):
    """A piece of the toolchain is missing or unusable; the message names the package."""


@dataclass(frozen=True)
class Toolchain:
    rustc: Path
    bindgen: Path
    clang: Path
    identity: dict[str, str]  # version strings, part of every kernel cache key

    def make_vars(self) -> list[str]:
        return ["LLVM=1", f"RUSTC={self.rustc}", f"BINDGEN={self.bindgen}"]


def _version(argv: list[str]) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return (out.stdout or out.stderr).strip()


def _parse_version(text: str) -> tuple[int, ...]:
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(x) for x in m.groups()) if m else (0,)


def has_rust_src(rustc: Path) -> bool:
    sysroot = _version([str(rustc), "--print", "sysroot"])
    return (Path(sysroot) / "lib/rustlib/src/rust/library/core/src/lib.rs").is_file()


def find_rustc() -> Path:
    # An explicit $RUSTC is the user's choice: check it, never silently replace it.
    explicit = os.environ.get("RUSTC")
    candidates = [explicit] if explicit else ["/usr/bin/rustc", shutil.which("rustc")]
    seen_without_src = []
    for c in candidates:
        if not c or not Path(c).is_file():
            continue
        if has_rust_src(Path(c)):
            return Path(c)
        seen_without_src.append(c)
    if seen_without_src:
        raise ToolchainError(
            f"rustc found ({', '.join(seen_without_src)}) but its sysroot has no rust-src "
            f"(library/core sources). Install: {distro.install_hint('rust-src')} "
            f"(with {distro.package_for('rustc')}: the two versions must match)"
        )
    raise ToolchainError(f"no rustc found. Install: {distro.install_hint('rustc')}")


def find_bindgen() -> Path:
    cargo_installed = paths.cargo_tool("bindgen-cli", distro.BINDGEN_CARGO_VERSION, "bindgen")
    explicit = os.environ.get("BINDGEN")
    candidates = [explicit] if explicit else [shutil.which("bindgen"), str(cargo_installed)]
    too_old = []
    for c in candidates:
        if not c or not Path(c).is_file():
            continue
        version = _parse_version(_version([c, "--version"]))
        if version >= BINDGEN_MIN:
            return Path(c)
        too_old.append(f"{c} ({'.'.join(map(str, version))})")
    detail = f"only too old ones: {', '.join(too_old)}; " if too_old else ""
    raise ToolchainError(
        f"no bindgen >= {'.'.join(map(str, BINDGEN_MIN))} found ({detail}the kernel refuses "
        f"older ones). Install: {distro.install_hint('bindgen')}"
    )


def require_commands(names: tuple[str, ...]) -> dict[str, Path]:
    found, missing = {}, []
    for name in names:
        path = shutil.which(name)
        if path:
            found[name] = Path(path)
        else:
            missing.append(name)
    if missing:
        pkgs = sorted({distro.package_for(m) for m in missing})
        raise ToolchainError(
            f"missing command(s): {', '.join(missing)}. Install: apt-get install {' '.join(pkgs)}"
        )
    return found


def detect() -> Toolchain:
    """Find every piece, or raise ToolchainError naming the package to install."""
    tools = require_commands(LLVM_TOOLS + HOST_TOOLS)
    rustc = find_rustc()
    bindgen = find_bindgen()
    return Toolchain(
        rustc=rustc,
        bindgen=bindgen,
        clang=tools["clang"],
        identity={
            "rustc": _version([str(rustc), "--version"]),
            "bindgen": _version([str(bindgen), "--version"]),
            "clang": _version([str(tools["clang"]), "--version"]).splitlines()[0],
        },
    )


def explain_rustavailable(output: str) -> str:
    """Turn the kernel's `rustavailable` failure text into the package that fixes it."""
    hints = [
        ("libclang", "libclang"),
        ("bindgen", "bindgen"),
        ("standard library", "rust-src"),
        ("Rust compiler", "rustc"),
    ]
    for needle, tool in hints:
        if needle.lower() in output.lower():
            return f"{output.strip()}\n=> Install: {distro.install_hint(tool)}"
    return output.strip()


def check_rustavailable(make_argv: list[str], toolchain: Toolchain) -> None:
    """Run the kernel's own check in a configured tree; raise with a package hint on failure."""
    result = subprocess.run(
        [*make_argv, *toolchain.make_vars(), "rustavailable"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise ToolchainError(
            "the kernel's Rust check (make rustavailable) failed:\n"
            + explain_rustavailable(result.stdout + result.stderr)
        )
