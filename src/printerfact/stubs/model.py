"""The stubs read as data: which modules a channel has, their public names, a class's members
(its bases' included).  tests/test_api_conformance.py holds the driver, `printerfact.test_driver`
and docs/api-conformance.md to this.  Only the stubs' own forms are understood: top-level
`def`, `class`, annotated names, and re-exports written `from m import X as X`.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from printerfact.stubs import Channel


def modules(channel: Channel) -> dict[str, Path]:
    """Dotted module name -> stub file, for the channel's `test_driver` package."""
    found = {}
    for path in sorted((channel.stubs_dir / "test_driver").rglob("*.pyi")):
        parts = path.relative_to(channel.stubs_dir).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _file(channel: Channel, module: str) -> Path:
    for base in channel.search_path:
        for path in (
            (base / module.replace(".", "/")).with_suffix(".pyi"),
            (base / module.replace(".", "/") / "__init__.pyi"),
        ):
            if path.is_file():
                return path
    raise KeyError(f"{channel.name}: no stub for {module}")


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


def _imports(tree: ast.Module) -> dict[str, tuple[str, str]]:
    """Local name -> (module, name) for every `from m import n [as local]`."""
    return {
        a.asname or a.name: (n.module or "", a.name)
        for n in tree.body
        if isinstance(n, ast.ImportFrom)
        for a in n.names
    }


def public_names(channel: Channel, module: str, *, nixpkgs_reexports: bool = True) -> list[str]:
    """What `from <module> import X` finds: definitions and explicit re-exports; without
    `nixpkgs_reexports`, not the names nixpkgs' module itself imports from another
    `test_driver` module (those from nixpkgs_common count as the module's own)."""
    names: list[str] = []
    for n in _tree(_file(channel, module)).body:
        if isinstance(n, ast.ClassDef | ast.FunctionDef):
            names.append(n.name)
        elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
            names.append(n.target.id)
        elif isinstance(n, ast.ImportFrom):
            if nixpkgs_reexports or not (n.module or "").startswith("test_driver"):
                names += [a.name for a in n.names if a.asname == a.name]
    return [n for n in names if not n.startswith("_")]


def _class(channel: Channel, module: str, name: str) -> tuple[str, ast.ClassDef]:
    """The module that defines `name` (following re-exports) and its class statement."""
    tree = _tree(_file(channel, module))
    for n in tree.body:
        if isinstance(n, ast.ClassDef) and n.name == name:
            return module, n
    source, original = _imports(tree)[name]
    return _class(channel, source, original)


def class_members(channel: Channel, module: str, name: str) -> list[str]:
    """Public attributes and methods of a class, its bases' first (in the stubs' terms)."""
    where, node = _class(channel, module, name)
    members: list[str] = []
    for base in node.bases:
        if isinstance(base, ast.Name) and base.id not in ("ABC", "object"):
            members += class_members(channel, where, base.id)
    for n in node.body:
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
            members.append(n.target.id)
        elif isinstance(n, ast.FunctionDef):
            members.append(n.name)
    return [m for m in dict.fromkeys(members) if not m.startswith("_")]
