"""The import graph between printerfact's parts (its packages and top-level modules) has no
cycle, and the parts that run before the venv exists import only the standard library.

Read with ast, so every import counts: function-local ones and `if TYPE_CHECKING:` ones too.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from printerfact.host import paths

SRC = paths.REPO_ROOT / "src" / "printerfact"
# What runs on the system python before the venv exists (`make provision`, then the build):
# each may use only the standard library and the parts listed.
STDLIB_ONLY: dict[str, set[str]] = {
    "host": set(),
    "image": {"host", "nodes"},
    "kernel": {"host", "image", "nodes"},
    "nodes": {"host"},
}
# Edges that close a cycle, each a debt to pay (the test says when one is gone): none.
KNOWN_BACK_EDGES: set[tuple[str, str]] = set()


def _part(path: Path) -> str:
    """`host` for src/printerfact/host/cache.py, `nodes` for src/printerfact/nodes.py."""
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    package = ["printerfact", *path.relative_to(SRC).parent.parts]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                found.add(".".join([*base, *([node.module] if node.module else [])]))
            else:
                found.add(node.module or "")
    return found


def import_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(part -> the parts it imports, part -> the other top-level modules it imports)."""
    edges: dict[str, set[str]] = {}
    external: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        if "stubs" in path.relative_to(SRC).parts[:1] and path.parent.name != "stubs":
            continue  # nixpkgs' models (typed stubs), not our code
        part = _part(path)
        edges.setdefault(part, set())
        for name in _imports(path):
            top, _, rest = name.partition(".")
            if top == "printerfact":
                target = rest.partition(".")[0]
                if target and target != part:
                    edges[part].add(target)
            elif top != "__future__":
                external.setdefault(part, set()).add(top)
    return edges, external


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (its nodes, the first repeated at the end), or None."""
    state: dict[str, str] = {}  # "open" while on the path, "done" once all its edges are seen
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_parts_import_each_other_without_a_cycle() -> None:
    edges, _ = import_graph()
    assert {"host", "kernel", "image", "vm", "driver", "nodes", "runner"} <= set(edges)
    for source, target in KNOWN_BACK_EDGES:
        assert target in edges[source], f"{source} -> {target} is gone: drop it from here"
        edges[source].discard(target)
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])


def test_what_runs_before_the_venv_imports_only_the_standard_library() -> None:
    edges, external = import_graph()
    for part, allowed in STDLIB_ONLY.items():
        assert edges[part] <= allowed, (part, edges[part] - allowed)
        assert external.get(part, set()) <= sys.stdlib_module_names, (part, external[part])
