"""Contract tests: the project's Nix evaluated through models of the nixpkgs side of each seam.

Each test evaluates default.nix / test.nix / kernel.nix with `nix-instantiate` against
tests/nix/models (nixpkgs' lib, buildLinux, linuxPackagesFor, runNixOSTest, NixOS's node
evaluation, each citing its nixpkgs file) and asserts what nixpkgs would then do.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from nixeval import (
    LINUX_VERSION,
    MODELS,
    PKGS,
    REPO,
    NixError,
    instantiate,
    nix_eval,
    nix_string,
    project_expr,
    sources_expr,
)

from printerfact.nodes import load_tests, to_json_model

TESTS_TOML = REPO / "testscripts" / "tests.toml"
GUARD = REPO / "testscripts" / "kernel_log_guard.py"
FRAGMENTS = {
    "default": [REPO / "kernel" / "printerfact.config"],
    "debug": [REPO / "kernel" / "printerfact.config", REPO / "kernel" / "debug.config"],
}
TEST_NAMES = sorted(tomllib.loads(TESTS_TOML.read_text())["tests"])


@pytest.fixture(scope="module")
def linux(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stands in for the pinned Linux tarball (nothing is fetched or built)."""
    path = tmp_path_factory.mktemp("src") / f"linux-{LINUX_VERSION}.tar.xz"
    path.write_text("not a tarball")
    return path


def ev(linux: Path, body: str, **kw: object) -> object:
    """Evaluate `body` with `project`, `pkgs` and `lib` in scope."""
    return nix_eval(
        f"let pkgs = {PKGS}; lib = pkgs.lib; project = {project_expr(linux, pkgs='pkgs')}; "
        f"in {body}",
        **kw,  # type: ignore[arg-type]
    )


def parse_fragment(path: Path) -> dict[str, str]:
    options: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if m := re.fullmatch(r"CONFIG_(\w+)=(.*)", line):
            value = m[2][1:-1] if len(m[2]) >= 2 and m[2][0] == m[2][-1] == '"' else m[2]
            options[m[1]] = value
        elif m := re.fullmatch(r"# CONFIG_(\w+) is not set", line):
            options[m[1]] = "n"
    return options


# A NixOS module as a user (or another NixOS module) would add it: a kernel patch with config
# and features, and a kernel feature.
def extra_kernel_config(structured: str = "PRINTERFACT_EXTRA = lib.kernel.yes;") -> str:
    return f"""{{ lib, ... }}: {{
      boot.kernelPatches = [{{
        name = "extra";
        patch = builtins.toFile "extra.patch" "a patch";
        extraStructuredConfig = {{ {structured} }};
        features.extra = true;
      }}];
      boot.kernel.features.other = true;
    }}"""


def node_expr(
    test: str,
    node: str,
    linux_packages: str = "project.linuxPackages",
    extra: str | None = None,
) -> str:
    """One node of `test`, as test.nix builds it, evaluated by the NixOS model with a module
    that adds a kernel patch and a feature (the case where the module could diverge)."""
    return f"""
      (import {MODELS}/nixos.nix {{ inherit lib pkgs; }} {{
        modules = [
          (import {REPO}/nix/nixos-node.nix
            {{ linuxPackages = {linux_packages}; factsFile = {REPO}/module/facts.txt; }}
            (import {REPO}/nix/nodes.nix {TESTS_TOML}).{test}.nodes.{node})
          ({extra or extra_kernel_config()})
        ];
        nodeName = "{node}";
        nodeNumber = {load_tests(TESTS_TOML)[test].node_number(node)};
      }})"""


# --- the repository root: bare nix-build and nix-shell -----------------------------------------


def test_bare_nix_build_builds_the_products(linux: Path, tmp_path: Path) -> None:
    """`nix-build` in the repository root builds the kernel and the module, nothing else (the
    development shell was a top-level derivation beside them)."""
    drvs = instantiate(
        REPO / "default.nix",
        {"pkgs": PKGS, "sources": sources_expr(linux)},
        store=tmp_path / "store",
    )
    assert sorted(drvs) == [f"linux-{LINUX_VERSION}", f"printerfact-0.1.0-{LINUX_VERSION}"]


