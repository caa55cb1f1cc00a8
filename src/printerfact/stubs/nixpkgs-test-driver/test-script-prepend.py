# The header nixpkgs puts before a testScript to type-check it (nixpkgs:
# nixos/lib/test-script-prepend.py): the driver's symbols with their types.  `checks.py`
# appends `<node>: Machine;` per node, `vlan<n>: VLan` per VLAN, then the script.
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol
from unittest import TestCase

from test_driver.driver import Driver
from test_driver.logger import AbstractLogger
from test_driver.machine import Machine
from test_driver.vlan import VLan


class RetryProtocol(Protocol):
    # Positional only: the pinned nixpkgs calls the second parameter `timeout`, later ones
    # `timeout_seconds`.
    def __call__(self, fn: Callable[..., Any], timeout: int = 900, /) -> None:
        raise Exception("This is just type information for the Nix test driver")


class PollingConditionProtocol(Protocol):
    def __call__(
        self,
        fun_: Callable[..., Any] | None = None,
        *,
        seconds_interval: float = 2.0,
        description: str | None = None,
    ) -> Callable[[Callable[..., Any]], AbstractContextManager[Any]] | AbstractContextManager[Any]:
        raise Exception("This is just type information for the Nix test driver")


class CreateMachineProtocol(Protocol):
    def __call__(self, start_command: str, *, name: str | None = None) -> Machine:
        raise Exception("This is just type information for the Nix test driver")


start_all: Callable[[], None]
subtest: Callable[[str], AbstractContextManager[None]]
retry: RetryProtocol
test_script: Callable[[], None]
machines: list[Machine]
vlans: list[VLan]
driver: Driver
log: AbstractLogger
create_machine: CreateMachineProtocol
run_tests: Callable[[], None]
join_all: Callable[[], None]
serial_stdout_off: Callable[[], None]
serial_stdout_on: Callable[[], None]
polling_condition: PollingConditionProtocol
t: TestCase
