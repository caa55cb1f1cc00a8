"""The Nix layer's files, checked without nixpkgs (none can be fetched where these tests run).

- every .nix file parses (`nix-instantiate --parse`), the models in tests/nix/models too;
- nix/nodes.nix gives the same test model as printerfact.nodes, for every test and for
  made-up descriptions (including the ones both must reject);
- nix/kconfig.nix reads the kernel fragments as Python does; nix/kconfig-nixpkgs.nix filters
  exactly what nixpkgs' build cannot honour;
- nix/sources.nix behaves like niv's loader (NIV_OVERRIDE_<name>, local specs, errors) and
  nix/sources.json pins a channel commit;
- deadnix and nixpkgs-fmt (crates.io) are clean; docs/nix-api.md names every lib/pkgs function.

How the project's Nix meets nixpkgs is tested in tests/nix/ (contract tests against models).
A missing tool fails the test with the command that installs it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from nixeval import MODELS, REPO, NixError, nix_eval, nix_instantiate

from printerfact.host import provision
from printerfact.nodes import NodeDescriptionError, load_tests, to_json_model

NIX_FILES = sorted([*REPO.glob("*.nix"), *REPO.glob("nix/*.nix")])
EXPECTED_NIX_FILES = {
    "default.nix",
    "kernel.nix",
    "test.nix",
    "release.nix",
    "shell.nix",
    "nix/sources.nix",
    "nix/nodes.nix",
    "nix/kconfig.nix",
    "nix/kconfig-nixpkgs.nix",
    "nix/module.nix",
    "nix/nixos-node.nix",
    "nix/rustc-nightly.nix",
}
# Models of nixpkgs for the contract tests (tests/nix): parsed, formatted and linted too.
MODEL_FILES = sorted(MODELS.rglob("*.nix"))

NIX_LINTERS = {tool.crate: tool for tool in provision.NIX_TOOLS}


def cargo_tool(crate: str) -> Path:
    """The binary of a cargo-installed tool, or a test failure saying how to install it."""
    tool = NIX_LINTERS[crate]
    if not tool.path.is_file():
        pytest.fail(f"{tool.binary} {tool.version} is missing: run `make provision`")
    return tool.path


# --- parsing --------------------------------------------------------------------------------


def test_nix_files_present() -> None:
    assert {str(p.relative_to(REPO)) for p in NIX_FILES} == EXPECTED_NIX_FILES


def _path_id(path: Path) -> str:
    # The models always come from this checkout, the project's files from REPO (nixeval.py).
    return str(path.relative_to(REPO if path.is_relative_to(REPO) else MODELS.parents[2]))


@pytest.mark.parametrize("path", NIX_FILES + MODEL_FILES, ids=_path_id)
def test_parses(path: Path) -> None:
    proc = subprocess.run(
        [nix_instantiate(), "--parse", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


# --- node descriptions ----------------------------------------------------------------------

NODES = str(REPO / "nix" / "nodes.nix")


@pytest.mark.parametrize("name", list(load_tests()))
def test_nodes_model_matches_python(name: str) -> None:
    spec = load_tests()[name]
    model = nix_eval(f"(import {NODES} {REPO}/testscripts/tests.toml).{name}")
    assert isinstance(model, dict)
    assert model.pop("script") == spec.script.name
    assert model == to_json_model(spec)


def test_nodes_same_tests_as_python() -> None:
    names = nix_eval(f"builtins.attrNames (import {NODES} {REPO}/testscripts/tests.toml)")
    assert sorted(load_tests()) == names


def _both(tmp_path: Path, tests: dict[str, object]) -> tuple[object, object]:
    """(Python result, Nix result) for a tests.toml like `tests`; errors as exceptions."""
    for name in tests:
        (tmp_path / f"{name}.py").write_text("")
    toml_path = tmp_path / "tests.toml"
    toml_path.write_text(_to_toml(tests))
    try:
        py: object = {n: to_json_model(t) for n, t in load_tests(toml_path).items()}
    except NodeDescriptionError as e:
        py = e
    try:
        nix: object = nix_eval(
            f'builtins.mapAttrs (_: t: removeAttrs t ["script"]) (import {NODES} {toml_path})'
        )
    except NixError as e:
        nix = e
    return py, nix


def _to_toml(tests: dict[str, object]) -> str:
    # Only what the cases below need: tables of scalars, lists and one inline table level.
    def value(v: object) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)

    lines = []
    for test, nodes in tests.items():
        assert isinstance(nodes, dict)
        for node, keys in nodes.items():
            lines.append(f"[tests.{test}.nodes.{node}]")
            lines += [f"{k} = {value(v)}" for k, v in keys.items()]
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # the helper itself must produce valid TOML
    return text


def test_nodes_addressing_and_defaults(tmp_path: Path) -> None:
    py, nix = _both(
        tmp_path,
        {
            "t": {
                "zeta": {"vlans": [2, 1], "users": ["bob", "alice"], "memory_mb": 512},
                "alpha": {
                    "vlans": [],
                    "services": {"web": "exec sleep 1"},
                    "packages": ["busybox"],
                },
                "mid-node": {"module_at_boot": False, "cpus": 2},
            }
        },
    )
    assert nix == py
    assert isinstance(nix, dict)
    nodes = nix["t"]["nodes"]
    # Alphabetical rank over all nodes, VLAN or not: alpha=1, mid-node=2, zeta=3.
    assert nodes["zeta"]["addresses"] == ["192.168.2.3", "192.168.1.3"]
    assert nodes["alpha"]["addresses"] == []
    assert nix["t"]["hosts"] == {"mid-node": "192.168.1.2", "zeta": "192.168.2.3"}
    assert nodes["mid-node"]["memory_mb"] == 1024 and nodes["alpha"]["cpus"] == 1


def test_nodes_same_packages_as_python(tmp_path: Path) -> None:
    """Both sides accept the same node packages (NixOS: nixpkgs' package of that name)."""
    py, nix = _both(tmp_path, {"t": {"fuzz": {"packages": ["trinity", "stress-ng", "busybox"]}}})
    assert nix == py
    assert isinstance(nix, dict)
    assert nix["t"]["nodes"]["fuzz"]["packages"] == ["trinity", "stress-ng", "busybox"]


@pytest.mark.parametrize(
    "node",
    [
        {"colour": "red"},
        {"packages": ["nginx"]},
        {"vlans": [0]},
        {"vlans": [255]},
        {"memory_mb": 0},
        {"cpus": -1},
        {"users": "alice"},
        {"services": {"Bad_Name": "true"}},
    ],
    ids=lambda n: json.dumps(n),
)
def test_nodes_both_reject(tmp_path: Path, node: dict[str, object]) -> None:
    py, nix = _both(tmp_path, {"t": {"machine": node}})
    assert isinstance(py, NodeDescriptionError)
    assert isinstance(nix, NixError) and "tests.toml" in str(nix), nix


def test_nodes_reject_bad_node_name(tmp_path: Path) -> None:
    py, nix = _both(tmp_path, {"t": {"-x": {}}})
    assert isinstance(py, NodeDescriptionError)
    assert isinstance(nix, NixError) and 'node name "-x"' in str(nix)


# Node names and test-level options as nixpkgs has them (nixos/lib/testing/): Nix only, the
# portable side (printerfact.nodes) follows.


def _nix_model(tmp_path: Path, toml: str) -> object:
    """nix/nodes.nix on a tests.toml with this text; NixError on what it rejects."""
    path = tmp_path / "tests.toml"
    path.write_text(toml)
    tomllib.loads(toml)
    return nix_eval(f"import {NODES} {path}")


def test_nodes_names_as_nixpkgs_derives_them(tmp_path: Path) -> None:
    """hostname: the attribute name (network.nix); python_name: driver.nix's pythonizeName."""
    model = _nix_model(
        tmp_path,
        """
[tests.t.nodes.one_two]
[tests.t.nodes.a-b]
[tests.t.nodes.Server2]
[tests.t.nodes.1st]
""",
    )
    assert isinstance(model, dict)
    nodes = model["t"]["nodes"]
    assert {n: (v["hostname"], v["python_name"]) for n, v in nodes.items()} == {
        "one_two": ("one_two", "one_two"),
        "a-b": ("a-b", "a_b"),
        "Server2": ("Server2", "Server2"),
        "1st": ("1st", "_st"),
    }
    # Numbered in attribute-name order (byte order: digits, upper case, lower case).
    assert [nodes[n]["addresses"] for n in ("1st", "Server2", "a-b", "one_two")] == [
        ["192.168.1.1"],
        ["192.168.1.2"],
        ["192.168.1.3"],
        ["192.168.1.4"],
    ]


@pytest.mark.parametrize(
    "name, message",
    [
        ("-x", "must be a host name"),
        ("x-", "must be a host name"),
        ("_x", "must be a host name"),
        ("a.b", "must be a host name"),
        ("x" * 64, "must be a host name"),
        ("class", "is the Python keyword class"),
        ("None", "is the Python keyword None"),
    ],
)
def test_nodes_reject_names_nixos_or_python_cannot_take(
    tmp_path: Path, name: str, message: str
) -> None:
    with pytest.raises(NixError, match=re.escape(message)):
        _nix_model(tmp_path, f'[tests.t.nodes."{name}"]\n')


def test_nodes_reject_two_nodes_with_one_python_name(tmp_path: Path) -> None:
    with pytest.raises(NixError, match=r'nodes \["a-b","a_b"\] are all a_b in the testScript'):
        _nix_model(tmp_path, "[tests.t.nodes.a-b]\n[tests.t.nodes.a_b]\n")
    # 63 characters is the longest host name.
    assert isinstance(_nix_model(tmp_path, f"[tests.t.nodes.{'x' * 63}]\n"), dict)


def test_nodes_a_test_without_nodes(tmp_path: Path) -> None:
    """nixpkgs' `nodes` defaults to { } (nodes.nix): a test of the driver alone is valid."""
    model = _nix_model(tmp_path, "[tests.bare]\n[tests.empty]\nnodes = {}\n")
    assert isinstance(model, dict)
    for name in ("bare", "empty"):
        assert model[name] == {
            "script": f"{name}.py",
            "nodes": {},
            "hosts": {},
            "globalTimeout": 3600,
            "skipTypeCheck": False,
            "skipLint": False,
            "extraPythonPackages": [],
            "sshBackdoor": False,
            "enableDebugHook": False,
        }


def test_nodes_test_level_options(tmp_path: Path) -> None:
    model = _nix_model(
        tmp_path,
        """
[tests.t]
globalTimeout = 600
skipTypeCheck = true
skipLint = true
extraPythonPackages = ["PyYAML", "typing_extensions", "python-dateutil"]
sshBackdoor = true
enableDebugHook = true
[tests.t.nodes.machine]
""",
    )
    assert isinstance(model, dict)
    t = model["t"]
    assert (t["globalTimeout"], t["skipTypeCheck"], t["skipLint"]) == (600, True, True)
    assert (t["sshBackdoor"], t["enableDebugHook"]) == (True, True)
    assert t["extraPythonPackages"] == ["PyYAML", "typing_extensions", "python-dateutil"]


@pytest.mark.parametrize(
    "line, message",
    [
        ('globalTimeout = "1h"', "tests.t.globalTimeout must be a positive integer"),
        ("globalTimeout = 0", "tests.t.globalTimeout must be a positive integer"),
        ("skipTypeCheck = 1", "tests.t.skipTypeCheck must be a boolean"),
        ('skipLint = "no"', "tests.t.skipLint must be a boolean"),
        ('extraPythonPackages = "numpy"', "tests.t.extraPythonPackages must be a list of strings"),
        ('extraPythonPackages = ["-numpy"]', 'extraPythonPackages: ["-numpy"] are not Python'),
        ("timeout = 5", 'tests.t: unknown keys ["timeout"]'),
    ],
)
def test_nodes_reject_bad_test_options(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(NixError, match=re.escape(message)):
        _nix_model(tmp_path, f"[tests.t]\n{line}\n[tests.t.nodes.machine]\n")


# --- kernel config --------------------------------------------------------------------------


def parse_fragment(text: str) -> dict[str, str]:
    """The fragment as merge_config.sh reads it (an independent reading to compare with Nix)."""
    options: dict[str, str] = {}
    for line in text.splitlines():
        if m := re.fullmatch(r"CONFIG_(\w+)=(.*)", line):
            name, value = m[1], m[2]
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
        elif m := re.fullmatch(r"# CONFIG_(\w+) is not set", line):
            name, value = m[1], "n"
        else:
            assert re.fullmatch(r"\s*(#.*)?", line), line
            continue
        assert name not in options, name
        options[name] = value
    return options


KCONFIG = str(REPO / "nix" / "kconfig.nix")
FRAGMENT = REPO / "kernel" / "printerfact.config"


def test_kconfig_matches_fragment() -> None:
    parsed = nix_eval(f"import {KCONFIG} {FRAGMENT}")
    assert parsed == parse_fragment(FRAGMENT.read_text())
    assert isinstance(parsed, dict) and parsed["RUST"] == "y"


def test_kconfig_forms(tmp_path: Path) -> None:
    text = 'CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S="x y"\n  # note\n\nCONFIG_N=0x10\n'
    (tmp_path / "f.config").write_text(text)
    assert nix_eval(f"import {KCONFIG} {tmp_path}/f.config") == parse_fragment(text)
    assert parse_fragment(text) == {"A": "y", "B": "n", "S": "x y", "N": "0x10"}


@pytest.mark.parametrize(
    "text, message",
    [
        ("CONFIG_A=y\nCONFIG_A=m\n", "options set twice"),
        ("CONFIG_A=y\nA=y\n", "cannot parse line: A=y"),
    ],
)
def test_kconfig_rejects(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "f.config").write_text(text)
    with pytest.raises(NixError, match=message):
        nix_eval(f"import {KCONFIG} {tmp_path}/f.config")


KCONFIG_NIXPKGS = str(REPO / "nix" / "kconfig-nixpkgs.nix")
DEBUG_FRAGMENT = REPO / "kernel" / "debug.config"


LINUX_PIN = json.loads((REPO / "nix" / "sources.json").read_text())["linux"]["version"]


def _policy(*fragments: Path, version: str = LINUX_PIN) -> dict[str, dict[str, str]]:
    merged = " ".join(map(str, fragments))
    result = nix_eval(
        f'import {KCONFIG_NIXPKGS} {{ version = "{version}"; }} '
        f"(builtins.foldl' (a: f: a // import {KCONFIG} f) {{ }} [ {merged} ])"
    )
    assert isinstance(result, dict)
    return result


def test_kconfig_nixpkgs_keeps_the_default_fragment_whole() -> None:
    policy = _policy(FRAGMENT)
    assert policy == {
        "options": parse_fragment(FRAGMENT.read_text()),
        "dropped": {},
        "optional": {},
        "withdrawn": {},
    }


def test_kconfig_nixpkgs_filters_only_what_nixpkgs_cannot_honour() -> None:
    """Fragments merge in order (a later one wins); of the debug fragment, nixpkgs' GCC build
    drops KASAN (with Rust it needs clang) and FRAME_POINTER (ORC unwinder)."""
    policy = _policy(FRAGMENT, DEBUG_FRAGMENT)
    merged = parse_fragment(FRAGMENT.read_text()) | parse_fragment(DEBUG_FRAGMENT.read_text())
    dropped = {n for n in merged if re.fullmatch(r"KASAN(_\w+)?", n)}
    if merged.get("UNWINDER_FRAME_POINTER") != "y":
        dropped |= {"FRAME_POINTER"} & set(merged)
    assert set(policy["dropped"]) == dropped
    assert policy["options"] == {k: v for k, v in merged.items() if k not in dropped}
    assert set(policy["optional"]) == {"SLUB_TINY"} & set(merged)
    assert all(policy["dropped"].values()) and all(policy["optional"].values())
    # Both lockup detectors off: common-config's LOCKUP_DETECTOR (no prompt) is taken back.
    assert merged["SOFTLOCKUP_DETECTOR"] == merged["HARDLOCKUP_DETECTOR"] == "n"
    assert set(policy["withdrawn"]) == {"LOCKUP_DETECTOR"}


def test_kconfig_nixpkgs_withdraws_lockup_detector_only_when_nothing_selects_it(
    tmp_path: Path,
) -> None:
    soft_off, hard_off = (
        "# CONFIG_SOFTLOCKUP_DETECTOR is not set\n",
        "# CONFIG_HARDLOCKUP_DETECTOR is not set\n",
    )
    for text, withdrawn in [
        (soft_off + hard_off, True),
        (soft_off, False),  # common-config's HARDLOCKUP_DETECTOR = yes still selects it
        ("CONFIG_SOFTLOCKUP_DETECTOR=y\n" + hard_off, False),
    ]:
        (tmp_path / "f.config").write_text(text)
        assert ("LOCKUP_DETECTOR" in _policy(tmp_path / "f.config")["withdrawn"]) is withdrawn, text


@pytest.mark.parametrize(
    "version, says",
    [
        # The kernel Nix builds now, and 6.12.117: Kconfig itself refuses GCC KASAN with Rust.
        ("6.12.118", "RUST depends on `!KASAN || CC_IS_CLANG`"),
        ("6.12.117", "RUST depends on `!KASAN || CC_IS_CLANG`"),
        # The former pin: its Kconfig accepts GCC KASAN with Rust; the reason is the mix.
        ("6.12.64", "instruments C with GCC's KASAN and Rust with LLVM's"),
    ],
)
def test_kconfig_nixpkgs_gives_the_kasan_reason_of_the_kernel_built(
    version: str, says: str
) -> None:
    """KASAN is dropped on Nix at every 6.12.y, for the reason that holds for that kernel: the
    Kconfig rule exists only since a 2026 stable backport (issue 18, item 3)."""
    dropped = _policy(FRAGMENT, DEBUG_FRAGMENT, version=version)["dropped"]
    assert {n for n in dropped if n.startswith("KASAN")} == {
        "KASAN",
        "KASAN_GENERIC",
        "KASAN_INLINE",
    }
    assert says in dropped["KASAN"] and version in dropped["KASAN"]
    other = "instruments C" if "CC_IS_CLANG`" in says else "RUST depends on"
    assert other not in dropped["KASAN"]


def test_kconfig_nixpkgs_keeps_kasan_without_rust(tmp_path: Path) -> None:
    (tmp_path / "f.config").write_text(
        "CONFIG_KASAN=y\nCONFIG_FRAME_POINTER=y\nCONFIG_UNWINDER_FRAME_POINTER=y\n"
    )
    policy = _policy(tmp_path / "f.config")
    assert policy["dropped"] == {}


def test_docs_name_what_the_nix_debug_kernel_leaves_out() -> None:
    policy = _policy(FRAGMENT, DEBUG_FRAGMENT)
    readme = (REPO / "README.md").read_text()
    api = (REPO / "docs" / "nix-api.md").read_text()
    for name in [*policy["dropped"], *policy["optional"]]:
        assert name in api, name
    assert "KASAN" in readme


# --- sources --------------------------------------------------------------------------------

SOURCES = json.loads((REPO / "nix" / "sources.json").read_text())
NIX32 = re.compile(r"[01][0-9abcdfghijklmnpqrsvwxyz]{51}")  # sha256: 256 bits in 52 digits


def _expand(template: str, spec: dict[str, str]) -> str:
    return re.sub(r"<(\w+)>", lambda m: spec[m[1]], template)


def test_sources_json_pins() -> None:
    assert set(SOURCES) == {"nixpkgs", "linux"}
    for name, spec in SOURCES.items():
        # A real hash, or lib.fakeSha256 where none could be had (then the docs must say so).
        assert NIX32.fullmatch(spec["sha256"]) or spec["sha256"] == "0" * 64, name
        assert _expand(spec["url_template"], spec) == spec["url"], name
    nixpkgs, linux = SOURCES["nixpkgs"], SOURCES["linux"]
    assert nixpkgs["type"] == "tarball" and re.fullmatch(r"[0-9a-f]{40}", nixpkgs["rev"])
    assert (nixpkgs["owner"], nixpkgs["repo"]) == ("NixOS", "nixpkgs")
    # A release of a stable channel (Hydra-tested, binary-cached), which `prebuilt` needs: the
    # channel's own tarball, named nixos-YY.MM.<count>.<rev12>, of the branch pinned.
    release = re.fullmatch(r"nixos-(\d\d\.\d\d)\.\d+\.([0-9a-f]{12})", nixpkgs["release"])
    assert release, nixpkgs["release"]
    assert nixpkgs["branch"] == f"nixos-{release[1]}"
    assert nixpkgs["rev"].startswith(release[2])
    assert nixpkgs["url"] == (
        f"https://releases.nixos.org/nixos/{release[1]}/{nixpkgs['release']}/nixexprs.tar.xz"
    )
    assert linux["type"] == "file"  # a flat-file hash, as in nixpkgs' kernels-org.json
    major, minor, patch = map(int, linux["version"].split("."))
    assert linux["major"] == str(major)
    # 6.12.y with y >= 19: the module targets the KBox/KVec API backported in 6.12.19.
    assert (major, minor) == (6, 12) and patch >= 19


def test_docs_say_which_pinned_hash_is_a_placeholder() -> None:
    readme, api = (REPO / "README.md").read_text(), (REPO / "docs" / "nix-api.md").read_text()
    for name, spec in SOURCES.items():
        if spec["sha256"] == "0" * 64:
            for doc in (readme, api):
                assert "placeholder" in doc and spec["version" if name == "linux" else "rev"] in doc


SOURCES_NIX = str(REPO / "nix" / "sources.nix")


def test_sources_override_absolute_and_relative(tmp_path: Path) -> None:
    expr = f'map (n: toString (import {SOURCES_NIX}).${{n}}.outPath) [ "linux" "nixpkgs" ]'
    env = {"NIV_OVERRIDE_linux": "/srv/linux", "NIV_OVERRIDE_nixpkgs": "np", "PWD": str(tmp_path)}
    assert nix_eval(expr, env=env, cwd=tmp_path) == ["/srv/linux", f"{tmp_path}/np"]


def test_sources_spec_fields_and_names(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(
        json.dumps(
            {
                "my-src.v2": {"type": "local", "path": "/etc", "extra": "kept"},
                "plain": {"type": "local", "path": "/usr"},
            }
        )
    )
    # (An attrset with outPath would print as its path: report it under another name.)
    expr = (
        f'builtins.mapAttrs (_: s: removeAttrs s [ "outPath" ] // {{ out = toString s; }}) '
        f"(import {SOURCES_NIX} {{ sourcesFile = {tmp_path}/s.json; pkgs = null; }})"
    )
    # Non-alphanumerics in the name become "_" in the variable, as in niv.
    result = nix_eval(expr, env={"NIV_OVERRIDE_my_src_v2": "/opt"})
    assert result == {
        "my-src.v2": {"type": "local", "path": "/etc", "extra": "kept", "out": "/opt"},
        "plain": {"type": "local", "path": "/usr", "out": "/usr"},
    }


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"path": "/etc"}, "does not have a 'type' attribute"),
        ({"type": "svn"}, "has unknown type"),
        ({"type": "local", "path": "/etc", "outPath": "/x"}, "should not have an 'outPath'"),
    ],
)
def test_sources_reject(tmp_path: Path, spec: dict[str, str], message: str) -> None:
    (tmp_path / "s.json").write_text(json.dumps({"x": spec}))
    with pytest.raises(NixError, match=message):
        nix_eval(f"toString (import {SOURCES_NIX} {{ sourcesFile = {tmp_path}/s.json; }}).x")


