"""Node descriptions: the one checked-in definition of every test and its VM nodes.

`testscripts/tests.toml` is read here for the portable runner and by `nix/nodes.nix` for
`test.nix`, so both paths boot the same node set.  Addressing follows the NixOS test
framework: on VLAN v, the n-th node in alphabetical order gets 192.168.v.n.
"""

from __future__ import annotations

import keyword
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from printerfact.host.paths import REPO_ROOT

DEFAULT_TESTS_FILE = REPO_ROOT / "testscripts" / "tests.toml"
# Runs after every testscript, in its namespace (test.nix appends it to each testScript).
KERNEL_LOG_GUARD = REPO_ROOT / "testscripts" / "kernel_log_guard.py"

# Commands a node may ask for beyond the base system (printerfact.image.packages maps them to
# Debian's packages, nix/nixos-node.nix to nixpkgs').
KNOWN_PACKAGES = frozenset({"busybox", "stress-ng", "trinity"})

# A node's name is its host name on NixOS (nixos/lib/testing/network.nix: `networking.hostName
# = mkDefault config.virtualisation.test.nodeName`), so it must pass the type of that option
# (nixos/modules/tasks/network-interfaces.nix: a DNS label; underscores allowed "for
# compatibility/legacy reasons").  Any such name yields a Python identifier (`python_name`).
_NODE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$")
_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
# A PyPI project name (PEP 508); test.nix turns it into nixpkgs' attribute (PEP 503).
_PYPI_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_NODE_KEYS = {"module_at_boot", "services", "vlans", "memory_mb", "cpus", "users", "packages"}
# runNixOSTest's own options (nixos/lib/testing/*.nix), under their names, at the test level.
_TEST_KEYS = {"script", "nodes", "globalTimeout", "skipTypeCheck", "skipLint",
              "extraPythonPackages", "sshBackdoor", "enableDebugHook"}  # fmt: skip
DEFAULT_GLOBAL_TIMEOUT = 60 * 60  # nixos/lib/testing/driver.nix: globalTimeout's default


def pythonize(name: str) -> str:
    """A node name as the testscript's variable, as nixpkgs' pythonizeName
    (nixos/lib/testing/driver.nix): a leading non-letter and every character outside
    [A-Za-z0-9_] become `_` (so `a-b` is `a_b`, `1st` is `_st`)."""
    return re.sub(r"^[^A-Za-z_]|[^A-Za-z0-9_]", "_", name)


class NodeDescriptionError(ValueError):
    """The tests file says something the runner cannot honour."""


@dataclass(frozen=True)
class NodeSpec:
    name: str
    module_at_boot: bool = True
    services: dict[str, str] = field(default_factory=dict)
    vlans: tuple[int, ...] = (1,)
    memory_mb: int = 1024
    cpus: int = 1
    users: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()

    @property
    def python_name(self) -> str:
        """The testscript variable for this node (`pythonize`)."""
        return pythonize(self.name)

    @property
    def hostname(self) -> str:
        """The host name NixOS's test framework gives the node: its name."""
        return self.name


@dataclass(frozen=True)
class TestSpec:
    name: str
    script: Path
    nodes: tuple[NodeSpec, ...]
    # Run after `script` in the same namespace: the testScript nixpkgs sees is their
    # concatenation (see `script_parts`).
    postscripts: tuple[Path, ...] = (KERNEL_LOG_GUARD,)
    # runNixOSTest's options: None means not set (DEFAULT_GLOBAL_TIMEOUT, or the runner's
    # own --global-timeout); extra_python_packages are PyPI names.
    global_timeout: int | None = None
    skip_type_check: bool = False
    skip_lint: bool = False
    extra_python_packages: tuple[str, ...] = ()
    # nixpkgs' ways into a test (sshBackdoor.enable, enableDebugHook), for NixOS; the portable
    # runner's are always there (`printerfact attach`, `run --debug-on-failure`).
    ssh_backdoor: bool = False
    enable_debug_hook: bool = False

    def script_parts(self) -> list[tuple[Path, str]]:
        """(file, text) of the script and each postscript, in the order they run."""
        return [(p, p.read_text()) for p in (self.script, *self.postscripts)]

    def full_script(self) -> tuple[str, list[tuple[Path, int]]]:
        """The testScript as test.nix builds it (the parts joined by newlines), and where each
        part starts in it: (file, first line) pairs, for mapping findings back."""
        text, starts = "", []
        for path, part in self.script_parts():
            if text and not text.endswith("\n"):
                text += "\n"
            starts.append((path, text.count("\n") + 1))
            text += part
        return text, starts

    def node_number(self, node: str) -> int:
        """1-based position of `node` in alphabetical order (the last octet of its address)."""
        return sorted(n.name for n in self.nodes).index(node) + 1

    def address(self, node: str, vlan: int) -> str:
        return f"192.168.{vlan}.{self.node_number(node)}"

    def hosts(self) -> dict[str, str]:
        """name -> address on the node's first VLAN, for every node (its /etc/hosts)."""
        return {n.name: self.address(n.name, n.vlans[0]) for n in self.nodes if n.vlans}

    @property
    def vlans(self) -> tuple[int, ...]:
        return tuple(sorted({v for n in self.nodes for v in n.vlans}))