def test_bare_nix_shell_gets_one_derivation(linux: Path, tmp_path: Path) -> None:
    """A bare `nix-shell` reads shell.nix, or default.nix without one (nix-build.cc), and
    refuses anything but exactly one derivation."""
    shell = REPO / "shell.nix"
    file = shell if shell.is_file() else REPO / "default.nix"
    args = {"pkgs": PKGS, "sources": sources_expr(linux)}
    drvs = instantiate(file, args, store=tmp_path / "store")
    assert drvs == ["printerfact-shell"], "nix-shell requires a single derivation"
    result = ev(
        linux,
        f"""let s = import {shell} {{ inherit pkgs; sources = {sources_expr(linux)}; }};
            k = project.kernel; in {{
          kdir = s.KDIR == "${{k.dev}}/lib/modules/${{k.modDirVersion}}/build";
          rustLibSrc = "${{s.RUST_LIB_SRC}}" == "${{pkgs.rustPlatform.rustLibSrc}}";
          inputs = map (d: d.name) s.nativeBuildInputs;
          deps = map (d: d.name) k.moduleBuildDependencies;
          nightly = s.rustcNightly.name;
        }}""",
    )
    assert isinstance(result, dict)
    assert result["kdir"] and result["rustLibSrc"]
    assert result["inputs"] == ["rustc-nightly-1.86.0", "rust-bindgen-0.71.1", *result["deps"]]
    assert result["nightly"] == "rustc-nightly-1.86.0"


# --- callPackage, makeOverridable and .override ------------------------------------------------


def test_kernel_override_with_nixos_arguments_reaches_buildlinux(linux: Path) -> None:
    """NixOS calls kernel.override (old: { kernelPatches; features; randstructSeed; }) on every
    boot.kernelPackages; callPackage's .override re-calls kernel.nix with them (defect 1)."""
    result = ev(
        linux,
        """let
          patch = { name = "p"; patch = builtins.toFile "p.patch" "x"; features.fromPatch = true; };
          k = project.kernel.override (old: {
            randstructSeed = "seed";
            kernelPatches = (old.kernelPatches or [ ]) ++ [ patch ];
            features = lib.recursiveUpdate project.kernel.features { fromNixos = true; };
          });
        in {
          inherit (k) features randstructSeed;
          patches = map toString k.patches;
          args = builtins.attrNames k.modelArgs;
          differs = k.drvPath != project.kernel.drvPath;
          ignored = k.modelIgnoredArgs;
          again = (k.override (old: { kernelPatches = old.kernelPatches ++ [ ]; })).drvPath
            == k.drvPath;
        }""",
    )
    assert isinstance(result, dict)
    assert result["features"] == {
        "efiBootStub": True,
        "ia32Emulation": True,
        "netfilterRPFilter": True,
        "fromNixos": True,
        "fromPatch": True,
    }
    assert result["randstructSeed"] == "seed"
    # nixpkgs' two standard patches, then the one NixOS added.
    assert len(result["patches"]) == 3 and result["patches"][2].endswith("-p.patch")
    assert {"kernelPatches", "features", "randstructSeed"} <= set(result["args"])
    assert result["differs"] and result["again"]
    assert result["ignored"] == []  # buildLinux has `...`: a misspelt argument would vanish


def test_kernel_override_of_its_own_arguments(linux: Path) -> None:
    result = ev(
        linux,
        f"""let
          k = project.kernel.override {{
            configFragments = [ {FRAGMENTS["debug"][0]} {FRAGMENTS["debug"][1]} ];
          }};
        in {{
          same = k.drvPath == project.debug.kernel.drvPath;
          lockdep = k.configfile.structuredConfig.PROVE_LOCKING.tristate;
        }}""",
    )
    assert result == {"same": True, "lockdep": "y"}


def test_callpackage_supplies_kernel_nix_arguments(linux: Path) -> None:
    """kernel.nix asks only for what pkgs has (lib, buildLinux) beyond its defaults."""
    args = nix_eval(f"builtins.functionArgs (import {REPO}/kernel.nix)")
    assert args == {"lib": False, "buildLinux": False, "sources": True, "configFragments": True}
    assert ev(linux, 'builtins.all (n: pkgs ? ${n}) [ "lib" "buildLinux" ]') is True


# --- the debug kernel's claims (docs/nix-api.md) ------------------------------------------------

CLAIM_ROW = re.compile(r"^\| `([A-Z0-9_]+)` \| ([^ |]+) \| ([^ |]+) \|", re.M)


def debug_claims() -> dict[str, tuple[str, str]]:
    """docs/nix-api.md, "What the debug kernel has, on each path": option -> (Nix, portable)."""
    doc = (REPO / "docs" / "nix-api.md").read_text()
    _, found, rest = doc.partition("### What the debug kernel has, on each path")
    section = rest.split("\n#", 1)[0] if found else ""
    return {m[1]: (m[2], m[3]) for m in CLAIM_ROW.finditer(section)}


