"""Static checks of testscripts, run before any VM starts, as NixOS runs them.

nixpkgs builds a test's driver only if (1) pyflakes finds nothing in the testScript, with the
node names and the driver's symbols as builtins, and (2) mypy accepts the script with a typed
header prepended (`nixos/lib/testing/driver.nix`).  We run both, twice where they differ:

- against nixpkgs' API (the stub in `printerfact.stubs`), so nothing we run here would fail
  NixOS's check: a method our driver has but nixpkgs lacks is an error;
- against our driver's API (a header generated from `Driver.test_symbols()`, see
  `printerfact.stubs.api`),
  so a script cannot use what nixpkgs has and we lack.

Findings are `file:line: message [source]`, with lines of the testscript itself.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pyflakes.checker import Checker

from printerfact.build.paths import cache_root
from printerfact.nodes import TestSpec
from printerfact.stubs import unsupported
from printerfact.stubs.api import ApiModel, nixpkgs_api, printerfact_api

# mypy's incremental cache (a warm run takes a tenth of a cold one), beside the build cache.
DEFAULT_CACHE_DIR = cache_root() / "checks"


@dataclass(frozen=True)
class Finding:
    script: Path
    line: int
    message: str
    source: str

    def __str__(self) -> str:
        return f"{self.script}:{self.line}: {self.message} [{self.source}]"


class StaticCheckFailed(Exception):
    """A testscript would not pass NixOS's (or our) static checks."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        lines = "\n".join(f"  {f}" for f in self.findings)
        super().__init__(f"static checks failed ({len(self.findings)} finding(s)):\n{lines}")


def check(tests: Iterable[TestSpec], cache_dir: Path | None = None) -> list[Finding]:
    """All findings for `tests`: pyflakes first; mypy on the scripts that parse."""
    tests = list(tests)
    apis = [nixpkgs_api(), printerfact_api()]
    findings: list[Finding] = []
    parsed: list[TestSpec] = []
    for test in tests:
        lint = pyflakes_findings(test, apis)
        findings += lint
        if not any(f.source == "syntax" for f in lint):
            parsed.append(test)
    if parsed:
        # The two mypy runs are independent processes: run them side by side.
        with ThreadPoolExecutor(max_workers=len(apis)) as pool:
            runs = pool.map(lambda api: mypy_findings(parsed, api, cache_dir), apis)
            typed = _merge(f for findings_of_api in runs for f in findings_of_api)
        # pyflakes already named an undefined name on that line; mypy's echo adds nothing.
        undefined = {(f.script, f.line) for f in findings if "undefined name" in f.message}
        findings += [
            _with_reason(f)
            for f in typed
            if not (f.message.endswith("[name-defined]") and (f.script, f.line) in undefined)
        ]
    return sorted(findings, key=lambda f: (str(f.script), f.line, f.message))


_NO_ATTRIBUTE = re.compile(r'^"(\w+)" has no attribute "(\w+)"')
_WHERE = "see docs/api-conformance.md"


def _with_reason(f: Finding) -> Finding:
    """A name nixpkgs has and the portable driver rejects: say so, and why."""
    m = _NO_ATTRIBUTE.match(f.message)
    reason = (
        unsupported.BY_CLASS.get(m[1], {}).get(m[2]) if m and "nixpkgs" not in f.source else None
    )
    if reason is None:
        return f
    note = f" (nixpkgs has it; the portable driver does not: {reason}; {_WHERE})"
    return Finding(f.script, f.line, f.message + note, f.source)


def require_clean(tests: Iterable[TestSpec], cache_dir: Path | None = None) -> None:
    findings = check(tests, cache_dir)
    if findings:
        raise StaticCheckFailed(findings)


# pyflakes ---------------------------------------------------------------------------------


def pyflakes_findings(test: TestSpec, apis: Sequence[ApiModel]) -> list[Finding]:
    """pyflakes with the names every API defines as builtins (nixpkgs' `PYFLAKES_BUILTINS`),
    on the testScript as nixpkgs builds it (the script, then the kernel-log guard)."""
    source, starts = test.full_script()
    try:
        tree = ast.parse(source, filename=str(test.script))
    except SyntaxError as e:
        where, line = _locate(starts, e.lineno or 0)
        return [Finding(where, line, f"syntax error: {e.msg}", "syntax")]
    per_api = {api.label: api.symbols(test) for api in apis}
    common = set.intersection(*per_api.values())
    checker = Checker(tree, filename=str(test.script), builtins=common)
    findings = []
    for m in checker.messages:
        text = m.message % m.message_args
        if type(m).__name__ == "UndefinedName":
            text += _missing_from(m.message_args[0], per_api)
        findings.append(Finding(*_locate(starts, m.lineno), text, "pyflakes"))
    return findings


