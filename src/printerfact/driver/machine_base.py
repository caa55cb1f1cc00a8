"""What the Machine helpers (waits, transfer) need from Machine: declared once, typed."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path


class MachineBase(ABC):
    name: str
    out_dir: Path

    @abstractmethod
    def log(self, msg: str) -> None: ...

    @abstractmethod
    def nested(
        self, msg: str, attrs: dict[str, str] | None = None
    ) -> AbstractContextManager[None]: ...

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