def test_debug_kernel_claims_hold_on_nix(linux: Path) -> None:
    """Every option of kernel/debug.config is claimed in the docs, and the Nix debug kernel is
    asked for exactly the claimed value after nixpkgs' common config is merged in (a plain
    "not set" claim must be an explicit answer, unless the option is one the filter drops)."""
    claims = debug_claims()
    debug_fragment = parse_fragment(REPO / "kernel" / "debug.config")
    assert set(debug_fragment) <= set(claims), "options of debug.config missing from the docs"
    result = ev(
        linux,
        f"""let
          k = project.debug.kernel;
          policy = import {REPO}/nix/kconfig-nixpkgs.nix {{ inherit (k) version; }} (builtins.foldl'
            (a: f: a // import {REPO}/nix/kconfig.nix f) {{ }}
            [ {" ".join(map(str, FRAGMENTS["debug"]))} ]);
        in {{
          settings = builtins.mapAttrs
            (_: s: if s.tristate != null then s.tristate else s.freeform)
            k.configfile.structuredConfig;
          inherit (policy) dropped;
          errors = k.configfile.modelGenerateConfig.errors;
        }}""",
    )
    assert isinstance(result, dict)
    settings, dropped = result["settings"], result["dropped"]
    wrong = {}
    for name, (nix, _) in claims.items():
        got = settings.get(name)
        ok = got == nix or (nix == "n" and got is None and name in dropped)
        if not ok:
            wrong[name] = (nix, got)
    assert wrong == {}, "Nix debug kernel: option -> (claimed, asked of buildLinux)"
    assert result["errors"] == []
    # The portable column is what the portable flavour's fragments ask for.
    portable: dict[str, str] = {}
    for fragment in ("printerfact.config", "portable-boot.config", "debug.config"):
        portable |= parse_fragment(REPO / "kernel" / fragment)
    assert {n: c[1] for n, c in claims.items()} == {n: portable.get(n) for n in claims}


# --- nixpkgs' standard kernel patches ----------------------------------------------------------


@pytest.mark.parametrize("attr", ["project.kernel", "project.debug.kernel"])
def test_kernel_gets_nixpkgs_standard_patches(linux: Path, attr: str) -> None:
    """pkgs/top-level/linux-kernels.nix gives every mainline kernel bridge_stp_helper and
    request_key_helper (helper paths NixOS has); the project's kernels get the same two, the
    very attribute sets of pkgs.linuxKernel.kernelPatches, as nixpkgs' own 6.12 does."""
    result = ev(
        linux,
        f"""let k = {attr}; std = pkgs.linuxKernel.kernelPatches; in {{
          names = map (p: p.name) k.kernelPatches;
          same = k.kernelPatches == [ std.bridge_stp_helper std.request_key_helper ];
          asNixpkgs = map (p: p.name) pkgs.linuxPackages_6_12.kernel.kernelPatches;
          files = map toString k.patches;
        }}""",
    )
    assert isinstance(result, dict)
    assert result["names"] == ["bridge-stp-helper", "request-key-helper"] == result["asNixpkgs"]
    assert result["same"] is True
    assert [Path(f).name.split("-", 1)[1] for f in result["files"]] == [
        "bridge-stp-helper.patch",
        "request-key-helper.patch",
    ]


# --- buildLinux: arguments and passthru ------------------------------------------------------


@pytest.mark.parametrize("flavour", ["default", "debug"])
def test_buildlinux_arguments_from_the_fragments(linux: Path, flavour: str) -> None:
    attr = "project.kernel" if flavour == "default" else "project.debug.kernel"
    fragments = " ".join(map(str, FRAGMENTS[flavour]))
    result = ev(
        linux,
        f"""let
          k = {attr};
          policy = import {REPO}/nix/kconfig-nixpkgs.nix {{ inherit (k) version; }} (builtins.foldl'
            (a: f: a // import {REPO}/nix/kconfig.nix f) {{ }} [ {fragments} ]);
        in {{
          inherit (k.modelArgs) version modDirVersion extraMeta;
          src = toString k.modelArgs.src;
          config = k.modelArgs.structuredExtraConfig;
          inherit (policy) dropped;
          withdrawn = policy.withdrawn or {{ }};
          generate = k.configfile.modelGenerateConfig;
          configDrv = k.configfile.drvPath;
        }}""",
    )
    assert isinstance(result, dict)
    pin = json.loads((REPO / "nix" / "sources.json").read_text())["linux"]
    assert result["version"] == result["modDirVersion"] == pin["version"] == LINUX_VERSION
    assert result["src"] == str(linux)
    assert result["extraMeta"] == {"branch": "6.12"}
    merged: dict[str, str] = {}
    for fragment in FRAGMENTS[flavour]:
        merged |= parse_fragment(fragment)
    expected = {k: v for k, v in merged.items() if k not in result["dropped"]}
    assert set(result["config"]) == set(expected) | set(result["withdrawn"])
    for name in result["withdrawn"]:  # lib.mkForce lib.kernel.unset: no answer at all
        assert result["config"][name]["content"] == {"tristate": None, "optional": False}, name
    for name, value in expected.items():
        item = result["config"][name]
        assert item["_type"] == "override" and item["priority"] == 50, name  # lib.mkForce
        key = "tristate" if value in ("y", "m", "n") else "freeform"
        assert item["content"][key] == value, name
    # generate-config.pl (model) would accept every answer: nothing the build cannot honour.
    assert result["generate"]["errors"] == []
    assert result["generate"]["rust"] is True


