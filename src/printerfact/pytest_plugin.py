"""pytest plugin: every test of a `tests.toml` is a pytest item, marked `vm`.

Loaded by the repository's root `conftest.py`.  Items are collected from any `tests.toml`
pytest is pointed at, and only then: the default `testpaths = ["tests"]` stays fast (no VMs),
and the VM tests run with

    pytest testscripts                        # all of them
    pytest testscripts/tests.toml::printerfact

An item runs the static checks (as `printerfact check`), gets the artifacts (built or cached,
once per session), then runs the script under its own `Driver`; logs stay in
`<--printerfact-out>/<test>/`.  A failure shows the script's own frames, the error, and the
tail of each node's console log.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from printerfact import runner
from printerfact.checks import StaticCheckFailed, require_clean
from printerfact.nodes import TestSpec, load_tests

if TYPE_CHECKING:
    from printerfact.build.artifacts import Artifacts

CONSOLE_TAIL_LINES = 30
_ARTIFACTS = pytest.StashKey["Artifacts | Exception"]()


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
        default=3600,
        help="timeout for one testscript as a whole",
    )
    group.addoption(
        "--printerfact-keep-vm-state",
        action="store_true",
        help="re-use VM state from a previous run",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Registered here too, so the items' marker is known outside this repository's pyproject.
    config.addinivalue_line("markers", "vm: boots QEMU guests (needs the built kernel and image)")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name == "tests.toml":
        return ScriptsFile.from_parent(parent, path=file_path)
    return None


class ScriptsFile(pytest.File):
    def collect(self) -> Iterator[ScriptItem]:
        for spec in load_tests(self.path).values():
            yield ScriptItem.from_parent(self, name=spec.name, spec=spec)


class ScriptItem(pytest.Item):
    def __init__(self, *, spec: TestSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.add_marker(pytest.mark.vm)

    @property
    def out_dir(self) -> Path:
        option = self.config.getoption("printerfact_out")
        base = Path(option) if option else self.config.rootpath / "out"
        return runner.test_out_dir(base, self.spec)

    def runtest(self) -> None:
        # Static checks first: a typo must not cost a kernel build or a boot.
        from printerfact.driver.errors import Terminated

        require_clean([self.spec])
        try:
            runner.execute(
                self.spec,
                _artifacts(self.config),
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
        parts = [*script_frames(exc, self.spec.script), f"{type(exc).__name__}: {exc}"]
        parts += console_tails(self.out_dir)
        return "\n".join(parts)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"testscript {self.spec.name} ({self.spec.script.name})"


def _is_driver_error(exc: BaseException) -> bool:
    from printerfact.driver.errors import MachineError

    return isinstance(exc, MachineError)


def _artifacts(config: pytest.Config) -> Artifacts:
    """Built (or taken from the cache) once per session; a failed build fails every item fast."""
    if _ARTIFACTS not in config.stash:
        from printerfact.build.artifacts import ensure_artifacts
        from printerfact.driver.errors import Terminated

        try:
            config.stash[_ARTIFACTS] = ensure_artifacts()
        except Terminated:
            raise  # not a build failure to remember for every item
        except Exception as e:
            config.stash[_ARTIFACTS] = e
    result = config.stash[_ARTIFACTS]
    if isinstance(result, Exception):
        raise result
    return result


def script_frames(exc: BaseException, script: Path) -> list[str]:
    """The traceback lines that are in the testscript, as nixpkgs shows them."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename in (str(script), "<string>", "<testscript>")
    ]
    if not frames:
        return []
    lines = script.read_text().splitlines()
    out = ["testscript traceback (most recent call last):"]
    for f in frames:
        code = lines[f.lineno - 1].strip() if f.lineno and f.lineno <= len(lines) else ""
        out.append(f"  {script}:{f.lineno}: {code}")
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
