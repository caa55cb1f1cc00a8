"""release.nix as Hydra meets it: restricted evaluation with jobset inputs, the job set, and
the JUnit job's output as Hydra reads it (nix-support/hydra-build-products).

Hydra's side is modelled here in Python (it is C++): hydra_products() follows
src/hydra-queue-runner/build-result.cc (NixOS/hydra), which silently drops a product whose
file does not exist.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from nixeval import MODELS, REPO, NixError, nix_eval

SPEC = REPO / ".hydra" / "spec.json"
SOURCES = json.loads((REPO / "nix" / "sources.json").read_text())


@pytest.fixture(scope="module")
def linux(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("src") / f"linux-{SOURCES['linux']['version']}.tar.xz"
    path.write_text("not a tarball")
    return path


def hydra_inputs() -> str:
    """The arguments Hydra passes for the jobset inputs (hydra's buildInputToString): a git
    input as { outPath = <store path>; rev = ...; }."""
    return (
        f'{{ nixpkgs = {{ outPath = {MODELS}/nixpkgs; rev = "{SOURCES["nixpkgs"]["rev"]}"; }}; }}'
    )


# Walk the jobs as `nix-build release.nix` and hydra-eval-jobs do: derivations are jobs, other
# attribute sets are entered when they ask for it (recurseForDerivations).
JOBS = """let
  jobs = prefix: set: builtins.concatLists (map (name:
    let v = set.${name}; path = prefix + name; in
    if v.type or null == "derivation" then [ { name = path; drv = v.drvPath; } ]
    else if builtins.isAttrs v && v.recurseForDerivations or false then jobs (path + ".") v
    else [ ]) (builtins.attrNames set));
in jobs "" RELEASE"""


def test_release_evaluates_in_restricted_mode_with_jobset_inputs() -> None:
    """With nixpkgs as the jobset input nothing is fetched during evaluation (Linux is a
    fixed-output derivation, fetched at build time), so Hydra's restricted evaluation accepts
    every job (defect 4; issue 18, item 6)."""
    release = f"(import {REPO}/release.nix {hydra_inputs()})"
    jobs = nix_eval(JOBS.replace("RELEASE", release), restrict_to=[REPO, MODELS])
    assert isinstance(jobs, list)
    names = sorted(j["name"] for j in jobs)
    tests = _test_names()
    assert names == sorted(
        [
            "kernel",
            "printerfact",
            "prebuilt-printerfact",
            "rustcNightly",
            "debug.kernel",
            "debug.printerfact",
        ]
        + [f"tests.{t}" for t in tests]
        + [f"debug.tests.{t}" for t in tests]
    )
    assert all(j["drv"].endswith(".drv") for j in jobs)


def test_release_defaults_are_the_pins_and_fetch() -> None:
    """Without inputs the defaults are the niv pins, fetched at evaluation: refused by
    restricted evaluation unless the hosts are allowed (what the inputs avoid)."""
    with pytest.raises(
        NixError, match=f"access to URI '{re.escape(SOURCES['nixpkgs']['url'])}' is forbidden"
    ):
        nix_eval(f"(import {REPO}/release.nix {{ }}).kernel.drvPath", restrict_to=[REPO, MODELS])


def test_release_fetches_linux_at_build_time_by_the_pinned_hash() -> None:
    """The kernel's source is a fixed-output derivation with the pin's URL and hash: Hydra's
    store keeps it by hash, so the tarball is downloaded once per version, not at every
    evaluation as a `path` input pointing at a URL is (Hydra's PathInput.pm)."""
    src = nix_eval(
        f"""let k = (import {REPO}/release.nix {hydra_inputs()}).kernel; in {{
          inherit (k.src) urls outputHash outputHashMode outputHashAlgo name;
          version = k.version;
          debugSameSrc = (import {REPO}/release.nix {hydra_inputs()}).debug.kernel.src.drvPath
            == k.src.drvPath;
        }}""",
        restrict_to=[REPO, MODELS],
    )
    pin = SOURCES["linux"]
    assert src == {
        "urls": [pin["url"]],
        "outputHash": pin["sha256"],
        "outputHashMode": "flat",
        "outputHashAlgo": "sha256",
        "name": f"linux-{pin['version']}.tar.xz",
        "version": pin["version"],
        "debugSameSrc": True,
    }


def test_release_takes_a_local_linux_tree(linux: Path) -> None:
    """`--arg linux <path> --argstr linuxVersion <v>` still builds another source."""
    result = nix_eval(
        f"""let k = (import {REPO}/release.nix ({hydra_inputs()} // {{
              linux = {linux}; linuxVersion = "6.12.200"; }})).kernel; in
        {{ src = toString k.src; inherit (k) version; }}""",
        restrict_to=[REPO, MODELS, linux.parent],
    )
    assert result == {"src": str(linux), "version": "6.12.200"}


def _test_names() -> list[str]:
    return sorted(tomllib.loads((REPO / "testscripts" / "tests.toml").read_text())["tests"])


def test_hydra_spec_declares_release_nix_inputs() -> None:
    """.hydra/spec.json: a static declarative project (a dict of jobset dicts) whose inputs
    are release.nix's arguments, at the pins of nix/sources.json."""
    spec = json.loads(SPEC.read_text())
    assert all(isinstance(v, dict) for v in spec.values())  # static, per Hydra's manual
    jobset = spec["printerfact"]
    assert (jobset["nixexprinput"], jobset["nixexprpath"]) == ("src", "release.nix")
    inputs = jobset["inputs"]
    args = nix_eval(f"builtins.functionArgs (import {REPO}/release.nix)")
    assert isinstance(args, dict)
    assert set(inputs) - {"src"} <= set(args) and all(args.values())
    url, branch = inputs["nixpkgs"]["value"].split()
    assert (inputs["nixpkgs"]["type"], url) == ("git", "https://github.com/NixOS/nixpkgs")
    assert branch == SOURCES["nixpkgs"]["branch"]
    # Only nixpkgs besides src: Linux comes from the pin as a fixed-output derivation, not as a
    # `path` input that Hydra would download again at every evaluation.
    assert set(inputs) == {"src", "nixpkgs"}
    for field in (
        "enabled",
        "hidden",
        "description",
        "checkinterval",
        "schedulingshares",
        "keepnr",
    ):
        assert field in jobset, field


# --- the JUnit job ---------------------------------------------------------------------------


@dataclass
class Product:
    type: str
    subtype: str
    path: str


# build-result.cc: "type subtype path [default-path]"; the path must be absolute, in the store
# (here: under the output) and exist, or the line is skipped without a word.
PRODUCT = re.compile(r'([a-zA-Z0-9_-]+)\s+([a-zA-Z0-9_-]+)\s+("[^"]+"|[^\s<>"]+)(\s+([^\s<>]+))?')


def hydra_products(out: Path) -> tuple[list[Product], list[str], bool]:
    """(products Hydra keeps, lines it drops, failed) for the output `out`."""
    kept: list[Product] = []
    dropped: list[str] = []
    products_file = out / "nix-support" / "hydra-build-products"
    lines = products_file.read_text().splitlines() if products_file.is_file() else []
    for line in lines:
        m = PRODUCT.fullmatch(line)
        path = m[3].strip('"') if m else ""
        if m and path.startswith(str(out)) and os.path.lexists(path):
            kept.append(Product(m[1], m[2], path))
        else:
            dropped.append(line)
    return kept, dropped, (out / "nix-support" / "failed").exists()


FAKE_DRIVER = """#!/bin/bash
# nixos-test-driver -o DIR --junit-xml FILE, as nixpkgs' test driver takes them.
while [ $# -gt 0 ]; do
  case "$1" in -o) out=$2; shift 2 ;; --junit-xml) junit=$2; shift 2 ;; *) shift ;; esac
done
case "$MODE" in
  pass) echo "$REPORT" > "$out/$junit" ;;
  fail) echo "$REPORT" > "$out/$junit"; exit 1 ;;
  # driver.py terminate_test: SIGTERM to itself; the atexit JUnit writer never runs.
  timeout) kill -TERM $$ ;;
esac
"""


@pytest.fixture(scope="module")
def junit_job(linux: Path) -> dict[str, object]:
    """The network test's JUnit job: its build script and environment, from release.nix with
    its defaults (the pins, replaced by the models and a stand-in tarball, NIV_OVERRIDE_*)."""
    job = nix_eval(
        f"""let j = (import {REPO}/release.nix {{ }}).tests.network; in {{
          script = j.buildCommand;
          env = {{ testName = j.testName or ""; globalTimeout = j.globalTimeout or ""; }};
        }}""",
        env={"NIV_OVERRIDE_nixpkgs": str(MODELS / "nixpkgs"), "NIV_OVERRIDE_linux": str(linux)},
    )
    assert isinstance(job, dict)
    driver = re.search(
        r"(/nix/store/[a-z0-9]{32}-nixos-test-driver-[^/\s]+)/bin/nixos-test-driver", job["script"]
    )
    assert driver, "the job does not run the test's driver"
    return {**job, "driver": driver[1]}


@pytest.mark.parametrize(
    "mode, status, message",
    [("pass", None, None), ("fail", "1", None), ("timeout", "143", "timed out")],
)
def test_junit_job_lists_only_reports_that_exist(
    junit_job: dict[str, str], tmp_path: Path, mode: str, status: str | None, message: str | None
) -> None:
    """Whatever the driver does, Hydra finds the JUnit report it is pointed at; on a global
    timeout (SIGTERM, no atexit) the report says the test timed out (defect 6)."""
    driver = tmp_path / "driver"
    (driver / "bin").mkdir(parents=True)
    fake = driver / "bin" / "nixos-test-driver"
    fake.write_text(FAKE_DRIVER)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    out = tmp_path / "out"
    script = junit_job["script"].replace(junit_job["driver"], str(driver))
    env = {
        "PATH": os.environ["PATH"],
        "out": str(out),
        "MODE": mode,
        "REPORT": '<testsuites><testsuite name="NixOS integration test"/></testsuites>',
        **junit_job["env"],  # type: ignore[dict-item]
    }
    # stdenv runs buildCommand under `set -eu -o pipefail` (pkgs/stdenv/generic/setup.sh).
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    kept, dropped, failed = hydra_products(out)
    assert dropped == [], f"Hydra would drop: {dropped}"
    assert [(p.type, p.subtype, Path(p.path).name) for p in kept] == [
        ("file", "junit", "junit.xml")
    ]
    assert failed == (status is not None)
    if status is not None:
        assert (out / "nix-support" / "failed").read_text().strip() == status
    report = ET.parse(out / "junit.xml").getroot()
    if message is not None:
        errors = report.findall(".//testcase/error")
        assert len(errors) == 1 and message in errors[0].attrib["message"]
        testcase = report.find(".//testcase")
        assert testcase is not None and testcase.attrib["name"] == "printerfact-network"
        assert "3600 s" in errors[0].attrib["message"]


def test_hydra_products_model() -> None:
    """The model drops what Hydra drops: relative paths, paths outside the output, missing files."""
    out = Path("/nonexistent/out")
    assert PRODUCT.fullmatch("file junit /nix/store/x-out/junit.xml")
    assert not PRODUCT.fullmatch("file junit")
    kept, dropped, failed = hydra_products(out)
    assert (kept, dropped, failed) == ([], [], False)