# --- linters and docs -----------------------------------------------------------------------


def test_deadnix_clean() -> None:
    deadnix = str(cargo_tool("deadnix"))
    # The models keep nixpkgs' argument lists (unused names included): only -L for them.
    for args in (NIX_FILES, ["--no-lambda-pattern-names", *MODEL_FILES]):
        proc = subprocess.run(
            [deadnix, "--fail", *map(str, args)], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_nixpkgs_fmt_clean() -> None:
    proc = subprocess.run(
        [str(cargo_tool("nixpkgs-fmt")), "--check", *map(str, NIX_FILES + MODEL_FILES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_statix_clean() -> None:
    # statix is not published on crates.io (the crate named `statix` there is an unrelated HTTP
    # server) nor in any other registry these machines reach, so provisioning cannot install it.
    statix = shutil.which("statix")
    if statix is None:
        pytest.skip(
            "statix unavailable: not on crates.io; where nixpkgs is at hand run "
            "`nix-shell -p statix --run 'statix check .'`"
        )
    proc = subprocess.run([statix, "check", str(REPO)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_linters_catch_problems(tmp_path: Path) -> None:
    """The two linters really fail on what they are for (so a clean run means something)."""
    bad = tmp_path / "bad.nix"
    bad.write_text("{a,b}:   let c = 1; in a\n")
    for crate, flag in (("deadnix", "--fail"), ("nixpkgs-fmt", "--check")):
        proc = subprocess.run(
            [str(cargo_tool(crate)), flag, str(bad)], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode != 0, crate


def test_nix_api_doc_names_everything_used() -> None:
    doc = (REPO / "docs" / "nix-api.md").read_text()
    used: set[str] = set()
    for path in NIX_FILES:
        text = path.read_text()
        used |= set(re.findall(r"\blib\.[A-Za-z0-9_']+(?:\.[A-Za-z0-9_']+)*", text))
        used |= set(re.findall(r"\bpkgs\.[A-Za-z0-9_-]+", text))
    assert "lib.mkForce" in used and "pkgs.testers" in used  # the scan itself works
    missing = sorted(name for name in used if name not in doc)
    assert missing == []