def test_buildlinux_passthru_used_by_the_module(linux: Path) -> None:
    result = ev(
        linux,
        """let k = project.kernel; m = project.printerfact; in {
          withRust = k.withRust;
          deps = map (d: d.name) k.moduleBuildDependencies;
          nativeBuildInputs = map (d: d.name) m.nativeBuildInputs;
          kdir = builtins.elem "KDIR=${k.dev}/lib/modules/${k.modDirVersion}/build" m.makeFlags;
          broken = m.meta.broken;
          featuresForNixos = builtins.attrNames k.features;
          outputs = k.outputs;
        }""",
    )
    assert isinstance(result, dict)
    assert result["withRust"] is True and result["broken"] is False
    assert {"rustc-wrapper-1.86.0", "rust-bindgen-0.71.1"} <= set(result["deps"])
    assert result["nativeBuildInputs"] == result["deps"]
    assert result["kdir"] is True
    assert result["outputs"] == ["out", "dev"]
    assert "efiBootStub" in result["featuresForNixos"]


FORCED_OFF = extra_kernel_config("PRINTERFACT_EXTRA = lib.kernel.yes; MODULES = lib.kernel.no;")


def test_fragment_wins_over_kernel_patch_config(linux: Path) -> None:
    """mkForce: a boot.kernelPatches extraStructuredConfig (a plain definition) cannot switch
    off what the fragment asks for, and adds what the fragment does not set."""
    result = ev(
        linux,
        f"""let
          n = {node_expr("printerfact", "machine", extra=FORCED_OFF)};
          s = n.config.boot.kernelPackages.kernel.configfile.structuredConfig;
        in {{ modules = s.MODULES.tristate; extra = s.PRINTERFACT_EXTRA.tristate; }}""",
    )
    assert result == {"modules": "y", "extra": "y"}


# --- the boot.kernelPackages apply of nixos/modules/system/boot/kernel.nix -------------------


@pytest.mark.parametrize(
    "test, node", [(t, n.name) for t in TEST_NAMES for n in load_tests(TESTS_TOML)[t].nodes]
)
def test_nixos_boots_the_kernel_the_module_was_built_for(linux: Path, test: str, node: str) -> None:
    """NixOS's override applies boot.kernelPatches and features, and the module in
    boot.extraModulePackages is built against that kernel, the one that boots (defects 1, 2)."""
    result = ev(
        linux,
        f"""let
          n = {node_expr(test, node)};
          k = n.config.boot.kernelPackages.kernel;
          m = builtins.head n.config.boot.extraModulePackages;
          kdir = kernel: "KDIR=${{kernel.dev}}/lib/modules/${{kernel.modDirVersion}}/build";
        in {{
          patches = map (p: p.name) k.kernelPatches;
          patchFiles = builtins.length k.patches;
          features = {{ inherit (k.features) extra other; }};
          booted = n.toplevel.kernel.outPath == k.outPath;
          moduleForBooted = builtins.elem (kdir k) m.makeFlags;
          moduleForUnpatched = builtins.elem (kdir project.kernel) m.makeFlags;
          system = n.toplevel.drvPath;
        }}""",
    )
    assert isinstance(result, dict)
    # nixpkgs' two standard patches first (as for every mainline kernel), then boot.kernelPatches.
    assert result["patches"] == ["bridge-stp-helper", "request-key-helper", "extra"]
    assert result["patchFiles"] == 3
    assert result["features"] == {"extra": True, "other": True}
    assert result["booted"]
    assert result["moduleForBooted"], (
        "printerfact.ko is built against another kernel than the one booted"
    )
    assert not result["moduleForUnpatched"]


def test_prebuilt_kernel_gets_the_same_treatment(linux: Path) -> None:
    result = ev(
        linux,
        f"""let
          n = {node_expr("printerfact", "machine", "project.prebuilt.linuxPackages")};
          k = n.config.boot.kernelPackages.kernel;
          m = builtins.head n.config.boot.extraModulePackages;
        in {{
          version = k.version;
          patches = builtins.length k.patches;
          moduleForBooted =
            builtins.elem "KDIR=${{k.dev}}/lib/modules/${{k.modDirVersion}}/build" m.makeFlags;
        }}""",
    )
    # nixpkgs' own two patches (bridge_stp_helper, request_key_helper) and the extra one.
    assert result == {"version": "6.12.60", "patches": 3, "moduleForBooted": True}


