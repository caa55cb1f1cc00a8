"""The models in tests/nix/models behave as the nixpkgs code they stand for, where it matters.

A model that accepted what nixpkgs rejects would let a defect through the contract tests
(tests/nix/test_nix_seams.py): these tests pin the behaviour the contracts rely on.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from nixeval import MODELS, PKGS, NixError, nix_eval

LIB = f"(import {MODELS}/lib.nix)"


def ev(body: str) -> object:
    return nix_eval(f"let pkgs = {PKGS}; lib = {LIB}; in {body}")


# --- lib/customisation.nix ---------------------------------------------------------------------


def test_make_overridable_rejects_an_argument_the_function_does_not_take() -> None:
    """As in nixpkgs, `.override` calls the function again: an undeclared argument is Nix's
    own error.  This is how NixOS's kernel override broke on kernel.nix."""
    with pytest.raises(NixError, match="called with unexpected argument 'randstructSeed'"):
        ev(
            "((lib.makeOverridable ({ a }: { inherit a; }) { a = 1; })"
            '.override { randstructSeed = ""; }).a'
        )
    assert (
        ev("((lib.makeOverridable ({ a, ... }: { inherit a; }) { a = 1; }).override { b = 2; }).a")
        == 1
    )


def test_make_overridable_override_forms() -> None:
    result = ev(
        """let
          x = lib.makeOverridable ({ a, b }: { r = a + b; }) { a = 1; b = 2; };
        in [ x.r (x.override { a = 10; }).r (x.override (old: { b = old.b * 10; })).r
             ((x.override { a = 0; }).override { b = 0; }).r ]"""
    )
    assert result == [3, 12, 21, 0]


def test_call_package_with_takes_declared_arguments_and_aborts_on_missing_ones() -> None:
    assert (
        ev(
            "(lib.callPackageWith { a = 1; b = 2; c = 3; }"
            " ({ a, b ? 0 }: { s = a + b; }) { b = 5; }).s"
        )
        == 6
    )
    with pytest.raises(
        NixError, match='callPackageWith: Function called without required argument "d"'
    ):
        ev("(lib.callPackageWith { a = 1; } ({ a, d }: a) { })")
    # Its result keeps the function's arguments (mirrorFunctionArgs), as nested callPackage needs.
    assert ev("lib.functionArgs (lib.callPackageWith { } ({ a ? 1 }: b: b) { })") == {}


def test_make_extensible_extend_sees_the_final_set() -> None:
    result = ev(
        """let
          s = lib.makeExtensible (self: { kernel = "k1"; module = "m-for-${self.kernel}"; });
          t = s.extend (_: super: { kernel = super.kernel + "-patched"; });
        in [ s.module t.module (t.extend (_: _: { kernel = "k2"; })).module ]"""
    )
    assert result == ["m-for-k1", "m-for-k1-patched", "m-for-k2"]


def test_recursive_update() -> None:
    assert ev("lib.recursiveUpdate { a = { b = 1; c = 2; }; d = 1; } { a.b = 3; d = { }; }") == {
        "a": {"b": 3, "c": 2},
        "d": {},
    }


# --- lib/sources.nix and lib/fileset -------------------------------------------------------------


def test_clean_source_keeps_kbuild_output_and_fileset_does_not(tmp_path: Path) -> None:
    """cleanSource drops *.o but keeps *.ko, .*.cmd, *.mod.c, Module.symvers (defect 7's cause)."""
    src = tmp_path / "m"
    src.mkdir()
    (src / "a.rs").write_text("fn main() {}")
    clean = tmp_path / "clean"
    shutil.copytree(src, clean)
    for name in ("a.o", "a.ko", ".a.ko.cmd", "a.mod.c", "Module.symvers"):
        (src / name).write_text("x")
    (clean / "a.o").write_text("x")
    result = ev(
        f"""{{
          cleanSource = [ (lib.cleanSource {src}) (lib.cleanSource {clean}) ];
          fileset = map
            (root: lib.fileset.toSource {{
              inherit root;
              fileset = lib.fileset.fileFilter (f: f.hasExt "rs") root;
            }})
            [ {src} {clean} ];
        }}"""
    )
    assert isinstance(result, dict)
    assert result["cleanSource"][0] != result["cleanSource"][1]
    assert result["fileset"][0] == result["fileset"][1]
    assert all(p.endswith("-source") for p in result["cleanSource"] + result["fileset"])


