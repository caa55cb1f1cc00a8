# nixpkgs nixos-25.05: nixos/lib/test-driver/src/test_driver/driver.py (see ../../__init__.py).
import threading
import unittest
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from test_driver.logger import AbstractLogger
from test_driver.machine import Machine
from test_driver.polling_condition import PollingCondition
from test_driver.vlan import VLan

SENTINEL: object

class AssertionTester(unittest.TestCase): ...

def get_tmp_dir() -> Path: ...
def pythonize_name(name: str) -> str: ...

class Driver:
    tests: str
    out_dir: Path
    vlans: list[VLan]
    machines: list[Machine]
    polling_conditions: list[PollingCondition]
    global_timeout: int
    race_timer: threading.Timer
    logger: AbstractLogger

    def __init__(
        self,
        start_scripts: list[str],
        vlans: list[int],
        tests: str,
        out_dir: Path,
        logger: AbstractLogger,
        keep_vm_state: bool = False,
        global_timeout: int = 604800,
    ) -> None: ...
    def __enter__(self) -> Driver: ...
    def __exit__(self, *_: Any) -> None: ...
    def subtest(self, name: str) -> Iterator[None]: ...
    def test_symbols(self) -> dict[str, Any]: ...
    def dump_machine_ssh(self, offset: int) -> None: ...
    def test_script(self) -> None: ...
    def run_tests(self) -> None: ...
    def start_all(self) -> None: ...
    def join_all(self) -> None: ...
    def terminate_test(self) -> None: ...
    def create_machine(
        self,
        start_command: str,
        *,
        name: str | None = None,
        keep_vm_state: bool = False,
    ) -> Machine: ...
    def serial_stdout_on(self) -> None: ...
    def serial_stdout_off(self) -> None: ...
    def check_polling_conditions(self) -> None: ...
    def polling_condition(
        self,
        fun_: Callable[..., Any] | None = None,
        *,
        seconds_interval: float = 2.0,
        description: str | None = None,
    ) -> (
        Callable[[Callable[..., Any]], AbstractContextManager[Any]] | AbstractContextManager[Any]
    ): ...
