"""Install what the build and the tests need, and nothing that is already there.

Idempotent and quick when nothing is missing (one dpkg-query, a few stat calls).  Three kinds of
dependency: Debian packages (apt-get, as root; otherwise the exact command is printed), Rust
tools from crates.io (cargo install into the per-user cache), and the Python venv.

Run before the venv exists: `PYTHONPATH=src python3 -m printerfact.host.provision`.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from . import distro, paths, progress, toolchain


class ProvisionError(RuntimeError):
    pass


@dataclass(frozen=True)
class CargoTool:
    crate: str
    version: str
    binary: str

    @property
    def path(self) -> Path:
        return paths.cargo_tool(self.crate, self.version, self.binary)


BINDGEN = CargoTool("bindgen-cli", distro.BINDGEN_CARGO_VERSION, "bindgen")
# Nix linter and formatter for the static checks of the Nix layer.  (statix is not on
# crates.io: the crate of that name is unrelated, so it runs only where it is on PATH.)
NIX_TOOLS = (
    CargoTool("deadnix", "1.3.1", "deadnix"),
    CargoTool("nixpkgs-fmt", "1.3.0", "nixpkgs-fmt"),
)

VENV = paths.REPO_ROOT / ".venv"
VENV_STAMP = VENV / ".provisioned"


# Only the Nix checks of the test suite use these; the main job does without.
NIX_PACKAGES = frozenset({distro.COMMON_PACKAGES["nix-instantiate"]})


def debian_packages(release: str, nix_tools: bool = True) -> list[str]:
    rust = distro.RUST_PACKAGES[release]
    common = set(distro.COMMON_PACKAGES.values()) - (set() if nix_tools else NIX_PACKAGES)
    pkgs = common | {rust[t] for t in ("rustc", "rust-src", "clippy-driver", "rustfmt")}
    if "bindgen" in rust:
        pkgs.add(rust["bindgen"])
    if not shutil.which("cargo"):
        pkgs.add(rust["cargo"])
    if subprocess.run([sys.executable, "-c", "import ensurepip"], capture_output=True).returncode:
        pkgs.add("python3-venv")
    return sorted(pkgs)


def missing_packages(pkgs: list[str]) -> list[str]:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package}\t${db:Status-Status}\n", *pkgs],
        capture_output=True,
        text=True,
    ).stdout
    installed = {line.split("\t")[0] for line in out.splitlines() if line.endswith("\tinstalled")}
    return [p for p in pkgs if p not in installed]


def install_packages(missing: list[str]) -> None:
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    if os.geteuid() != 0:
        raise ProvisionError(
            "missing Debian packages; run as root:\n  apt-get update && " + " ".join(cmd)
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"provision: apt-get install {' '.join(missing)}", file=sys.stderr)
    logs = paths.cache_root() / "logs"
    update = ["apt-get", "update", "-q"]
    label = "provision: apt-get"
    progress.run_logged(update, env=env, log=logs / "apt-get-update.log", label=f"{label} update",
                        unit=None)  # fmt: skip
    progress.run_logged(cmd, env=env, log=logs / "apt-get-install.log", label=f"{label} install",
                        unit=None)  # fmt: skip


def system_bindgen_ok() -> bool:
    try:
        found = toolchain.find_bindgen()
    except toolchain.ToolchainError:
        return False
    return found != BINDGEN.path


def install_cargo_tool(tool: CargoTool) -> None:
    """cargo install into a temporary prefix, renamed into place: never a half-installed tool."""
    prefix = tool.path.parents[1]
    tmp = prefix.with_name(prefix.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    argv = [
        "cargo",
        "install",
        "--locked",
        "--root",
        str(tmp),
        tool.crate,
        "--version",
        tool.version,
    ]
    try:
        progress.run_logged(
            argv,
            log=paths.cache_root() / "logs" / f"cargo-install-{tool.crate}.log",
            label=f"provision: cargo install {tool.crate} {tool.version}",
            unit=None,
        )
    except progress.BuildError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(prefix, ignore_errors=True)
    tmp.rename(prefix)


def venv_stamp() -> str:
    """What the venv was made from: the dependencies and the interpreter that made it."""
    h = hashlib.sha256((paths.REPO_ROOT / "pyproject.toml").read_bytes())
    h.update(f"{sys.executable}\n{sys.version}".encode())
    return h.hexdigest()


def venv_works() -> bool:
    python = VENV / "bin/python"
    return python.is_file() and subprocess.run([str(python), "-c", ""]).returncode == 0


def ensure_venv() -> None:
    if VENV_STAMP.is_file() and VENV_STAMP.read_text() == venv_stamp() and venv_works():
        return
    print("provision: creating the Python venv (.venv)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    progress.run_logged(
        [str(VENV / "bin/pip"), "install", "-e", f"{paths.REPO_ROOT}[test,repl]"],
        log=paths.cache_root() / "logs" / "pip-install.log",
        label="provision: pip install (the venv's packages)",
        unit=None,
    )
    VENV_STAMP.write_text(venv_stamp())


def missing_python_packages(names: Sequence[str]) -> list[str]:
    """The PyPI distributions among `names` that this interpreter cannot import from."""
    missing = []
    for name in names:
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def ensure_python_packages(names: Sequence[str]) -> None:
    """A test's `extraPythonPackages`, installed into the running venv (pip's cache keeps the
    downloads; what is installed stays installed, so a second run checks and returns)."""
    missing = missing_python_packages(names)
    if not missing:
        return
    if sys.prefix == sys.base_prefix:
        raise ProvisionError(
            f"extraPythonPackages {', '.join(missing)} are not installed and this Python is"
            " no venv: run the runner from the project's venv (.venv/bin/printerfact)"
        )
    try:
        progress.run_logged(
            [sys.executable, "-m", "pip", "install", *missing],
            log=paths.cache_root() / "logs" / "pip-install-extra.log",
            label=f"provision: pip install {' '.join(missing)} (extraPythonPackages)",
            unit=None,
        )
    except progress.BuildError as e:
        raise ProvisionError(f"cannot install extraPythonPackages {missing}: {e}") from e
    importlib.invalidate_caches()


def provision(*, nix_tools: bool = True) -> None:
    release = distro.codename()
    missing = missing_packages(debian_packages(release, nix_tools))
    if missing:
        install_packages(missing)
    tools = [t for t in NIX_TOOLS if nix_tools]
    if not system_bindgen_ok():
        tools.insert(0, BINDGEN)
    for tool in tools:
        if not tool.path.is_file():
            install_cargo_tool(tool)
    ensure_venv()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-nix-tools",
        action="store_true",
        help="skip nix-bin, deadnix and nixpkgs-fmt (only the Nix checks need them)",
    )
    args = parser.parse_args(argv)
    try:
        provision(nix_tools=not args.no_nix_tools)
    except (ProvisionError, progress.BuildError, subprocess.CalledProcessError) as e:
        print(f"provision: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