def test_fileset_rejects_missing_paths_and_outside_roots(tmp_path: Path) -> None:
    """The real lib's messages (read with nixpkgs' lib of 2026)."""
    with pytest.raises(
        NixError,
        match=re.escape(
            f"lib.fileset.toSource: `fileset` ({tmp_path}/missing) is a path that does not exist."
        ),
    ):
        ev(f"lib.fileset.toSource {{ root = {tmp_path}; fileset = {tmp_path}/missing; }}")
    with pytest.raises(
        NixError,
        match=re.escape(
            f"lib.fileset.unions: Element 1 ({tmp_path}/nope) is a path that does not exist."
        ),
    ):
        ev(
            f"lib.fileset.toSource {{ root = {tmp_path}; "
            f"fileset = lib.fileset.unions [ {tmp_path} {tmp_path}/nope ]; }}"
        )
    (tmp_path / "in").mkdir()
    (tmp_path / "out").write_text("x")
    with pytest.raises(
        NixError,
        match=re.escape(
            f"lib.fileset.toSource: `fileset` could contain files in {tmp_path}, which is not "
            f"under the `root` ({tmp_path}/in)."
        ),
    ):
        ev(f"lib.fileset.toSource {{ root = {tmp_path}/in; fileset = {tmp_path}/out; }}")


def test_fileset_to_source_has_no_empty_directories(tmp_path: Path) -> None:
    """Only the files of the set and the directories leading to them, as the real toSource:
    a directory with nothing selected in it does not change the store path."""
    for tree in ("a", "b"):
        (tmp_path / tree / "sub").mkdir(parents=True)
        (tmp_path / tree / "sub" / "x.rs").write_text("x")
        (tmp_path / tree / "y.txt").write_text("y")
    (tmp_path / "b" / "empty").mkdir()
    (tmp_path / "b" / "other").mkdir()
    (tmp_path / "b" / "other" / "z.txt").write_text("z")
    paths = ev(
        f"""map (root: lib.fileset.toSource {{
          inherit root; fileset = lib.fileset.fileFilter (f: f.hasExt "rs") root; }})
          [ {tmp_path}/a {tmp_path}/b ]"""
    )
    assert isinstance(paths, list) and paths[0] == paths[1]


# --- buildLinux (generic.nix, kernel_config.nix, manual-config.nix) -----------------------------

BUILD = """pkgs.buildLinux
  ({ version = "VERSION"; src = builtins.toFile "linux.tar.xz" "x"; } // ARGS)"""


def build(args: str, version: str = "6.12.118") -> str:
    return BUILD.replace("ARGS", args).replace("VERSION", version)


def test_buildlinux_accepts_and_reports_unknown_arguments() -> None:
    result = ev(f"({build('{ structuredExtraConfg = { }; }')}).modelIgnoredArgs")
    assert result == ["structuredExtraConfg"]


def test_buildlinux_config_merge_conflicts_and_priorities() -> None:
    with pytest.raises(
        NixError, match="settings.MODULES.tristate' has conflicting definition values"
    ):
        ev(f"({build('{ structuredExtraConfig.MODULES = lib.kernel.no; }')}).configfile.drvPath")
    forced = ev(
        f"({build('{ structuredExtraConfig.MODULES = lib.mkForce lib.kernel.no; }')})"
        ".configfile.structuredConfig.MODULES"
    )
    assert forced == {"tristate": "n", "freeform": None, "optional": False}


