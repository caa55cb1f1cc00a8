"""The interactive driver: a Python REPL over the driver's symbols.

`printerfact run --interactive TEST` boots nothing by itself: the REPL has the same names a
testscript has (`start_all()`, `machine`, `subtest`, `t`, ...), plus `test_script()` to run the
whole script, and `machine.shell_interact()` for a shell on the guest.  Leaving the REPL
(Ctrl-D) ends the driver, which stops every VM.

ptpython is used when installed (`pip install -e '.[repl]'`) and stdin is a terminal, as
nixpkgs does; otherwise the standard library's `code.interact` (with readline history), which
also reads commands from a pipe (or, with $PRINTERFACT_REPL=plain, from a terminal).  History
is kept in `<output-directory>/.printerfact-history`.  As in a testscript, `import
test_driver...` finds nixpkgs' modules while the REPL is open (`printerfact.driver.script_imports`).
"""

from __future__ import annotations

import code
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from printerfact.driver.script_imports import nixpkgs_modules


def banner(symbols: dict[str, Any]) -> str:
    names = ", ".join(sorted(k for k in symbols if not k.startswith("_")))
    return (
        "printerfact interactive driver. Symbols: "
        f"{names}\nRun the script with test_script(); a guest shell with "
        "<node>.shell_interact(); Ctrl-D quits and stops all VMs."
    )


def embed(symbols: dict[str, Any], history: Path) -> None:
    """Start a REPL with `symbols` as its globals; returns when the user leaves it."""
    with nixpkgs_modules():
        _embed(symbols, history)


def _embed(symbols: dict[str, Any], history: Path) -> None:
    # ptpython needs a terminal; piped commands go to code.interact.
    if sys.stdin.isatty() and os.environ.get("PRINTERFACT_REPL") != "plain":
        try:
            from ptpython.repl import embed as pt_embed
        except ImportError:
            pass
        else:
            print(banner(symbols))
            pt_embed(globals=symbols, locals=symbols, history_filename=str(history))
            return
    _stdlib_repl(symbols, history)


def _stdlib_repl(symbols: dict[str, Any], history: Path) -> None:
    try:
        import readline
    except ImportError:  # no readline on this Python: plain input, no history
        code.interact(banner=banner(symbols), local=symbols, exitmsg="")
        return
    with contextlib.suppress(OSError):
        readline.read_history_file(history)
    try:
        code.interact(banner=banner(symbols), local=symbols, exitmsg="")
    finally:
        with contextlib.suppress(OSError):
            readline.write_history_file(history)
