"""Logging as in nixpkgs: `nested()`/`subtest()` blocks tagged with the machine name, fanned out
to the terminal and to JUnit XML (one testcase per subtest, "main" for the rest).

Blocks are closed in `finally`, so a failing step still prints its "(finished: ...)" line.  No
logger ever exits the process: failures are the caller's to report.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from enum import IntEnum
from pathlib import Path
from typing import TextIO

from printerfact.driver.unavailable import UnavailableClass

Attrs = Mapping[str, str] | None


class LogLevel(IntEnum):
    """nixpkgs' log levels (`logLevel`); the portable driver's loggers log every level."""

    DEBUG = 1
    INFO = 2
    WARNING = 3
    ERROR = 4


class AbstractLogger(ABC):
    @abstractmethod
    def log(self, message: str, attributes: Attrs = None) -> None: ...

    @abstractmethod
    def subtest(self, name: str, attributes: Attrs = None) -> AbstractContextManager[None]: ...

    @abstractmethod
    def nested(self, message: str, attributes: Attrs = None) -> AbstractContextManager[None]: ...

    @abstractmethod
    def error(self, message: str, attributes: Attrs = None) -> None: ...

    @abstractmethod
    def log_test_error(self, message: str, attributes: Attrs = None) -> None: ...

    @abstractmethod
    def log_serial(self, message: str, machine: str) -> None: ...

    @abstractmethod
    def print_serial_logs(self, enable: bool) -> None: ...

    def info(self, message: str, attributes: Attrs = None) -> None:
        self.log(message, attributes)

    def warning(self, message: str, attributes: Attrs = None) -> None:
        self.log(message, attributes)

    def close(self) -> None:  # noqa: B027 - optional hook, most loggers keep nothing
        """Flush whatever the logger keeps (idempotent)."""


def _prefix(message: str, attributes: Attrs) -> str:
    if attributes and "machine" in attributes:
        return f"{attributes['machine']}: {message}"
    return message


class TerminalLogger(AbstractLogger):
    def __init__(self, stream: TextIO | None = None, color: bool | None = None) -> None:
        self._stream = stream or sys.stderr
        if color is None:
            color = self._stream.isatty() and "NO_COLOR" not in os.environ
        self._color = color
        self._serial = True
        self._lock = threading.Lock()

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self._color else text

    def _print(self, text: str) -> None:
        with self._lock:
            print(text, file=self._stream, flush=True)

    def log(self, message: str, attributes: Attrs = None) -> None:
        self._print(_prefix(message, attributes))

    @contextmanager
    def subtest(self, name: str, attributes: Attrs = None) -> Iterator[None]:
        with self.nested("subtest: " + name, attributes):
            yield

    @contextmanager
    def nested(self, message: str, attributes: Attrs = None) -> Iterator[None]:
        self._print(_prefix(self._style(message, "1;32"), attributes))
        tic = time.monotonic()
        try:
            yield
        finally:
            self.log(f"(finished: {message}, in {time.monotonic() - tic:.2f} seconds)", attributes)

    def error(self, message: str, attributes: Attrs = None) -> None:
        self.log(message, attributes)

    def log_test_error(self, message: str, attributes: Attrs = None) -> None:
        self._print(_prefix(self._style("!!! ", "31") + message, attributes))

    def log_serial(self, message: str, machine: str) -> None:
        if self._serial:
            self._print(self._style(f"{machine} # {message}", "2"))

    def print_serial_logs(self, enable: bool) -> None:
        self._serial = enable


class JunitXMLLogger(AbstractLogger):
    """Collects output per subtest; `close()` writes the XML file."""

    def __init__(self, outfile: Path, suite: str = "printerfact VM test") -> None:
        self.outfile = outfile
        self.suite = suite
        self.cases: dict[str, dict[str, object]] = {}
        self.current = "main"
        self._case("main")
        self._serial = True
        self._lock = threading.Lock()
        self._closed = False

    def _case(self, name: str) -> dict[str, object]:
        return self.cases.setdefault(
            name, {"stdout": [], "stderr": [], "failure": False, "time": 0.0}
        )

    def _add(self, stream: str, message: str) -> None:
        with self._lock:
            out = self._case(self.current)[stream]
            assert isinstance(out, list)
            out.append(message)

    def log(self, message: str, attributes: Attrs = None) -> None:
        self._add("stdout", _prefix(message, attributes))

    @contextmanager
    def subtest(self, name: str, attributes: Attrs = None) -> Iterator[None]:
        old, self.current = self.current, name
        case = self._case(name)
        tic = time.monotonic()
        try:
            yield
        finally:
            case["time"] = float(str(case["time"])) + time.monotonic() - tic
            self.current = old

    @contextmanager
    def nested(self, message: str, attributes: Attrs = None) -> Iterator[None]:
        self.log(message, attributes)
        yield

    def error(self, message: str, attributes: Attrs = None) -> None:
        self._add("stderr", _prefix(message, attributes))
        with self._lock:
            self._case(self.current)["failure"] = True

    def log_test_error(self, message: str, attributes: Attrs = None) -> None:
        self.error(message, attributes)

    def log_serial(self, message: str, machine: str) -> None:
        if self._serial:
            self._add("stdout", f"{machine} # {message}")

    def print_serial_logs(self, enable: bool) -> None:
        self._serial = enable

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        failures = sum(1 for c in self.cases.values() if c["failure"])
        suite = ET.Element(
            "testsuite", name=self.suite, tests=str(len(self.cases)), failures=str(failures)
        )
        for name, c in self.cases.items():
            tc = ET.SubElement(
                suite, "testcase", name=name, classname=self.suite, time=f"{c['time']:.3f}"
            )
            stdout, stderr = c["stdout"], c["stderr"]
            assert isinstance(stdout, list) and isinstance(stderr, list)
            if c["failure"]:
                ET.SubElement(tc, "failure", message="test case failed").text = "\n".join(stderr)
            ET.SubElement(tc, "system-out").text = _xml_safe("\n".join(stdout))
            ET.SubElement(tc, "system-err").text = _xml_safe("\n".join(stderr))
        root = ET.Element("testsuites")
        root.append(suite)
        self.outfile.parent.mkdir(parents=True, exist_ok=True)
        ET.ElementTree(root).write(self.outfile, encoding="utf-8", xml_declaration=True)


def _xml_safe(text: str) -> str:
    # Console output carries control characters that XML 1.0 cannot hold.
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)


class XMLLogger(UnavailableClass):
    reason = "no XML log (nixpkgs' log.xml for log2html); the run writes JUnit XML and console logs"


class CompositeLogger(AbstractLogger):
    def __init__(self, loggers: list[AbstractLogger]) -> None:
        self.loggers = loggers

    def log(self, message: str, attributes: Attrs = None) -> None:
        for lg in self.loggers:
            lg.log(message, attributes)

    @contextmanager
    def subtest(self, name: str, attributes: Attrs = None) -> Iterator[None]:
        with ExitStack() as stack:
            for lg in self.loggers:
                stack.enter_context(lg.subtest(name, attributes))
            yield

    @contextmanager
    def nested(self, message: str, attributes: Attrs = None) -> Iterator[None]:
        with ExitStack() as stack:
            for lg in self.loggers:
                stack.enter_context(lg.nested(message, attributes))
            yield

    def info(self, message: str, attributes: Attrs = None) -> None:
        for lg in self.loggers:
            lg.info(message, attributes)

    def warning(self, message: str, attributes: Attrs = None) -> None:
        for lg in self.loggers:
            lg.warning(message, attributes)

    def error(self, message: str, attributes: Attrs = None) -> None:
        for lg in self.loggers:
            lg.error(message, attributes)

    def log_test_error(self, message: str, attributes: Attrs = None) -> None:
        for lg in self.loggers:
            lg.log_test_error(message, attributes)

    def log_serial(self, message: str, machine: str) -> None:
        for lg in self.loggers:
            lg.log_serial(message, machine)

    def print_serial_logs(self, enable: bool) -> None:
        for lg in self.loggers:
            lg.print_serial_logs(enable)

    def close(self) -> None:
        for lg in self.loggers:
            lg.close()
