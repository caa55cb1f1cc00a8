"""nixpkgs' test-driver API (the stubs), our driver, stubs/unsupported.py and the table in
docs/api-conformance.md say the same thing, name by name (no VM: a driver that boots nothing)."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from printerfact import nodes
from printerfact.build.paths import REPO_ROOT
from printerfact.nodes import NodeSpec
from printerfact.stubs import DRIVER_SYMBOLS, NIXPKGS_STUBS_DIR, unsupported
from printerfact.stubs.api import driver_symbols

DOC = REPO_ROOT / "docs" / "api-conformance.md"
STUB_CLASSES = {"Machine": "machine.pyi", "Driver": "driver.pyi", "VLan": "vlan.pyi"}
SECTIONS = {"Machine": "Machine", "Driver": "Driver", "VLan": "VLan", "symbols": "Symbols"}
_ROW = re.compile(r"^\| `([\w<>, `]+)` \| (implemented|rejected) \|")


def stub_names(cls: str) -> list[str]:
    """Public attributes and methods of a class in nixpkgs' stubs."""
    tree = ast.parse((NIXPKGS_STUBS_DIR / "test_driver" / STUB_CLASSES[cls]).read_text())
    body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls).body
    names = [n.target.id for n in body if isinstance(n, ast.AnnAssign)]  # type: ignore[union-attr]
    names += [n.name for n in body if isinstance(n, ast.FunctionDef)]
    return [n for n in names if not n.startswith("_")]


def doc_table(section: str) -> dict[str, str]:
    """name -> implemented/rejected, from the table under `## <section>...`."""
    rows: dict[str, str] = {}
    current = None
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            current = line[3:]
        elif current is not None and current.startswith(section):
            m = _ROW.match(line)
            if m:
                rows[m[1]] = m[2]
    return rows


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


@pytest.mark.parametrize("cls", list(STUB_CLASSES))
def test_every_nixpkgs_name_is_implemented_or_rejected_with_a_reason(
    cls: str, ours: dict[str, Any]
) -> None:
    rejected = unsupported.BY_CLASS[cls]
    for name in stub_names(cls):
        assert hasattr(ours[cls], name) != (name in rejected), f"{cls}.{name}"
    assert set(rejected) <= set(stub_names(cls)), "unsupported.py names what nixpkgs lacks"


def test_every_driver_symbol_is_provided_or_rejected(ours: dict[str, Any]) -> None:
    for name in DRIVER_SYMBOLS:
        assert (name in ours["symbols"]) != (name in unsupported.SYMBOLS), name


@pytest.mark.parametrize("cls", list(STUB_CLASSES))
def test_the_docs_table_lists_every_name_with_its_status(cls: str) -> None:
    table = doc_table(SECTIONS[cls])
    assert sorted(table) == sorted(stub_names(cls)), f"docs/api-conformance.md, ## {cls}"
    for name, status in table.items():
        assert (status == "rejected") == (name in unsupported.BY_CLASS[cls]), f"{cls}.{name}"


def test_the_docs_table_lists_every_driver_symbol() -> None:
    table = doc_table(SECTIONS["symbols"])
    table.pop("<node>`, `machine", None)
    assert set(table) == set(DRIVER_SYMBOLS)
    for name, status in table.items():
        assert (status == "rejected") == (name in unsupported.SYMBOLS), name


def test_machines_are_sorted_by_name(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text("")
    specs = (NodeSpec("zeta"), NodeSpec("alpha"), NodeSpec("mid-1"))
    symbols = driver_symbols(nodes.TestSpec("sorted", tmp_path / "s.py", specs))
    assert [m.name for m in symbols["machines"]] == ["alpha", "mid-1", "zeta"]
    assert symbols["mid_1"].name == "mid-1"