# --- linuxPackagesFor, extend, kernelModuleMakeFlags -----------------------------------------


def test_extended_package_set_rebuilds_the_module(linux: Path) -> None:
    result = ev(
        linux,
        """let
          other = project.kernel.override {
            structuredExtraConfig.PRINTERFACT_OTHER = lib.kernel.yes;
          };
          dir = "${other.dev}/lib/modules/${other.modDirVersion}/build";
          set = project.linuxPackages.extend (_: _: { kernel = other; });
          flags = set.kernelModuleMakeFlags;
        in {
          kernelIsOther = set.kernel.drvPath == other.drvPath;
          moduleFlags = set.printerfact.makeFlags == flags ++ [ "KDIR=${dir}" ];
          kbuildOutput = builtins.elem "KBUILD_OUTPUT=${dir}" flags;
          commonFirst = builtins.head flags == builtins.head other.commonMakeFlags;
          rebuilt = set.printerfact.drvPath != project.printerfact.drvPath;
        }""",
    )
    assert result == {
        "kernelIsOther": True,
        "moduleFlags": True,
        "kbuildOutput": True,
        "commonFirst": True,
        "rebuilt": True,
    }


# --- nix/module.nix: the module's source --------------------------------------------------------

BUILD_LEFTOVERS = {
    "printerfact.ko": "ELF",
    "printerfact.o": "ELF",
    "printerfact.mod": "",
    "printerfact.mod.c": "/* generated */",
    "printerfact.mod.o": "ELF",
    ".printerfact.ko.cmd": "cmd",
    ".printerfact.o.cmd": "cmd",
    ".module-common.o.cmd": "cmd",
    "Module.symvers": "",
    "modules.order": "printerfact.o",
    "rust-project.json": "{}",
}


def _module_src(repo: Path) -> str:
    result = nix_eval(
        f"""let pkgs = {PKGS}; lib = pkgs.lib; kernel = pkgs.linuxPackages.kernel; in
        (import {repo}/nix/module.nix {{
          inherit lib kernel;
          inherit (pkgs) stdenv;
          kernelModuleMakeFlags = [ ];
        }}).src""",
        cwd=repo,
    )
    assert isinstance(result, str)
    return result


def test_module_source_does_not_depend_on_local_build_state(tmp_path: Path) -> None:
    """Leftovers of a local `make -C module` do not change the source hash (defect 7)."""
    clean = tmp_path / "clean"
    built = tmp_path / "built"
    for tree in (clean, built):
        shutil.copytree(REPO / "nix", tree / "nix")
        shutil.copytree(REPO / "module", tree / "module")
    for name, text in BUILD_LEFTOVERS.items():
        (built / "module" / name).write_text(text)
    # Only what kbuild reads: a README or editor settings do not make a new source either.
    only_sources = tmp_path / "only"
    shutil.copytree(REPO / "nix", only_sources / "nix")
    (only_sources / "module").mkdir()
    for path in (REPO / "module").iterdir():
        if path.name in ("Kbuild", "Makefile", "facts.txt") or path.suffix == ".rs":
            shutil.copy(path, only_sources / "module" / path.name)
    assert _module_src(built) == _module_src(clean) == _module_src(only_sources)


# --- runNixOSTest: arguments, driver, driverInteractive --------------------------------------


def _expected_script(name: str) -> str:
    spec = load_tests(TESTS_TOML)[name]
    full_script = getattr(spec, "full_script", None)
    if full_script is not None:  # the portable runner's own joining
        text: str = full_script()[0]
        return text
    script = spec.script.read_text()
    guard = GUARD.read_text()
    return script + guard if script.endswith("\n") else script + "\n" + guard


