"""Evaluating the project's Nix here, without nixpkgs: `nix-instantiate` against the models.

tests/nix/models/ holds models of the nixpkgs (and NixOS) code the project's Nix meets, each
citing the nixpkgs file it stands for.  The project is evaluated through them as it would be
through nixpkgs: `import ./default.nix { pkgs = <model nixpkgs>; sources = ...; }`.

PRINTERFACT_NIX_REPO points the tests at another checkout (e.g. the tree before a fix, to show
that a test catches the defect); the models always come from this checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

THIS_REPO = Path(__file__).resolve().parents[2]
REPO = Path(os.environ.get("PRINTERFACT_NIX_REPO") or THIS_REPO).resolve()
MODELS = THIS_REPO / "tests" / "nix" / "models"


class NixError(Exception):
    pass


def nix_instantiate() -> str:
    path = shutil.which("nix-instantiate")
    if path is None:
        pytest.fail("nix-instantiate is missing: apt-get install -y nix-bin")
    return path


def nix_eval(
    expr: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
    restrict_to: list[Path] | None = None,
    strict: bool = True,
) -> object:
    """Evaluate `expr` to JSON; NixError with Nix's message on failure.

    restrict_to: evaluate as Hydra does (restrict-eval), allowing only these paths; any fetch
    of a URL is then an error.
    """
    args = [nix_instantiate(), "--eval", "--json", "--expr", expr]
    if strict:
        args.insert(2, "--strict")
    if restrict_to is not None:
        args += ["--option", "restrict-eval", "true"]
        for path in restrict_to:
            args += ["-I", str(path)]
    proc = subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise NixError("\n".join(line for line in proc.stderr.splitlines() if "nixbld" not in line))
    return json.loads(proc.stdout)


def nix_string(value: str) -> str:
    """A Nix string literal."""
    return json.dumps(value).replace("${", "\\${")


# The project through the models.  `linux` stands in for the pinned tarball (never fetched).
PKGS = f"(import {MODELS}/nixpkgs {{ }})"
# The Linux version of the pin (nix/sources.json of the checkout under test).
LINUX_VERSION: str = json.loads((REPO / "nix" / "sources.json").read_text())["linux"]["version"]


def sources_expr(linux: Path, repo: Path = REPO) -> str:
    return (
        f"((import {repo}/nix/sources.nix) // "
        f'{{ linux = {{ version = "{LINUX_VERSION}"; outPath = {linux}; }}; }})'
    )


def project_expr(linux: Path, repo: Path = REPO, pkgs: str = PKGS) -> str:
    return (
        f"(import {repo}/default.nix {{ pkgs = {pkgs}; sources = {sources_expr(linux, repo)}; }})"
    )


def instantiate(file: Path, args: dict[str, str], store: Path, cwd: Path = REPO) -> list[str]:
    """The derivations `nix-build FILE` / `nix-shell FILE` would take, by store path name.

    Plain `nix-instantiate` selects them with Nix's own getDerivations (src/libexpr/get-drvs.cc),
    as nix-build and nix-shell do: every derivation at the top level, nested attribute sets only
    when they set recurseForDerivations.  `args` are `--arg`s (Nix expressions).  The .drv files
    go to a throwaway local store (`--store`), so no writable /nix/store is needed.
    """
    argv = [nix_instantiate(), "--store", str(store), str(file)]
    for name, value in args.items():
        argv += ["--arg", name, value]
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise NixError("\n".join(line for line in proc.stderr.splitlines() if "nixbld" not in line))
    return [
        line.split("-", 1)[1].removesuffix(".drv")
        for line in proc.stdout.splitlines()
        if line.startswith("/nix/store/")
    ]
