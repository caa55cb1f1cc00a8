"""The APIs a testscript is checked against: each supported nixpkgs channel's (stubs) and
ours (introspected).

An `ApiModel` gives, per test, the names pyflakes must accept as builtins, the typed header
mypy sees before the script, and the stub files mypy needs beside it.  Ours is derived from
the Driver's own tables (`Driver.SCRIPT_ATTRIBUTES`, `SCRIPT_VALUES`), from which
`Driver.test_symbols()` is built too, so they stay the only list of our symbols (no Driver is
made to read them), and its `test_driver` modules from `printerfact.test_driver`, which the
script imports at run time.
"""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from printerfact.driver.driver import Driver
from printerfact.driver.script_imports import NIXPKGS_PACKAGE, PACKAGE, modules
from printerfact.nodes import TestSpec
from printerfact.stubs import CHANNELS, Channel

# nixpkgs runs `mypy --no-implicit-optional --pretty --no-color-output`; --pretty only changes
# the display, so it is left out here.
NIXPKGS_MYPY_FLAGS = ("--no-implicit-optional",)


@dataclass(frozen=True)
class ApiModel:
    label: str
    slug: str
    search_path: tuple[Path, ...]
    mypy_flags: tuple[str, ...]
    symbols: Callable[[TestSpec], set[str]]
    header: Callable[[TestSpec], str]
    nixpkgs: bool  # a channel's model (the script must pass one of them), or ours
    # Stub files to write on mypy's path first: relative path -> text.
    stub_files: Callable[[], dict[str, str]] = dict


def node_symbols(test: TestSpec) -> list[str]:
    """Node variables, plus `machine` when there is one node (nixpkgs' `theOnlyMachine`)."""
    names = [n.python_name for n in test.nodes]
    if len(names) == 1 and "machine" not in names:
        names.append("machine")
    return names


def channel_api(channel: Channel) -> ApiModel:
    prepend = channel.prepend.read_text()

    def header(test: TestSpec) -> str:
        # The same concatenation as driver.nix: prepend, node hints (one line), VLAN hints.
        nodes = " ".join(f"{n}: {channel.node_class};" for n in node_symbols(test))
        vlans = "\n".join(f"vlan{v}: VLan" for v in test.vlans)
        return f"{prepend}{nodes}\n{vlans}\n"

    return ApiModel(
        label=channel.name,
        slug=channel.name,
        search_path=channel.search_path,
        mypy_flags=NIXPKGS_MYPY_FLAGS,
        symbols=lambda test: set(channel.driver_symbols) | set(node_symbols(test)),
        header=header,
        nixpkgs=True,
    )


def channel_apis() -> list[ApiModel]:
    return [channel_api(c) for c in CHANNELS]


def printerfact_api() -> ApiModel:
    return ApiModel(
        label="printerfact driver",
        slug="printerfact",
        search_path=(Path(__file__).resolve().parents[2],),
        mypy_flags=NIXPKGS_MYPY_FLAGS,
        symbols=lambda test: (
            {*SPECIAL, *Driver.SCRIPT_ATTRIBUTES, *Driver.SCRIPT_VALUES} | set(node_symbols(test))
        ),
        header=typed_header,
        nixpkgs=False,
        stub_files=test_driver_stubs,
    )


# The symbols that are neither a Driver attribute nor a fixed value (typed_header declares them).
SPECIAL = ("driver", "t")


def test_driver_stubs() -> dict[str, str]:
    """`test_driver/...pyi` re-exporting `printerfact.test_driver`: what a script's
    `import test_driver...` finds at run time (`printerfact.driver.script_imports`)."""

    files = {}
    for alias, module in modules().items():
        path = alias.replace(".", "/")
        is_package = hasattr(module, "__path__")
        name = f"{path}/__init__.pyi" if is_package else f"{path}.pyi"
        source = PACKAGE + alias.removeprefix(NIXPKGS_PACKAGE)
        files[name] = f"from {source} import *\n"
    return files


def typed_header(test: TestSpec) -> str:
    """Python declarations giving every symbol of `Driver.test_symbols()` for `test` its type,
    from the Driver's tables and annotations (no Driver is made)."""
    lines = [
        "from typing import Any, Callable",
        "from printerfact.driver.driver import AssertionTester as _pf_tester",
        "from printerfact.driver.driver import Driver as _pf_driver",
        "from printerfact.driver.machine import Machine as _pf_machine",
        "driver: _pf_driver",
        "t: _pf_tester",
    ]
    lines += [f"{name} = driver.{attr}" for name, attr in Driver.SCRIPT_ATTRIBUTES.items()]
    for i, (name, value) in enumerate(Driver.SCRIPT_VALUES.items()):
        lines += _declare(name, value, f"_pf{i}")
    lines += [f"{n}: _pf_machine" for n in node_symbols(test)]
    return "\n".join(lines) + "\n"


def _declare(name: str, value: Any, alias: str) -> list[str]:
    if isinstance(value, types.ModuleType):
        return [f"import {value.__name__} as {name}"]
    if inspect.isclass(value) or inspect.isfunction(value):
        where = _importable(value)
        if where:
            return [f"from {where[0]} import {where[1]} as {name}"]
        return [f"{name}: Callable[..., Any]"]
    if inspect.ismethod(value):
        owner = _importable(type(value.__self__))
        if owner:
            # A bound method: its type comes from the class's annotations.
            return [
                f"from {owner[0]} import {owner[1]} as {alias}",
                f"{alias}_self: {alias}",
                f"{name} = {alias}_self.{value.__name__}",
            ]
        return [f"{name}: Callable[..., Any]"]
    if isinstance(value, list):
        classes = {type(v) for v in value}
        if len(classes) == 1:
            cls = _importable_base(classes.pop())
            if cls:
                return [f"from {cls[0]} import {cls[1]} as {alias}", f"{name}: list[{alias}]"]
        return [f"{name}: list[Any]"]
    cls = _importable_base(type(value))
    if cls:
        return [f"from {cls[0]} import {cls[1]} as {alias}", f"{name}: {alias}"]
    return [f"{name}: Any"]


def _importable(obj: Any) -> tuple[str, str] | None:
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if not module or "<" in qualname or "." in qualname:
        return None
    return (module, qualname) if getattr(sys.modules.get(module), qualname, None) is obj else None


def _importable_base(cls: type) -> tuple[str, str] | None:
    """The first class in the MRO that can be imported by name (e.g. a local subclass's base)."""
    for base in cls.__mro__:
        where = _importable(base)
        if where and base is not object:
            return where
    return None