@pytest.mark.parametrize("flavour", ["default", "debug", "prebuilt"])
def test_one_nixos_test_per_testscript_with_the_kernel_log_guard(linux: Path, flavour: str) -> None:
    """Every tests.toml entry is a runNixOSTest; its testScript is the script followed by the
    kernel-log guard, in the driver and in driverInteractive (defect 8)."""
    attr = {
        # test.nix itself, as `nix-build test.nix` calls it
        "default": f"(import {REPO}/test.nix {{ inherit pkgs; sources = {{ }}; "
        "linuxPackages = project.linuxPackages; })",
        "debug": "project.debug.tests",
        "prebuilt": "project.prebuilt.tests",
    }[flavour]
    tests = ev(
        linux,
        f"""builtins.mapAttrs (_: t: {{
          name = t.config.name;
          nodes = builtins.attrNames t.config.nodes;
          script = t.config.testScriptString;
          driver = t.driver.testScript;
          interactive = t.driverInteractive.testScript;
          features = t.requiredSystemFeatures;
          drv = t.drvPath;
        }}) {attr}""",
    )
    assert isinstance(tests, dict)
    specs = load_tests(TESTS_TOML)
    assert sorted(tests) == sorted(specs)
    prefix = "printerfact-" if flavour == "default" else f"printerfact-{flavour}-"
    guard = GUARD.read_text()
    for name, test in tests.items():
        assert test["name"] == prefix + name
        assert test["nodes"] == sorted(n.name for n in specs[name].nodes)
        expected = _expected_script(name)
        assert test["script"] == test["driver"] == test["interactive"] == expected
        assert expected.endswith(guard)
        assert test["features"] == ["nixos-test", "kvm"]


def test_new_tests_toml_entries_need_no_nix_code(linux: Path, tmp_path: Path) -> None:
    """A new entry is a new NixOS test; node packages come from nixpkgs by name."""
    toml = tmp_path / "tests.toml"
    toml.write_text(
        """
[tests.conformance.nodes.machine]
[tests.fuzz.nodes.machine]
cpus = 2
packages = ["trinity", "stress-ng", "busybox"]
services = { load = "exec stress-ng --cpu 1" }
"""
    )
    for name in ("conformance", "fuzz"):
        (tmp_path / f"{name}.py").write_text(f"machine.succeed('true')  # {name}\n")
    result = ev(
        linux,
        f"""let tests = import {REPO}/test.nix {{ inherit pkgs; sources = {{ }};
              linuxPackages = project.linuxPackages; testsFile = {toml}; }};
            fuzz = tests.fuzz.config.nodes.machine;
        in {{
          names = builtins.attrNames tests;
          packages = map (p: p.name) fuzz.environment.systemPackages;
          servicePath = map (p: p.name) fuzz.systemd.services.load.path;
          trinity = builtins.elem pkgs.trinity fuzz.environment.systemPackages;
          stressNg = builtins.elem pkgs.stress-ng fuzz.environment.systemPackages;
          drvs = builtins.mapAttrs (_: t: t.drvPath) tests;
        }}""",
    )
    assert isinstance(result, dict)
    assert result["names"] == ["conformance", "fuzz"]
    assert result["packages"] == [
        "trinity-1.9-unstable",
        "stress-ng-0.18.12",
        "busybox-only-1.36.1",
    ]
    assert result["servicePath"] == result["packages"]
    assert result["trinity"] and result["stressNg"]


def _made_up_tests(tmp_path: Path, toml: str) -> Path:
    path = tmp_path / "tests.toml"
    path.write_text(toml)
    for name in tomllib.loads(toml)["tests"]:
        (tmp_path / f"{name}.py").write_text(f"start_all()  # {name}\n")
    return path


def test_test_level_options_reach_runnixostest(linux: Path, tmp_path: Path) -> None:
    """globalTimeout, skipTypeCheck, skipLint, extraPythonPackages (PyPI names, mapped to
    nixpkgs' attributes as PEP 503 normalises them) are runNixOSTest's own options."""
    toml = _made_up_tests(
        tmp_path,
        """
[tests.custom]
globalTimeout = 600
skipTypeCheck = true
skipLint = true
extraPythonPackages = ["PyYAML", "typing_extensions", "Python.DateUtil"]
sshBackdoor = true
enableDebugHook = true
[tests.custom.nodes.machine]
[tests.plain.nodes.machine]
""",
    )
    result = ev(
        linux,
        f"""let tests = import {REPO}/test.nix {{ inherit pkgs; sources = {{ }};
              linuxPackages = project.linuxPackages; testsFile = {toml}; }};
            opts = t: {{
              inherit (t.config) globalTimeout skipTypeCheck skipLint enableDebugHook;
              sshBackdoor = t.config.sshBackdoor.enable;
              python = map (p: p.name) (t.config.extraPythonPackages pkgs.python3Packages);
              mypy = builtins.elem pkgs.mypy t.driver.nativeBuildInputs;
              lint = t.driver.lint;
              driverPython = map (p: p.name) t.driver.buildInputs;
            }};
        in builtins.mapAttrs (_: opts) tests""",
    )
    assert result == {
        "custom": {
            "globalTimeout": 600,
            "skipTypeCheck": True,
            "skipLint": True,
            "enableDebugHook": True,
            "sshBackdoor": True,
            "python": [
                "python3.13-pyyaml-6.0.2",
                "python3.13-typing-extensions-4.14.1",
                "python3.13-python-dateutil-2.9.0.post0",
            ],
            "mypy": False,
            "lint": "",
            "driverPython": [
                "python3.13-pyyaml-6.0.2",
                "python3.13-typing-extensions-4.14.1",
                "python3.13-python-dateutil-2.9.0.post0",
            ],
        },
        # nixpkgs' defaults (driver.nix): one hour, type check and lint on, no extra packages.
        "plain": {
            "globalTimeout": 3600,
            "skipTypeCheck": False,
            "skipLint": False,
            "enableDebugHook": False,
            "sshBackdoor": False,
            "python": [],
            "mypy": True,
            "lint": "1",
            "driverPython": [],
        },
    }


