"""nixpkgs' test-driver API (each channel's stubs), our driver, `printerfact.test_driver` and
the tables in docs/api-conformance.md say the same thing, name by name (no VM: a driver that
boots nothing)."""

from __future__ import annotations

import importlib
import inspect
import io
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

from printerfact import nodes
from printerfact.driver import errors, machine
from printerfact.driver.driver import Driver
from printerfact.driver.logger import TerminalLogger
from printerfact.driver.script_imports import modules as runtime_modules
from printerfact.driver.script_imports import nixpkgs_modules
from printerfact.driver.unavailable import UnavailableClass, unavailable_names
from printerfact.host.paths import REPO_ROOT
from printerfact.kernel.artifacts import Artifacts
from printerfact.nodes import NodeSpec
from printerfact.stubs import CHANNELS, NIXOS_25_05, NIXOS_26_05, Channel, model
from printerfact.stubs.api import printerfact_api

DOC = REPO_ROOT / "docs" / "api-conformance.md"
_STATUS = "implemented|feature absent|unavailable"
_ROW = re.compile(rf"^\| `([^`]+)` \| (both|25\.05|26\.05) \| ({_STATUS}) \|(.*)\|$")
# Per channel: the stub classes each of our objects stands for, as (module, class).
CLASSES: dict[str, dict[Channel, list[tuple[str, str]]]] = {
    "Machine": {
        NIXOS_25_05: [("test_driver.machine", "Machine")],
        NIXOS_26_05: [("test_driver.machine", c) for c in ("BaseMachine", "QemuMachine")],
    },
    "Driver": {c: [("test_driver.driver", "Driver")] for c in CHANNELS},
    "VLan": {c: [("test_driver.vlan", "VLan")] for c in CHANNELS},
}  # fmt: skip


def channels_of(names: dict[Channel, set[str]]) -> dict[str, str]:
    """name -> the docs' channels column: "both", or the one channel that has it."""
    found: dict[str, str] = {}
    for channel, have in names.items():
        for name in have:
            short = channel.name.removeprefix("nixos-")
            found[name] = "both" if name in found else short
    return found


def stub_members(cls: str) -> dict[str, str]:
    return channels_of(
        {
            c: {m for module, k in where for m in model.class_members(c, module, k)}
            for c, where in CLASSES[cls].items()
        }
    )


def stub_module_names(nixpkgs_reexports: bool) -> dict[str, str]:
    """`module.name` -> channels, for every public module-level name of every channel."""
    return channels_of(
        {
            c: {
                f"{m}.{n}"
                for m in model.modules(c)
                for n in model.public_names(c, m, nixpkgs_reexports=nixpkgs_reexports)
            }
            for c in CHANNELS
        }
    )


def doc_table(section: str) -> dict[str, tuple[str, str, str]]:
    """name -> (channels, status, notes), from the table under `## <section>...`."""
    rows: dict[str, tuple[str, str, str]] = {}
    current = None
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            current = line[3:]
        elif current is not None and current.startswith(section):
            m = _ROW.match(line)
            if m:
                rows[m[1]] = (m[2], m[3], m[4].strip())
    return rows


def driver_symbols(test: nodes.TestSpec) -> dict[str, Any]:
    """`Driver.test_symbols()` for `test`, from a driver that boots nothing (the static checks
    read the Driver's tables instead: test_the_static_checks_see_the_drivers_symbols).

    TCG is forced (no KVM probe), initrds are never built (no machine starts), and the
    driver's log goes nowhere.
    """
    missing = Path("/nonexistent/printerfact-static-check")
    fake = Artifacts(
        kernel_image=missing,
        kernel_release="0",
        kbuild_dir=missing,
        module_ko=missing,
        initrd=missing,
    )
    quiet = TerminalLogger(stream=io.StringIO(), color=False)
    with tempfile.TemporaryDirectory(prefix="printerfact-symbols-") as out:
        with Driver(
            test, fake, Path(out), logger=quiet, accel="tcg", initrd_for=lambda node, dest: missing
        ) as driver:
            return dict(driver.test_symbols())


def test_the_static_checks_see_the_drivers_symbols(tmp_path: Path) -> None:
    # What pyflakes and mypy are told a script has is what the driver gives it at run time.
    (tmp_path / "s.py").write_text("")
    test = nodes.TestSpec("two", tmp_path / "s.py", (NodeSpec("a-1"), NodeSpec("b")))
    assert printerfact_api().symbols(test) == set(driver_symbols(test))
    one = nodes.TestSpec("one", tmp_path / "s.py", (NodeSpec("solo"),))
    assert printerfact_api().symbols(one) == set(driver_symbols(one))


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Our driver's objects for a test with one node on a VLAN (nothing boots)."""
    tmp = tmp_path_factory.mktemp("api")
    (tmp / "s.py").write_text("")
    symbols = driver_symbols(
        nodes.TestSpec("api", tmp / "s.py", (NodeSpec("machine", vlans=(1,)),))
    )
    return {
        "Machine": symbols["machine"],
        "Driver": symbols["driver"],
        "VLan": symbols["vlans"][0],
        "symbols": symbols,
    }