def test_buildlinux_with_rust_follows_the_merged_config() -> None:
    assert ev(f"({build('{ }')}).withRust") is True
    no_rust = build("{ structuredExtraConfig.RUST = lib.mkForce lib.kernel.no; }")
    assert ev(
        f"let k = {no_rust}; in [ k.withRust (map (d: d.pname) k.moduleBuildDependencies) ]"
    ) == [
        False,
        ["pahole", "perl", "elfutils", "zstd"],
    ]


def test_generate_config_model_knows_what_gcc_x86_64_cannot_honour() -> None:
    """KASAN switches Rust off with GCC (init/Kconfig of the kernel built); FRAME_POINTER is not
    offered with the ORC unwinder; SLUB_TINY only with EXPERT; LOCKUP_DETECTOR only when a
    lockup detector selects it.  Required answers fail, optional ones warn."""
    kasan = "{ structuredExtraConfig = { KASAN = lib.kernel.yes; RUST = lib.kernel.yes; }; }"
    with pytest.raises(
        NixError, match="generate-config.pl \\(model\\): error: unused option: RUST"
    ):
        ev(f"({build(kasan, version='6.12.118')}).configfile.drvPath")
    # 6.12.64 predates `depends on !KASAN || CC_IS_CLANG`: Kconfig keeps RUST beside GCC KASAN.
    assert ev(f"({build(kasan, version='6.12.64')}).configfile.modelGenerateConfig") == {
        "errors": [],
        "warnings": [],
        "rust": True,
    }
    lockup = build(
        "{ structuredExtraConfig = { SOFTLOCKUP_DETECTOR = lib.mkForce lib.kernel.no; "
        "HARDLOCKUP_DETECTOR = lib.mkForce lib.kernel.no; }; }"
    )
    with pytest.raises(NixError, match="unused option: LOCKUP_DETECTOR"):
        ev(f"({lockup}).configfile.drvPath")
    fp = build("{ structuredExtraConfig.FRAME_POINTER = lib.kernel.yes; }")
    with pytest.raises(NixError, match="unused option: FRAME_POINTER"):
        ev(f"({fp}).configfile.drvPath")
    fp_ok = build(
        "{ structuredExtraConfig = "
        "{ FRAME_POINTER = lib.kernel.yes; UNWINDER_FRAME_POINTER = lib.kernel.yes; }; }"
    )
    assert isinstance(ev(f"({fp_ok}).configfile.drvPath"), str)
    tiny = build("{ structuredExtraConfig.SLUB_TINY = lib.kernel.option lib.kernel.no; }")
    assert ev(f"({tiny}).configfile.modelGenerateConfig") == {
        "errors": [],
        "warnings": ["unused option: SLUB_TINY"],
        "rust": True,
    }
    lenient = build(
        "{ ignoreConfigErrors = true; structuredExtraConfig.FRAME_POINTER = lib.kernel.yes; }"
    )
    assert ev(f"({lenient}).configfile.modelGenerateConfig.errors") == []


def test_buildlinux_result_overrides_through_generic_nix() -> None:
    """A kernel's own .override is generic.nix's makeOverridable (a functor mirroring
    buildLinux's arguments): overriding it with NixOS's arguments reaches buildLinux."""
    assert ev(f"builtins.attrNames ({build('{ }')}).override") == ["__functionArgs", "__functor"]
    patched = ev(
        f"""let k = {build("{ }")}; in (k.override (old: {{
          kernelPatches = old.kernelPatches or [ ]
            ++ [ {{ name = "p"; patch = null; features.x = true; }} ];
        }})).features.x"""
    )
    assert patched is True


# --- pkgs/top-level/linux-kernels.nix ------------------------------------------------------------