def test_unknown_python_package_fails_as_in_nixpkgs(linux: Path, tmp_path: Path) -> None:
    toml = _made_up_tests(
        tmp_path, '[tests.t]\nextraPythonPackages = ["no-such-project"]\n[tests.t.nodes.m]\n'
    )
    with pytest.raises(NixError, match="attribute 'no-such-project' missing"):
        ev(
            linux,
            f"""(import {REPO}/test.nix {{ inherit pkgs; sources = {{ }};
              linuxPackages = project.linuxPackages; testsFile = {toml}; }}).t.drvPath""",
        )


def test_nodes_named_as_nixpkgs_names_them(linux: Path, tmp_path: Path) -> None:
    """`a-b` and `one_two` are valid nodes: NixOS's hostName is the attribute name, the driver
    calls them a_b and one_two; a test without nodes is a valid test; a single node is also
    `machine` to the script."""
    toml = _made_up_tests(
        tmp_path,
        """
[tests.pair.nodes.a-b]
[tests.pair.nodes.one_two]
[tests.solo.nodes.server]
[tests.none]
""",
    )
    result = ev(
        linux,
        f"""let tests = import {REPO}/test.nix {{ inherit pkgs; sources = {{ }};
              linuxPackages = project.linuxPackages; testsFile = {toml}; }};
        in builtins.mapAttrs (_: t: {{
          hostNames = builtins.mapAttrs (_: n: n.networking.hostName) t.config.nodes;
          machineNames = t.driver.machineNames;
          systems = map (n: n.toplevel.drvPath) (builtins.attrValues t.config.nodesEvaluated);
          drv = t.drvPath;
        }}) tests""",
    )
    assert isinstance(result, dict)
    assert result["pair"]["hostNames"] == {"a-b": "a-b", "one_two": "one_two"}
    assert result["pair"]["machineNames"] == ["a_b", "one_two"]
    assert result["solo"]["machineNames"] == ["server", "machine"]
    assert result["none"]["hostNames"] == {} and result["none"]["machineNames"] == []
    for test in result.values():
        assert test["drv"].endswith(".drv")


def test_runnixostest_model_rejects_what_nixpkgs_rejects(linux: Path) -> None:
    """The model is not lenient: unknown test options and bad nodes fail as in nixpkgs."""
    with pytest.raises(NixError, match="The option `nodeConfig' does not exist"):
        ev(linux, 'pkgs.testers.runNixOSTest { name = "x"; testScript = ""; nodeConfig = { }; }')
    with pytest.raises(NixError, match="The option `virtualisation.memorySizeMB' does not exist"):
        ev(
            linux,
            '(pkgs.testers.runNixOSTest { name = "x"; testScript = ""; '
            "nodes.m = { virtualisation.memorySizeMB = 1; }; }).driver.drvPath",
        )


# --- node numbering on VLANs (nixos/lib/testing/network.nix) -------------------------------------


@pytest.mark.parametrize("test", TEST_NAMES)
def test_addresses_and_hosts_as_the_framework_assigns_them(linux: Path, test: str) -> None:
    result = ev(
        linux,
        f"""let t = project.tests.{test}; in builtins.mapAttrs (_: n: {{
          addresses = builtins.attrValues n.config.networking.interfaces;
          primary = n.config.networking.primaryIPAddress;
          system = n.toplevel.drvPath;
        }}) t.config.nodesEvaluated""",
    )
    assert isinstance(result, dict)
    model = to_json_model(load_tests(TESTS_TOML)[test])
    nodes = model["nodes"]
    assert isinstance(nodes, dict)
    for name, node in result.items():
        assert node["addresses"] == nodes[name]["addresses"], name
    hosts = {name: node["primary"] for name, node in result.items() if node["primary"]}
    assert hosts == model["hosts"]


