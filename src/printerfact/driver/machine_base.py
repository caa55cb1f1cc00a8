"""What the Machine helpers (commands, terminal, units, waits, transfer, screen) need from Machine:
declared once, typed."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path

from printerfact.driver.logger import AbstractLogger
from printerfact.driver.session import VmSession


class MachineBase(ABC):
    name: str
    out_dir: Path
    logger: AbstractLogger
    _lock: threading.RLock
    _session: VmSession | None

    @abstractmethod
    def log(self, msg: str) -> None: ...

    @abstractmethod
    def nested(
        self, msg: str, attrs: dict[str, str] | None = None
    ) -> AbstractContextManager[None]: ...

    @abstractmethod
    def run_callbacks(self) -> None: ...

    @abstractmethod
    def connect(self) -> None: ...

    @abstractmethod
    def _require_session(self) -> VmSession: ...

    @abstractmethod
    def execute(
        self,
        command: str,
        check_return: bool = True,
        check_output: bool = True,
        timeout: int | None = 900,
    ) -> tuple[int, str]: ...

    @abstractmethod
    def _execute_bytes(
        self,
        command: str,
        check_return: bool = True,
        check_output: bool = True,
        timeout: int | None = 900,
    ) -> tuple[int, bytes]: ...

    @abstractmethod
    def succeed(self, *commands: str, timeout: int | None = None) -> str: ...

    @abstractmethod
    def send_monitor_command(self, command: str) -> str: ...
