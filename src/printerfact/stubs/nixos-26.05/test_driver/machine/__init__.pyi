# nixpkgs nixos-26.05: nixos/lib/test-driver/src/test_driver/machine/__init__.py (019697db):
# `Machine` split into BaseMachine, QemuMachine and NspawnMachine; what 25.05's Machine has
# alike is declared in nixpkgs_common.machine.  The names the module imports are importable
# from it (implicit re-exports, as nixpkgs' mypy allows), so they are re-exported here.
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nixpkgs_common.machine import CHAR_TO_KEY as CHAR_TO_KEY
from nixpkgs_common.machine import MachineCommon, QemuCommon, StartCommandCommon
from nixpkgs_common.machine import make_command as make_command
from test_driver.errors import MachineError as MachineError
from test_driver.errors import RequestedAssertionFailed as RequestedAssertionFailed
from test_driver.logger import AbstractLogger as AbstractLogger
from test_driver.machine.ocr import perform_ocr_on_screenshot as perform_ocr_on_screenshot
from test_driver.machine.ocr import (
    perform_ocr_variants_on_screenshot as perform_ocr_variants_on_screenshot,
)
from test_driver.machine.qmp import QMPSession as QMPSession

def retry(fn: Callable[..., Any], timeout_seconds: int = 900) -> None: ...

class QemuStartCommand(StartCommandCommon):
    def __init__(self, script: str) -> None: ...
    @property
    def machine_name(self) -> str: ...

class BaseMachine(MachineCommon):
    keep_machine_state: bool

    def __init__(
        self,
        out_dir: Path,
        name: str,
        logger: AbstractLogger,
        tmp_dir: Path,
        callbacks: list[Callable[..., Any]] | None,
        keep_machine_state: bool,
    ) -> None: ...
    def start(self) -> None: ...
    def copy_from_machine(self, source: str, target_dir: str = "") -> None: ...

class QemuMachine(QemuCommon, BaseMachine):
    start_command: QemuStartCommand
    full_console_log: list[str]

    def __init__(
        self,
        out_dir: Path,
        tmp_dir: Path,
        start_command: str,
        logger: AbstractLogger,
        name: str | None = None,
        keep_machine_state: bool = False,
        callbacks: list[Callable[..., Any]] | None = None,
    ) -> None: ...
    def ssh_backdoor_command(self, index: int) -> str: ...
    def get_console_log(self) -> str: ...

class NspawnMachine(BaseMachine):
    start_command: str
    process: subprocess.Popen[bytes] | None
    pid: int | None

    @staticmethod
    def machine_name_from_start_command(start_command: str) -> str: ...
    def __init__(
        self,
        out_dir: Path,
        name: str | None,
        start_command: str,
        tmp_dir: Path,
        logger: AbstractLogger,
        callbacks: list[Callable[..., Any]] | None = None,
        keep_machine_state: bool = False,
    ) -> None: ...
    def ssh_backdoor_command(self, index: int) -> str: ...
    def release(self) -> None: ...
