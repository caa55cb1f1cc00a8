# nixpkgs nixos-26.05: nixos/lib/test-driver/src/test_driver/driver.py (003d5816); what 25.05
# has alike is in nixpkgs_common.driver.  The names driver.py imports are importable from it
# (mypy, as nixpkgs runs it, allows implicit re-exports), so they are re-exported here.
from pathlib import Path

from nixpkgs_common.driver import SENTINEL as SENTINEL
from nixpkgs_common.driver import AssertionTester as AssertionTester
from nixpkgs_common.driver import DriverCommon
from nixpkgs_common.driver import get_tmp_dir as get_tmp_dir
from nixpkgs_common.driver import pythonize_name as pythonize_name
from test_driver.debug import DebugAbstract as DebugAbstract
from test_driver.debug import DebugNop as DebugNop
from test_driver.errors import MachineError as MachineError
from test_driver.errors import RequestedAssertionFailed as RequestedAssertionFailed
from test_driver.logger import AbstractLogger as AbstractLogger
from test_driver.machine import BaseMachine as BaseMachine
from test_driver.machine import NspawnMachine as NspawnMachine
from test_driver.machine import QemuMachine as QemuMachine
from test_driver.machine import retry as retry
from test_driver.polling_condition import PollingCondition as PollingCondition
from test_driver.vlan import VLan as VLan

class Driver(DriverCommon):
    machines_qemu: list[QemuMachine]
    machines_nspawn: list[NspawnMachine]
    debug: DebugAbstract

    def __init__(
        self,
        vm_names: list[str] | None,
        vm_start_scripts: list[str],
        container_names: list[str] | None,
        container_start_scripts: list[str],
        vlans: list[int],
        tests: str,
        out_dir: Path,
        logger: AbstractLogger,
        keep_machine_state: bool = False,
        global_timeout: int = 604800,
        debug: DebugAbstract = ...,
    ) -> None: ...
    @property
    def machines(self) -> list[QemuMachine | NspawnMachine]: ...
    def __enter__(self) -> Driver: ...
    def create_machine(
        self,
        start_command: str,
        *,
        name: str | None = None,
        keep_machine_state: bool = False,
    ) -> BaseMachine: ...