def test_packages_for_kernel_module_make_flags_and_scope() -> None:
    result = ev(
        f"""let
          k = {build("{ }")};
          set = (pkgs.linuxPackagesFor k).extend (self: _: {{
            m = self.callPackage
              ({{ kernel, kernelModuleMakeFlags }}: {{ inherit kernel kernelModuleMakeFlags; }})
              {{ }};
          }});
        in {{
          sameKernel = set.m.kernel.drvPath == k.drvPath;
          flags = set.m.kernelModuleMakeFlags
            == k.commonMakeFlags ++ [ "KBUILD_OUTPUT=${{k.dev}}/lib/modules/6.12.118/build" ];
        }}"""
    )
    assert result == {"sameKernel": True, "flags": True}


# --- NixOS node evaluation ------------------------------------------------------------------

NODE = f"""(import {MODELS}/nixos.nix {{ inherit lib pkgs; }}
  {{ modules = [ MODULE ]; nodeName = "m"; nodeNumber = 1; }})"""


def node(module: str) -> str:
    return NODE.replace("MODULE", module)


def ev_node(module: str, attr: str) -> object:
    return ev("(" + node(module) + ")." + attr)


def test_nixos_model_rejects_unknown_options_and_bad_types() -> None:
    with pytest.raises(NixError, match="The option `boot.extraModules' does not exist"):
        ev_node("{ boot.extraModules = [ ]; }", "config.boot")
    with pytest.raises(
        NixError, match="virtualisation.memorySize' is not of type `positive integer, meaning >0'"
    ):
        ev_node('{ virtualisation.memorySize = "1G"; }', "config.virtualisation.memorySize")
    with pytest.raises(
        NixError,
        match="boot.extraModulePackages.\"\\[definition 1-entry 1\\]\"' is not of type `package'",
    ):
        ev_node(
            '{ boot.extraModulePackages = [ "printerfact" ]; }', "config.boot.extraModulePackages"
        )
    with pytest.raises(NixError, match="virtualisation.test.nodeNumber' is read-only"):
        ev_node("{ virtualisation.test.nodeNumber = 2; }", "config.virtualisation.test.nodeNumber")
    with pytest.raises(NixError, match="networking.hostName' is not of type"):
        ev_node('{ networking.hostName = "a_b.c"; }', "config.networking.hostName")


def test_nixos_model_merges_by_priority_and_type() -> None:
    module = """({ lib, ... }: {
      boot.kernelModules = [ "a" ];
      networking.hostName = lib.mkForce "forced";
      systemd.services.s.script = "x";
    })"""
    result = ev(
        f"""let n = {node(module)};
        in {{
          inherit (n.config.networking) hostName;
          modules = n.config.boot.kernelModules;
          script = n.config.systemd.services.s.script;
        }}"""
    )
    assert result == {"hostName": "forced", "modules": ["a"], "script": "x"}
    two = f"""(import {MODELS}/nixos.nix {{ inherit lib pkgs; }} {{
        modules = [ {{ networking.hostName = "a"; }} {{ networking.hostName = "b"; }} ];
        nodeName = "m"; nodeNumber = 1; }})"""
    with pytest.raises(NixError, match="networking.hostName' has conflicting definition values"):
        ev(f"{two}.config.networking.hostName")


def test_nixos_kernel_packages_apply_overrides_the_kernel() -> None:
    """kernel.nix's apply: every kernelPackages gets kernel.override with randstructSeed,
    kernelPatches and features, so a kernel whose .override cannot take them breaks NixOS."""
    ok = ev_node(
        '{ boot.kernel.randstructSeed = "s"; }', "config.boot.kernelPackages.kernel.randstructSeed"
    )
    assert ok == "s"
    strict = """(pkgs.linuxPackagesFor (pkgs.callPackage
      ({ buildLinux }: buildLinux { version = "6.12.64"; src = builtins.toFile "l" "x"; }) { }))"""
    with pytest.raises(NixError, match="called with unexpected argument 'randstructSeed'"):
        ev_node(
            "{ boot.kernelPackages = " + strict + "; }", "config.boot.kernelPackages.kernel.drvPath"
        )


def test_nixos_model_fails_the_system_on_failed_assertions() -> None:
    with pytest.raises(NixError, match=r"Failed assertions:\s+- no"):
        ev_node('{ assertions = [ { assertion = false; message = "no"; } ]; }', "toplevel.drvPath")


