# nixpkgs nixos-26.05: nixos/lib/test-script-prepend.py, the declarations nixpkgs puts before a
# testScript to type-check it.  No 26.05 channel copy was readable (/work/notes/driver-api.md
# §2.4): this is nixpkgs master's of the 26.05 era (retry's `timeout_seconds`; the rest as the
# applicative-systems fork at 544b3668, which still says `timeout`).  It declares `machines`,
# which 26.05's driver no longer passes, and neither `machines_qemu` nor `machines_nspawn`,
# which it does: mypy rejects those two, pyflakes the first.  `checks.py` appends
# `<node>: QemuMachine;` per node on one line, `vlan<n>: VLan` per VLAN, then the script.
from test_driver.debug import DebugAbstract
from test_driver.driver import Driver
from test_driver.vlan import VLan
from test_driver.machine import BaseMachine, NspawnMachine, QemuMachine
from test_driver.logger import AbstractLogger
from typing import Callable, Iterator, ContextManager, Optional, List, Dict, Any, Union
from typing_extensions import Protocol
from pathlib import Path
from unittest import TestCase


class RetryProtocol(Protocol):
    def __call__(self, fn: Callable, timeout_seconds: int = 900) -> None:
        raise Exception("This is just type information for the Nix test driver")


class PollingConditionProtocol(Protocol):
    def __call__(
        self,
        fun_: Optional[Callable] = None,
        *,
        seconds_interval: float = 2.0,
        description: Optional[str] = None,
    ) -> Union[Callable[[Callable], ContextManager], ContextManager]:
        raise Exception("This is just type information for the Nix test driver")


class CreateMachineProtocol(Protocol):
    def __call__(
        self,
        start_command: str | dict,
        *,
        name: Optional[str] = None,
        keep_machine_state: bool = False,
        **kwargs: Any,  # to allow usage of deprecated keep_vm_state
    ) -> BaseMachine:
        raise Exception("This is just type information for the Nix test driver")


start_all: Callable[[], None]
subtest: Callable[[str], ContextManager[None]]
retry: RetryProtocol
test_script: Callable[[], None]
machines: List[BaseMachine]
vlans: List[VLan]
driver: Driver
log: AbstractLogger
create_machine: CreateMachineProtocol
run_tests: Callable[[], None]
join_all: Callable[[], None]
serial_stdout_off: Callable[[], None]
serial_stdout_on: Callable[[], None]
polling_condition: PollingConditionProtocol
debug: DebugAbstract
t: TestCase