def _locate(starts: list[tuple[Path, int]], line: int) -> tuple[Path, int]:
    """(file, line in that file) of `line` of a concatenated testScript."""
    path, first = starts[0]
    for part, part_first in starts:
        if line >= part_first:
            path, first = part, part_first
    return path, line - first + 1


def _missing_from(name: str, per_api: dict[str, set[str]]) -> str:
    have = [label for label, names in per_api.items() if name in names]
    if not have:
        return ""
    lacking = [label for label in per_api if label not in have]
    why = unsupported.SYMBOLS.get(name)
    because = f": {why}; {_WHERE}" if why else ""
    return f" (defined by {', '.join(have)}, not by {', '.join(lacking)}{because})"


# mypy -------------------------------------------------------------------------------------

_MYPY_LINE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): (?P<kind>error|note): (?P<msg>.*)$")


def mypy_findings(
    tests: Sequence[TestSpec], api: ApiModel, cache_dir: Path | None = None
) -> list[Finding]:
    """Type-check every script, each with `api`'s header before it, in one mypy run."""
    with tempfile.TemporaryDirectory(prefix="printerfact-checks-") as tmp:
        work = Path(tmp)
        by_file: dict[str, tuple[TestSpec, int]] = {}
        for test in tests:
            header = api.header(test)
            name = f"testscript_{test.name.replace('-', '_')}.py"
            (work / name).write_text(header + test.full_script()[0])
            by_file[name] = (test, header.count("\n"))
        config = work / "mypy.ini"
        search_path = os.pathsep.join(str(p) for p in api.search_path)
        config.write_text(f"[mypy]\nmypy_path = {search_path}\n")
        cache = (cache_dir or DEFAULT_CACHE_DIR) / f"mypy-{api.slug}"
        cmd = [sys.executable, "-m", "mypy", *api.mypy_flags, "--config-file", str(config)]
        cmd += ["--cache-dir", str(cache), "--no-error-summary", "--show-error-codes"]
        cmd += ["--no-color-output", "--hide-error-context", *sorted(by_file)]
        out = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
    findings, unparsed = _parse_mypy(out.stdout, by_file, api.label)
    if out.returncode not in (0, 1) or (out.returncode == 1 and not findings):
        detail = (out.stderr + "\n".join(unparsed)).strip()
        raise RuntimeError(f"mypy ({api.label}) could not run: {detail}")
    return findings


def _parse_mypy(
    stdout: str, by_file: dict[str, tuple[TestSpec, int]], label: str
) -> tuple[list[Finding], list[str]]:
    findings: list[Finding] = []
    unparsed: list[str] = []
    for raw in stdout.splitlines():
        m = _MYPY_LINE.match(raw)
        if not m:
            unparsed.append(raw)
            continue
        if m["kind"] == "note":  # elaborates the error before it
            continue
        if m["file"] not in by_file:  # in a stub or the driver: not the script's fault
            unparsed.append(raw)
            continue
        test, offset = by_file[m["file"]]
        line, msg = int(m["line"]) - offset, re.sub(r"\s+\[", " [", m["msg"])
        where = test.script
        if line <= 0:  # in the generated header: a bug on our side, but say where
            line, msg = 0, f"in the {label} header: {msg}"
        else:
            where, line = _locate(test.full_script()[1], line)
        findings.append(Finding(where, line, msg, f"mypy: {label}"))
    return findings, unparsed


# Parts of a mypy message that depend on how the API's classes are laid out, not on the
# script: a "maybe ...?" suggestion (listed from the class's own names only) and the class
# that defines a method ("succeed" of "CommandsMixin", one of our Machine's mixins).
_LAYOUT = re.compile(r'; maybe "[^"]*"(, "[^"]*")*\?| of "\w+"')


def _merge(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (script, line, message), naming every API that reported it; messages
    that differ only in layout details are one finding, worded as against nixpkgs' API."""
    merged: dict[tuple[Path, int, str], tuple[str, list[str]]] = {}
    for f in findings:
        key = (f.script, f.line, _LAYOUT.sub("", f.message))
        message, sources = merged.setdefault(key, (f.message, []))
        sources.append(f.source)
        if "nixpkgs" in f.source:
            merged[key] = (f.message, sources)
    return [
        Finding(script, line, msg, "mypy: " + ", ".join(s.removeprefix("mypy: ") for s in srcs))
        for (script, line, _), (msg, srcs) in merged.items()
    ]
