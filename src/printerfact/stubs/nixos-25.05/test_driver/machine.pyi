# nixpkgs nixos-25.05: nixos/lib/test-driver/src/test_driver/machine.py, every public name of
# the module a testscript can reach, with nixpkgs' signatures (see printerfact/stubs/__init__.py);
# the methods 26.05 has alike are declared in nixpkgs_common.machine.
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nixpkgs_common.machine import CHAR_TO_KEY as CHAR_TO_KEY
from nixpkgs_common.machine import MachineCommon, QemuCommon, StartCommandCommon
from nixpkgs_common.machine import make_command as make_command
from test_driver.logger import AbstractLogger

def retry(fn: Callable[..., Any], timeout: int = 900) -> None: ...

class StartCommand(StartCommandCommon): ...

class NixStartScript(StartCommand):
    def __init__(self, script: str) -> None: ...
    @property
    def machine_name(self) -> str: ...

class Machine(MachineCommon, QemuCommon):
    start_command: StartCommand
    keep_vm_state: bool

    def __init__(
        self,
        out_dir: Path,
        tmp_dir: Path,
        start_command: StartCommand,
        logger: AbstractLogger,
        name: str = "machine",
        keep_vm_state: bool = False,
        callbacks: list[Callable[..., Any]] | None = None,
    ) -> None: ...
    def wait_for_job(self, jobname: str) -> None: ...
