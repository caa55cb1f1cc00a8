"""`import test_driver...` in a testscript, as under nixpkgs, whose driver runs the script
inside its own `test_driver` package.

`printerfact.test_driver` mirrors the module paths of nixos-25.05's and nixos-26.05's driver,
each naming the portable driver's classes.  While `nixpkgs_modules()` is entered (a
testscript runs, or the REPL is open) those modules are also in `sys.modules` under their
nixpkgs names (`test_driver`, `test_driver.machine`, ...), so imports resolve to them; on
leaving, whatever those names meant before comes back, so nothing is shadowed for the rest of
the process.  Nested and concurrent entries share one installation.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

PACKAGE = "printerfact.test_driver"
NIXPKGS_PACKAGE = "test_driver"

_lock = threading.Lock()
_depth = 0
_saved: dict[str, ModuleType | None] = {}


def modules() -> dict[str, ModuleType]:
    """nixpkgs' module name -> the module of `printerfact.test_driver` standing for it."""
    package = importlib.import_module(PACKAGE)
    found = {NIXPKGS_PACKAGE: package}
    for info in pkgutil.walk_packages(package.__path__, PACKAGE + "."):
        alias = NIXPKGS_PACKAGE + info.name.removeprefix(PACKAGE)
        found[alias] = importlib.import_module(info.name)
    return found


@contextmanager
def nixpkgs_modules() -> Iterator[None]:
    global _depth
    with _lock:
        if _depth == 0:
            for name, module in modules().items():
                _saved[name] = sys.modules.get(name)
                sys.modules[name] = module
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for name, before in _saved.items():
                    if before is None:
                        sys.modules.pop(name, None)
                    else:
                        sys.modules[name] = before
                _saved.clear()