def _node(name: str, raw: dict[str, object], where: str) -> NodeSpec:
    if not _NODE_NAME.match(name):
        raise NodeDescriptionError(
            f"{where}: node name {name!r} is not a host name NixOS accepts"
            f" (networking.hostName: {_NODE_NAME.pattern})"
        )
    if keyword.iskeyword(pythonize(name)):
        raise NodeDescriptionError(f"{where}: node name {name!r} is a Python keyword")
    unknown = set(raw) - _NODE_KEYS
    if unknown:
        raise NodeDescriptionError(f"{where}: unknown keys {sorted(unknown)}")
    services = raw.get("services", {})
    if not isinstance(services, dict) or not all(
        isinstance(k, str) and _SERVICE_NAME.match(k) and isinstance(v, str)
        for k, v in services.items()
    ):
        raise NodeDescriptionError(f"{where}: services must map names to command strings")
    packages = tuple(_str_list(raw.get("packages", []), f"{where}.packages"))
    if not set(packages) <= KNOWN_PACKAGES:
        raise NodeDescriptionError(
            f"{where}: unknown packages {sorted(set(packages) - KNOWN_PACKAGES)}; "
            f"known: {sorted(KNOWN_PACKAGES)}"
        )
    vlans = tuple(_int_list(raw.get("vlans", [1]), f"{where}.vlans"))
    if any(not 1 <= v <= 254 for v in vlans):
        raise NodeDescriptionError(f"{where}: VLAN numbers must be 1..254")
    return NodeSpec(
        name=name,
        module_at_boot=bool(raw.get("module_at_boot", True)),
        services=dict(services),
        vlans=vlans,
        memory_mb=_positive_int(raw.get("memory_mb", 1024), f"{where}.memory_mb"),
        cpus=_positive_int(raw.get("cpus", 1), f"{where}.cpus"),
        users=tuple(_str_list(raw.get("users", []), f"{where}.users")),
        packages=packages,
    )


def _str_list(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise NodeDescriptionError(f"{where} must be a list of strings")
    return value


def _int_list(value: object, where: str) -> list[int]:
    if not isinstance(value, list) or not all(type(v) is int for v in value):
        raise NodeDescriptionError(f"{where} must be a list of integers")
    return value


def _bool(value: object, where: str) -> bool:
    if type(value) is not bool:
        raise NodeDescriptionError(f"{where} must be true or false")
    return value


def _positive_int(value: object, where: str) -> int:
    if type(value) is not int or value <= 0:
        raise NodeDescriptionError(f"{where} must be a positive integer")
    return value


def load_tests(path: Path = DEFAULT_TESTS_FILE) -> dict[str, TestSpec]:
    """Parse the tests file; the order of tests is the file's order."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise NodeDescriptionError(f"{path}: {e}") from e
    tests: dict[str, TestSpec] = {}
    for test_name, raw_test in data.get("tests", {}).items():
        where = f"{path.name}: tests.{test_name}"
        unknown = set(raw_test) - _TEST_KEYS
        if unknown:
            raise NodeDescriptionError(f"{where}: unknown keys {sorted(unknown)}")
        # No nodes is valid, as in nixpkgs (`nodes` defaults to {}).
        nodes_raw = raw_test.get("nodes", {})
        nodes = tuple(_node(n, r, f"{where}.nodes.{n}") for n, r in nodes_raw.items())
        clashes = _python_name_clashes(nodes)
        if clashes:
            raise NodeDescriptionError(f"{where}: nodes {clashes} are one variable in the script")
        script = path.parent / raw_test.get("script", f"{test_name}.py")
        if not script.is_file():
            raise NodeDescriptionError(f"{where}: testscript {script} does not exist")
        timeout = raw_test.get("globalTimeout")
        packages = tuple(_str_list(raw_test.get("extraPythonPackages", []),
                                   f"{where}.extraPythonPackages"))  # fmt: skip
        bad = [p for p in packages if not _PYPI_NAME.match(p)]
        if bad:
            raise NodeDescriptionError(f"{where}.extraPythonPackages: not PyPI names: {bad}")
        tests[test_name] = TestSpec(
            name=test_name,
            script=script,
            nodes=nodes,
            global_timeout=None
            if timeout is None
            else _positive_int(timeout, f"{where}.globalTimeout"),
            skip_type_check=_bool(raw_test.get("skipTypeCheck", False), f"{where}.skipTypeCheck"),
            skip_lint=_bool(raw_test.get("skipLint", False), f"{where}.skipLint"),
            extra_python_packages=packages,
            ssh_backdoor=_bool(raw_test.get("sshBackdoor", False), f"{where}.sshBackdoor"),
            enable_debug_hook=_bool(
                raw_test.get("enableDebugHook", False), f"{where}.enableDebugHook"
            ),
        )
    return tests


def _python_name_clashes(nodes: tuple[NodeSpec, ...]) -> list[str]:
    """Node names that map to one variable (`a-b` and `a_b`): nixpkgs would silently give
    the script only one of them."""
    seen: dict[str, list[str]] = {}
    for n in nodes:
        seen.setdefault(n.python_name, []).append(n.name)
    return [name for names in seen.values() if len(names) > 1 for name in names]


def to_json_model(test: TestSpec) -> dict[str, object]:
    """The normalised description, in the shape `nix/nodes.nix` produces for the same test.

    A test compares the two, so the Nix and portable paths cannot drift apart.
    """
    return {
        "nodes": {
            n.name: {
                "module_at_boot": n.module_at_boot,
                "services": n.services,
                "vlans": list(n.vlans),
                "memory_mb": n.memory_mb,
                "cpus": n.cpus,
                "users": list(n.users),
                "packages": list(n.packages),
                "addresses": [test.address(n.name, v) for v in n.vlans],
                "hostname": n.hostname,
                "python_name": n.python_name,
            }
            for n in test.nodes
        },
        "hosts": test.hosts(),
        "globalTimeout": test.global_timeout or DEFAULT_GLOBAL_TIMEOUT,
        "skipTypeCheck": test.skip_type_check,
        "skipLint": test.skip_lint,
        "extraPythonPackages": list(test.extra_python_packages),
        "sshBackdoor": test.ssh_backdoor,
        "enableDebugHook": test.enable_debug_hook,
    }
