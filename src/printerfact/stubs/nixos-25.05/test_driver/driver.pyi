# nixpkgs nixos-25.05: nixos/lib/test-driver/src/test_driver/driver.py (see ../../__init__.py);
# what 26.05 has alike is in nixpkgs_common.driver.
from pathlib import Path

from nixpkgs_common.driver import SENTINEL as SENTINEL
from nixpkgs_common.driver import AssertionTester as AssertionTester
from nixpkgs_common.driver import DriverCommon
from nixpkgs_common.driver import get_tmp_dir as get_tmp_dir
from nixpkgs_common.driver import pythonize_name as pythonize_name
from test_driver.logger import AbstractLogger
from test_driver.machine import Machine

class Driver(DriverCommon):
    machines: list[Machine]

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
    def create_machine(
        self,
        start_command: str,
        *,
        name: str | None = None,
        keep_vm_state: bool = False,
    ) -> Machine: ...
