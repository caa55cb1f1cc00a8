"""pytest plugin: every test of a `tests.toml`, on each kernel flavour, is a pytest item
marked `vm`.

Loaded by the repository's root `conftest.py`.  Items are collected from any `tests.toml`
pytest is pointed at:

    pytest testscripts                                  # every test on every flavour
    pytest testscripts/tests.toml::printerfact[debug]   # one test, one flavour
    pytest testscripts --printerfact-flavours default   # one flavour (env PRINTERFACT_FLAVOURS)

An item runs the static checks (as `printerfact check`), gets the artifacts of its flavour
(built or cached, once per session), then runs the script (and the kernel-log guard) under its
own `Driver`; logs stay in `<--printerfact-out>/<test>[-<flavour>]/`.  A failure shows the
script's own frames, the error, and the tail of each node's console log.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from printerfact import runner
from printerfact.checks import StaticCheckFailed, evaluation_warnings, require_clean
from printerfact.driver.errors import MachineError, Terminated, testscript_frames
from printerfact.kernel.artifacts import Artifacts, ensure_artifacts
from printerfact.kernel.flavour import FLAVOURS, UnknownFlavour
from printerfact.kernel.flavour import names as flavour_names
from printerfact.nodes import DEFAULT_GLOBAL_TIMEOUT, TestSpec, load_tests

CONSOLE_TAIL_LINES = 30
_ARTIFACTS = pytest.StashKey[dict[str, Artifacts | Exception]]()
FLAVOURS_ENV = "PRINTERFACT_FLAVOURS"
_FLAVOURS = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("printerfact", "printerfact VM tests (items from tests.toml)")
    group.addoption(
        "--printerfact-out",
        metavar="DIR",
        default=None,
        help="logs and VM state of each test under DIR/<test> (default: <rootdir>/out)",
    )
    group.addoption(
        "--printerfact-global-timeout",
        metavar="SECONDS",
        type=int,
        default=None,
        help="timeout for one testscript as a whole (default: its globalTimeout in tests.toml,"
        f" else ${runner.GLOBAL_TIMEOUT_ENV}, else {DEFAULT_GLOBAL_TIMEOUT})",
    )
    group.addoption(
        "--printerfact-flavours",
        metavar="NAMES",
        default=os.environ.get(FLAVOURS_ENV, ",".join(FLAVOURS)),
        help=f"kernel flavours to run every test on, comma-separated (env {FLAVOURS_ENV};"
        f" default: all: {','.join(FLAVOURS)})",
    )
    group.addoption(
        "--printerfact-keep-vm-state",
        action="store_true",
        help="re-use VM state from a previous run",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Registered here too, so the items' marker is known outside this repository's pyproject.
    config.addinivalue_line("markers", "vm: boots QEMU guests (needs the built kernel and image)")
    config.stash[_FLAVOURS] = selected_flavours(config)  # a bad name is a usage error, early


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name == "tests.toml":
        return ScriptsFile.from_parent(parent, path=file_path)
    return None


def selected_flavours(config: pytest.Config) -> list[str]:
    try:
        return flavour_names(config.getoption("printerfact_flavours"))
    except UnknownFlavour as e:
        raise pytest.UsageError(f"--printerfact-flavours: {e}") from None


class ScriptsFile(pytest.File):
    def collect(self) -> Iterator[ScriptItem]:
        flavours = self.config.stash[_FLAVOURS]
        for spec in load_tests(self.path).values():
            for flavour in flavours:
                yield ScriptItem.from_parent(
                    self, name=f"{spec.name}[{flavour}]", spec=spec, flavour=flavour
                )


class ScriptItem(pytest.Item):
    def __init__(self, *, spec: TestSpec, flavour: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.flavour = flavour
        self.add_marker(pytest.mark.vm)

    @property
    def out_dir(self) -> Path:
        option = self.config.getoption("printerfact_out")
        base = Path(option) if option else self.config.rootpath / "out"
        return runner.test_out_dir(base, self.spec, self.flavour)

    def runtest(self) -> None:
        # Static checks first: a typo must not cost a kernel build or a boot.
        runner.prepare(self.spec)
        for warning in evaluation_warnings([self.spec]):  # as nixpkgs warns while it evaluates
            warnings.warn(warning, UserWarning, stacklevel=1)
        require_clean([self.spec])
        try:
            runner.execute(
                self.spec,
                _artifacts(self.config, self.flavour),
                self.out_dir,
                keep_vm_state=self.config.getoption("printerfact_keep_vm_state"),
                global_timeout=self.config.getoption("printerfact_global_timeout"),
            )
        except Terminated:
            # SIGTERM is not this test's verdict: like Ctrl-C, no further item boots a VM.
            self.session.shouldstop = "printerfact: terminated (SIGTERM)"
            raise

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        exc = excinfo.value
        if isinstance(exc, StaticCheckFailed):
            return str(exc)
        if runner.classify(exc) == "error" and not _is_driver_error(exc):
            return super().repr_failure(excinfo, style=style)  # a bug: full traceback
        scripts = (self.spec.script, *self.spec.postscripts)
        parts = [*script_frames(exc, scripts), f"{type(exc).__name__}: {exc}"]
        parts += console_tails(self.out_dir)
        return "\n".join(parts)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        where = f"{self.spec.script.name}, {self.flavour} kernel"
        return self.path, None, f"testscript {self.spec.name} ({where})"


def _is_driver_error(exc: BaseException) -> bool:
    return isinstance(exc, MachineError)


def _artifacts(config: pytest.Config, flavour: str) -> Artifacts:
    """Built (or taken from the cache) once per session and flavour; a failed build fails every
    item of that flavour fast."""
    built = config.stash.setdefault(_ARTIFACTS, {})
    if flavour not in built:
        try:
            built[flavour] = ensure_artifacts(flavour)
        except Terminated:
            raise  # not a build failure to remember for every item
        except Exception as e:
            built[flavour] = e
    result = built[flavour]
    if isinstance(result, Exception):
        raise result
    return result


def script_frames(exc: BaseException, scripts: Sequence[Path]) -> list[str]:
    """The traceback lines that are in the testscript (or its postscripts), as nixpkgs shows
    them."""
    names = {str(s): s for s in scripts}
    frames = testscript_frames(exc, scripts)
    if not frames:
        return []
    out = ["testscript traceback (most recent call last):"]
    for f in frames:
        lines = names[f.filename].read_text().splitlines()
        code = lines[f.lineno - 1].strip() if f.lineno and f.lineno <= len(lines) else ""
        out.append(f"  {f.filename}:{f.lineno}: {code}")
    return out


def console_tails(out_dir: Path, lines: int = CONSOLE_TAIL_LINES) -> list[str]:
    """The last lines of every console log the driver left in `out_dir`."""
    parts = []
    for log in sorted(out_dir.rglob("*.log")) if out_dir.is_dir() else []:
        if "console" not in log.name and "serial" not in log.name:
            continue
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- last {len(tail)} lines of {log} ---")
        parts += tail
    return parts