# --- runNixOSTest ---------------------------------------------------------------------------


def test_run_nixos_test_model_checks_its_arguments() -> None:
    with pytest.raises(NixError, match="The option `testscript' does not exist"):
        ev('pkgs.testers.runNixOSTest { name = "t"; nodes = { }; testscript = ""; }')
    with pytest.raises(NixError, match="`name' is used but not defined, or is not a string"):
        ev('(pkgs.testers.runNixOSTest { name = 1; nodes = { }; testScript = ""; }).drvPath')
    result = ev(
        """let t = pkgs.testers.runNixOSTest { name = "t"; nodes = { b = { }; a = { }; c = { }; };
          testScript = { nodes, ... }: "# ${nodes.a.networking.hostName}"; };
        in { numbers = builtins.mapAttrs (_: n: n.virtualisation.test.nodeNumber) t.config.nodes;
             script = t.driverInteractive.testScript; name = t.name;
             names = t.driver.machineNames; }"""
    )
    assert result == {
        "numbers": {"a": 1, "b": 2, "c": 3},
        "script": "# a",
        "name": "vm-test-run-t",
        "names": ["a", "b", "c"],
    }
    single = ev(
        '(pkgs.testers.runNixOSTest { name = "t"; nodes.server = { }; testScript = ""; })'
        ".driver.machineNames"
    )
    assert single == ["server", "machine"]


def test_run_nixos_test_model_checks_driver_options() -> None:
    """driver.nix's option types: skipTypeCheck and skipLint booleans, extraPythonPackages a
    function of the Python package set giving packages, globalTimeout an integer."""
    base = 'pkgs.testers.runNixOSTest { name = "t"; testScript = ""; EXTRA }'
    for extra, message in [
        ("skipLint = 1;", "`skipLint' is not of type `boolean'"),
        ('skipTypeCheck = "yes";', "`skipTypeCheck' is not of type `boolean'"),
        ("extraPythonPackages = [ ];", "`extraPythonPackages' is not of type `function"),
        ('extraPythonPackages = p: [ "numpy" ];', "`extraPythonPackages' is not of type `function"),
        ('globalTimeout = "1h";', "`globalTimeout' is not of type `signed integer'"),
    ]:
        with pytest.raises(NixError, match=message):
            ev(f"({base.replace('EXTRA', extra)}).driver.drvPath")
    ok = ev(
        f"({base.replace('EXTRA', 'extraPythonPackages = p: [ p.numpy ];')}).driver.buildInputs"
    )
    assert isinstance(ok, list) and len(ok) == 1


def test_run_nixos_test_model_pythonizes_as_driver_nix() -> None:
    """pythonizeName: a first character outside [A-z_] and later ones outside [A-z0-9_]
    become "_"; the one-node `machine` alias depends on the host name, not the node name."""
    result = ev(
        """let names = nodes: (pkgs.testers.runNixOSTest {
              name = "t"; testScript = ""; inherit nodes; }).driver.machineNames; in {
          many = names { "1x" = { }; "a-b" = { }; c_d = { }; };
          renamed = names { m = { networking.hostName = "machine"; }; };
        }"""
    )
    assert result == {"many": ["_x", "a_b", "c_d"], "renamed": ["m"]}


def test_nixos_model_merges_lists_in_the_order_of_lib_modules() -> None:
    """lib.modules hands an option its definitions in the reverse of the modules' order (the
    real lib.evalModules merges [ 2 ] and then [ 3 ] to [ 3 2 ]); the model does the same."""
    two = f"""(import {MODELS}/nixos.nix {{ inherit lib pkgs; }} {{
        modules = [ {{ boot.kernelModules = [ "a" ]; }} {{ boot.kernelModules = [ "b" "c" ]; }} ];
        nodeName = "m"; nodeNumber = 1; }})"""
    assert ev(f"{two}.config.boot.kernelModules") == ["b", "c", "a"]
