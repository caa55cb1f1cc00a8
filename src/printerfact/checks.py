"""Static checks of testscripts, run before any VM starts, as NixOS runs them.

nixpkgs builds a test's driver only if (1) pyflakes finds nothing in the testScript, with the
node names and the driver's symbols as builtins, and (2) mypy accepts the script with a typed
header prepended (`nixos/lib/testing/driver.nix`); a test's `skipLint` drops (1) (nixpkgs
then warns "Linting is disabled"), its `skipTypeCheck` drops (2).  We run both against
several models:

- nixpkgs' half: each supported channel's API (`printerfact.stubs.CHANNELS`).  A script passes
  it when one channel accepts it, as it then builds on that channel; when none does, the
  findings of every channel are reported, each labelled with its channel;
- our half: our driver's API (a header generated from `Driver.test_symbols()`, see
  `printerfact.stubs.api`), which a script must always pass: it is what runs here.

Findings are `file:line: message [source]`, with lines of the testscript itself; one finding
that several models report names them all.
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

from printerfact.host.paths import cache_root
from printerfact.nodes import TestSpec
from printerfact.stubs.api import ApiModel, channel_apis, printerfact_api

# mypy's incremental cache (a warm run takes a tenth of a cold one), beside the build cache.
DEFAULT_CACHE_DIR = cache_root() / "checks"
LINT_DISABLED = "Linting is disabled"  # nixpkgs' evaluation warning for skipLint


@dataclass(frozen=True)
class Finding:
    script: Path
    line: int
    message: str
    source: str  # "syntax", or "<tool>: <model>[, <model>...]"

    def __str__(self) -> str:
        return f"{self.script}:{self.line}: {self.message} [{self.source}]"


class StaticCheckFailed(Exception):
    """A testscript would not pass NixOS's (or our) static checks."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        lines = "\n".join(f"  {f}" for f in self.findings)
        super().__init__(f"static checks failed ({len(self.findings)} finding(s)):\n{lines}")


def evaluation_warnings(tests: Iterable[TestSpec]) -> list[str]:
    """What nixpkgs warns about while it builds these tests' drivers."""
    return [f"{t.name}: {LINT_DISABLED}" for t in tests if t.skip_lint]


def check(tests: Iterable[TestSpec], cache_dir: Path | None = None) -> list[Finding]:
    """All findings for `tests`: pyflakes, and mypy on the scripts that parse."""
    tests = list(tests)
    apis = [*channel_apis(), printerfact_api()]
    by_api: dict[str, list[Finding]] = {api.label: [] for api in apis}
    findings: list[Finding] = []  # syntax errors: the same for every model
    typed: list[TestSpec] = []
    for test in tests:
        syntax = syntax_findings(test)
        findings += syntax
        if syntax:
            continue
        if not test.skip_lint:
            for api in apis:
                by_api[api.label] += pyflakes_findings(test, api, apis)
        if not test.skip_type_check:
            typed.append(test)
    if typed:
        # The mypy runs are independent processes: run them side by side.
        with ThreadPoolExecutor(max_workers=len(apis)) as pool:
            runs = pool.map(lambda api: (api, mypy_findings(typed, api, cache_dir)), apis)
            for api, found in runs:
                by_api[api.label] += _without_echoes(found, by_api[api.label])
    for test in tests:
        findings += _verdict(test, apis, by_api)
    return sorted(_merge(findings), key=lambda f: (str(f.script), f.line, f.message))


def _verdict(
    test: TestSpec, apis: Sequence[ApiModel], by_api: dict[str, list[Finding]]
) -> list[Finding]:
    """`test`'s findings: the channels' only if every channel has some; ours always."""
    files = {str(p) for p in (test.script, *test.postscripts)}
    per_api = {a.label: [f for f in by_api[a.label] if str(f.script) in files] for a in apis}
    channels = [per_api[a.label] for a in apis if a.nixpkgs]
    ours = [f for a in apis if not a.nixpkgs for f in per_api[a.label]]
    return ([f for found in channels for f in found] if all(channels) else []) + ours


def _without_echoes(typed: list[Finding], lint: list[Finding]) -> list[Finding]:
    # pyflakes already named an undefined name on that line; mypy's echo adds nothing.
    undefined = {(f.script, f.line) for f in lint if "undefined name" in f.message}
    return [
        f
        for f in typed
        if not (f.message.endswith("[name-defined]") and (f.script, f.line) in undefined)
    ]


def require_clean(tests: Iterable[TestSpec], cache_dir: Path | None = None) -> None:
    findings = check(tests, cache_dir)
    if findings:
        raise StaticCheckFailed(findings)


# pyflakes ---------------------------------------------------------------------------------


def syntax_findings(test: TestSpec) -> list[Finding]:
    """The testScript as nixpkgs builds it (the script, then the kernel-log guard) must parse."""
    source, starts = test.full_script()
    try:
        ast.parse(source, filename=str(test.script))
    except SyntaxError as e:
        where, line = _locate(starts, e.lineno or 0)
        return [Finding(where, line, f"syntax error: {e.msg}", "syntax")]
    return []


def pyflakes_findings(test: TestSpec, api: ApiModel, apis: Sequence[ApiModel]) -> list[Finding]:
    """pyflakes with the names `api` defines as builtins (nixpkgs' `PYFLAKES_BUILTINS`); an
    undefined name another model defines says so."""
    source, starts = test.full_script()
    tree = ast.parse(source, filename=str(test.script))
    checker = Checker(tree, filename=str(test.script), builtins=api.symbols(test))
    findings = []
    for m in checker.messages:
        text = m.message % m.message_args
        if type(m).__name__ == "UndefinedName":
            have = [a.label for a in apis if m.message_args[0] in a.symbols(test)]
            if have:
                text += f" (defined by {', '.join(have)})"
        findings.append(Finding(*_locate(starts, m.lineno), text, f"pyflakes: {api.label}"))
    return findings


def _locate(starts: list[tuple[Path, int]], line: int) -> tuple[Path, int]:
    """(file, line in that file) of `line` of a concatenated testScript."""
    path, first = starts[0]
    for part, part_first in starts:
        if line >= part_first:
            path, first = part, part_first
    return path, line - first + 1


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
        for rel, text in api.stub_files().items():
            (work / "stubs" / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / "stubs" / rel).write_text(text)
        config = work / "mypy.ini"
        search_path = os.pathsep.join(str(p) for p in (work / "stubs", *api.search_path))
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
# script: a "maybe ...?" suggestion (listed from the class's own names only), the class that
# defines a method ("succeed" of "CommandsMixin", one of our Machine's mixins), and the class
# a channel gives the nodes (25.05's "Machine", 26.05's "QemuMachine").
_LAYOUT = re.compile(r'; maybe "[^"]*"(, "[^"]*")*\?| of "\w+"|"(Qemu|Base)?Machine"')


def _merge(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (script, line, tool, message), naming every model that reported it;
    messages that differ only in layout details are one finding, worded as the first report
    (a channel's, when one reported it)."""
    merged: dict[tuple[Path, int, str, str], tuple[str, list[str]]] = {}
    for f in findings:
        tool, _, model = f.source.partition(": ")
        key = (f.script, f.line, tool, _LAYOUT.sub("", f.message))
        merged.setdefault(key, (f.message, []))[1].append(model)
    return [
        Finding(script, line, msg, f"{tool}: {', '.join(models)}" if models[0] else tool)
        for (script, line, tool, _), (msg, models) in merged.items()
    ]
