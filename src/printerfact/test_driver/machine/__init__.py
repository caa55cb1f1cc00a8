"""nixpkgs' `test_driver.machine`: nixos-25.05's module and nixos-26.05's package in one.

`Machine` (25.05), `BaseMachine` and `QemuMachine` (26.05) are all the portable driver's
Machine; `retry` takes both channels' forms.  Start commands and containers have no
counterpart: the driver builds QEMU's command line from tests.toml, and runs no containers.
"""

from printerfact.driver.errors import MachineError, RequestedAssertionFailed
from printerfact.driver.logger import AbstractLogger
from printerfact.driver.machine import NO_START_SCRIPT, Machine
from printerfact.driver.machine_helpers import CHAR_TO_KEY, make_command
from printerfact.driver.ocr import perform_ocr_on_screenshot, perform_ocr_variants_on_screenshot
from printerfact.driver.retry import retry
from printerfact.driver.unavailable import UnavailableClass
from printerfact.vm.qmp import QMPSession

BaseMachine = Machine
QemuMachine = Machine


class StartCommand(UnavailableClass):
    reason = NO_START_SCRIPT


class NixStartScript(StartCommand):
    pass


class QemuStartCommand(UnavailableClass):
    reason = NO_START_SCRIPT


class NspawnMachine(UnavailableClass):
    reason = (
        "no systemd-nspawn containers: tests.toml describes QEMU nodes only"
        " (machines_nspawn is empty)"
    )


__all__ = [
    "CHAR_TO_KEY",
    "AbstractLogger",
    "BaseMachine",
    "Machine",
    "MachineError",
    "NixStartScript",
    "NspawnMachine",
    "QMPSession",
    "QemuMachine",
    "QemuStartCommand",
    "RequestedAssertionFailed",
    "StartCommand",
    "make_command",
    "perform_ocr_on_screenshot",
    "perform_ocr_variants_on_screenshot",
    "retry",
]