def has(obj: object, name: str) -> bool:
    """Whether `obj` has `name` at all (an unavailable attribute counts; nothing is read)."""
    try:
        inspect.getattr_static(obj, name)
    except AttributeError:
        return False
    return True


@pytest.mark.parametrize("cls", list(CLASSES))
def test_every_name_of_either_channel_is_on_our_class(cls: str, ours: dict[str, Any]) -> None:
    obj = ours[cls]
    missing = [name for name in stub_members(cls) if not has(obj, name)]
    assert missing == [], f"our {type(obj).__name__} lacks {missing}"
    # Nothing is declared unavailable that nixpkgs lacks.
    assert set(unavailable_names(type(obj))) <= set(stub_members(cls))


def test_every_symbol_of_either_channel_is_provided(ours: dict[str, Any]) -> None:
    for channel in CHANNELS:
        missing = set(channel.driver_symbols) - set(ours["symbols"])
        assert missing == set(), f"{channel.name}: {sorted(missing)}"
    for name in ("Machine", "BaseMachine", "QemuMachine"):
        assert ours["symbols"][name] is type(ours["Machine"])
    assert ours["symbols"]["machines_nspawn"] == []
    assert ours["symbols"]["machines_qemu"] == ours["symbols"]["machines"]


def test_the_runtime_test_driver_has_each_channels_modules_and_names() -> None:
    runtime = runtime_modules()
    expected = {m for c in CHANNELS for m in model.modules(c)}
    assert set(runtime) == expected, "printerfact.test_driver: modules nixpkgs lacks, or missing"
    for dotted in stub_module_names(nixpkgs_reexports=True):
        module, _, name = dotted.rpartition(".")
        assert hasattr(runtime[module], name), dotted


@pytest.mark.parametrize("cls", list(CLASSES))
def test_the_docs_table_lists_every_name_with_its_channels_and_status(
    cls: str, ours: dict[str, Any]
) -> None:
    table = doc_table(cls)
    expected = stub_members(cls)
    assert {n: t[0] for n, t in table.items()} == expected, f"docs, ## {cls}: names/channels"
    reasons = unavailable_names(type(ours[cls]))
    for name, (_, status, notes) in table.items():
        assert (status == "unavailable") == (name in reasons), f"{cls}.{name}"
        if name in reasons:
            assert reasons[name] in notes, f"{cls}.{name}: the docs quote the reason"


def test_the_docs_table_lists_every_symbol(ours: dict[str, Any]) -> None:
    table = doc_table("Symbols")
    assert table.pop("<node>")[1] == "implemented"
    assert {n: t[0] for n, t in table.items()} == channels_of(
        {c: set(c.driver_symbols) for c in CHANNELS}
    )
    driver_reasons = unavailable_names(type(ours["Driver"]))
    for name, (_, status, notes) in table.items():
        value = ours["symbols"][name]
        reason = driver_reasons.get(getattr(value, "__name__", ""), None)
        assert (status == "unavailable") == (reason is not None), name
        assert reason is None or reason in notes, name


def test_the_docs_table_lists_every_module_name() -> None:
    table = doc_table("Modules")
    assert {n: t[0] for n, t in table.items()} == stub_module_names(nixpkgs_reexports=False)
    runtime = runtime_modules()
    for dotted, (_, status, notes) in table.items():
        module, _, name = dotted.rpartition(".")
        value = runtime[module].__dict__[name]
        stand_in = inspect.isclass(value) and issubclass(value, UnavailableClass)
        assert (status == "unavailable") == stand_in, dotted
        assert not stand_in or value.reason in notes, dotted


def test_modules_are_importable_only_while_a_script_runs(tmp_path: Path) -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("test_driver.machine")
    with nixpkgs_modules(), nixpkgs_modules():  # nested: the REPL's test_script()
        from test_driver.errors import RequestedAssertionFailed  # type: ignore[import-not-found]
        from test_driver.machine import Machine  # type: ignore[import-not-found]

        assert Machine is machine.Machine
        assert RequestedAssertionFailed is errors.RequestedAssertionFailed
        assert importlib.import_module("test_driver.machine.qmp").QMPSession
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("test_driver")


def test_machines_are_sorted_by_name(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text("")
    specs = (NodeSpec("zeta"), NodeSpec("alpha"), NodeSpec("mid-1"))
    symbols = driver_symbols(nodes.TestSpec("sorted", tmp_path / "s.py", specs))
    assert [m.name for m in symbols["machines"]] == ["alpha", "mid-1", "zeta"]
    assert symbols["mid_1"].name == "mid-1"