def test_node_numbers_and_addresses_for_made_up_vlans(linux: Path, tmp_path: Path) -> None:
    toml = tmp_path / "tests.toml"
    toml.write_text(
        """
[tests.t.nodes.zeta]
vlans = [2, 1]
[tests.t.nodes.alpha]
vlans = []
[tests.t.nodes.mid-node]
module_at_boot = false
"""
    )
    (tmp_path / "t.py").write_text("start_all()\n")
    result = ev(
        linux,
        f"""let t = (import {REPO}/test.nix {{ inherit pkgs; sources = {{ }};
              linuxPackages = project.linuxPackages; testsFile = {toml}; }}).t; in
        builtins.mapAttrs (_: n: {{
          number = n.config.virtualisation.test.nodeNumber;
          interfaces = n.config.networking.interfaces;
          primary = n.config.networking.primaryIPAddress;
          system = n.toplevel.drvPath;
        }}) t.config.nodesEvaluated""",
    )
    assert isinstance(result, dict)
    assert {n: v["number"] for n, v in result.items()} == {"alpha": 1, "mid-node": 2, "zeta": 3}
    assert result["zeta"]["interfaces"] == {"eth1": "192.168.2.3", "eth2": "192.168.1.3"}
    assert result["zeta"]["primary"] == "192.168.2.3"
    assert result["alpha"]["primary"] == ""


def test_address_assertion_stops_a_drifted_node(linux: Path) -> None:
    """If the framework numbered `server` 1 instead of 2, the system would not build."""
    expr = f"""(import {MODELS}/nixos.nix {{ inherit lib pkgs; }} {{
        modules = [ (import {REPO}/nix/nixos-node.nix
          {{ linuxPackages = project.linuxPackages; factsFile = {REPO}/module/facts.txt; }}
          (import {REPO}/nix/nodes.nix {TESTS_TOML}).network.nodes.server) ];
        nodeName = "server"; nodeNumber = NUMBER; }}).toplevel.drvPath"""
    assert isinstance(ev(linux, expr.replace("NUMBER", "2")), str)
    with pytest.raises(
        NixError, match=r"Failed assertions:\s+- printerfact: addresses of server differ"
    ):
        ev(linux, expr.replace("NUMBER", "1"))


# --- the node module: what the testscripts rely on ---------------------------------------------


def test_node_configuration_for_the_network_server(linux: Path) -> None:
    result = ev(
        linux,
        """let n = (project.tests.network.config.nodes.server); in {
          kernelModules = n.boot.kernelModules;
          etc = builtins.mapAttrs (_: e: toString e.source) n.environment.etc;
          packages = map (p: p.name) n.environment.systemPackages;
          services = builtins.mapAttrs
            (_: s: { inherit (s) wantedBy script; path = map (p: p.name) s.path; })
            n.systemd.services;
          inherit (n.networking) hostName;
          firewall = n.networking.firewall.enable;
          virtualisation = { inherit (n.virtualisation) vlans memorySize cores; };
          users = n.users.users;
        }""",
    )
    assert result == {
        "kernelModules": ["printerfact"],
        "etc": {"printerfact/facts.txt": str(REPO / "module" / "facts.txt")},
        "packages": ["busybox-only-1.36.1"],
        "services": {
            "factd": {
                "wantedBy": ["multi-user.target"],
                "script": "exec busybox nc -ll -p 8000 -e cat /dev/printerfact",
                "path": ["busybox-only-1.36.1"],
            }
        },
        "hostName": "server",
        "firewall": False,
        "virtualisation": {"vlans": [1], "memorySize": 1024, "cores": 1},
        "users": {},
    }


def test_node_users_and_module_at_boot(linux: Path) -> None:
    result = ev(
        linux,
        """{
          users = project.tests.printerfact.config.nodes.machine.users.users;
          lifecycle = {
            inherit (project.tests.lifecycle.config.nodes.machine.boot)
              kernelModules extraModulePackages;
          };
          stressCores = project.tests.stress.config.nodes.machine.virtualisation.cores;
        }""",
    )
    assert isinstance(result, dict)
    assert result["users"] == {"alice": {"isNormalUser": True, "uid": 1000}}
    assert result["lifecycle"]["kernelModules"] == []
    assert len(result["lifecycle"]["extraModulePackages"]) == 1
    assert result["stressCores"] == 2


def test_busybox_only_wrapper(linux: Path) -> None:
    script = ev(
        linux,
        "(builtins.head project.tests.network.config.nodes.client.environment.systemPackages)"
        ".buildCommand",
    )
    assert isinstance(script, str)
    assert re.search(
        r"ln -s /nix/store/[a-z0-9]{32}-busybox-1\.36\.1/bin/busybox \$out/bin/busybox", script
    )


def test_nix_string_helper() -> None:
    assert nix_eval(nix_string('a "${b}" \\ c')) == 'a "${b}" \\ c'
