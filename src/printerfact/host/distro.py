"""Which Debian package provides what, for the releases the portable build supports.

One table, read by provisioning (what to install) and by the toolchain check (what to tell the
user when a piece is missing), so the two cannot disagree.
"""

from __future__ import annotations

from pathlib import Path

# Debian 12 ships its current Rust as the *-web packages (from bookworm-security); Debian 13's
# plain packages are new enough, and its bindgen (0.71) passes the kernel's minimum (0.65.1).
RUST_PACKAGES = {
    "bookworm": {
        "rustc": "rustc-web",
        "rust-src": "rust-web-src",
        "cargo": "cargo-web",
        "clippy-driver": "rust-web-clippy",
        "rustfmt": "rustfmt-web",
    },
    "trixie": {
        "rustc": "rustc",
        "rust-src": "rust-src",
        "cargo": "cargo",
        "clippy-driver": "rust-clippy",
        "rustfmt": "rustfmt",
        "bindgen": "bindgen",
    },
}

# tool (a command, or a header/library the build needs) -> Debian package, same on 12 and 13
COMMON_PACKAGES = {
    "clang": "clang",
    "ld.lld": "lld",
    "llvm-ar": "llvm",
    "libclang": "libclang-dev",
    "flex": "flex",
    "bison": "bison",
    "bc": "bc",
    "gelf.h": "libelf-dev",
    "openssl/opensslv.h": "libssl-dev",
    "cpio": "cpio",
    "pahole": "dwarves",
    "xz": "xz-utils",
    "make": "make",
    "busybox": "busybox-static",
    "bash-static": "bash-static",  # the guest's /bin/bash (and /bin/sh, as on NixOS)
    "mkfs.ext4": "e2fsprogs",  # formats each node's persistent disk
    "qemu-system-x86_64": "qemu-system-x86",
    "nix-instantiate": "nix-bin",
    "modinfo": "kmod",
    "linux-source-6.12": "linux-source-6.12",
    "gdb": "gdb",  # printerfact run --gdb, and its VM test (debugging/gdb.py)
    # node packages (tests.toml `packages`), copied with their libraries into those nodes only
    "trinity": "trinity",
    "stress-ng": "stress-ng",
}

SUPPORTED = tuple(RUST_PACKAGES)
# Where a release has no bindgen package (Debian 12), provisioning cargo-installs this version.
BINDGEN_CARGO_VERSION = "0.71.1"


def codename(os_release: Path = Path("/etc/os-release")) -> str:
    """The Debian codename; unknown releases are treated as the newest supported one."""
    try:
        fields = dict(
            line.split("=", 1) for line in os_release.read_text().splitlines() if "=" in line
        )
    except OSError:
        return SUPPORTED[-1]
    name = fields.get("VERSION_CODENAME", "").strip('"')
    return name if name in RUST_PACKAGES else SUPPORTED[-1]


def package_for(tool: str, release: str | None = None) -> str:
    """The Debian package that provides `tool` on `release` (default: this machine's)."""
    rust = RUST_PACKAGES[release or codename()]
    if tool in rust:
        return rust[tool]
    return COMMON_PACKAGES[tool]


def install_hint(tool: str, release: str | None = None) -> str:
    if tool == "bindgen" and tool not in RUST_PACKAGES[release or codename()]:
        return (
            f"cargo install --locked bindgen-cli --version {BINDGEN_CARGO_VERSION}"
            " (or run `make build`)"
        )
    return f"apt-get install {package_for(tool, release)}"
