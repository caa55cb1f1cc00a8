"""nixpkgs' `test_driver.driver`, with the names nixos-26.05's module imports (importable
from it there)."""

import os
import tempfile
from pathlib import Path

from printerfact.driver.debug import DebugAbstract, DebugNop
from printerfact.driver.driver import AssertionTester, Driver
from printerfact.driver.errors import MachineError, RequestedAssertionFailed
from printerfact.driver.logger import AbstractLogger
from printerfact.driver.network import VLan
from printerfact.driver.polling_condition import PollingCondition
from printerfact.driver.retry import retry
from printerfact.nodes import NodeSpec
from printerfact.test_driver.machine import BaseMachine, NspawnMachine, QemuMachine

SENTINEL = object()


def get_tmp_dir() -> Path:
    """nixpkgs' choice of the driver's temporary directory ($XDG_RUNTIME_DIR, else Python's
    temporary directory), made if missing; the portable driver itself keeps a private one."""
    tmp_dir = Path(os.environ.get("XDG_RUNTIME_DIR", tempfile.gettempdir()))
    tmp_dir.mkdir(mode=0o700, exist_ok=True)
    if not tmp_dir.is_dir():
        raise NotADirectoryError(f"{tmp_dir} is not a directory")
    if not os.access(tmp_dir, os.W_OK):
        raise PermissionError(f"{tmp_dir} is not writeable")
    return tmp_dir


def pythonize_name(name: str) -> str:
    """A node's variable in the testscript (nixpkgs' rule, as `NodeSpec.python_name`)."""
    return NodeSpec(name).python_name


__all__ = [
    "SENTINEL",
    "AbstractLogger",
    "AssertionTester",
    "BaseMachine",
    "DebugAbstract",
    "DebugNop",
    "Driver",
    "MachineError",
    "NspawnMachine",
    "PollingCondition",
    "QemuMachine",
    "RequestedAssertionFailed",
    "VLan",
    "get_tmp_dir",
    "pythonize_name",
    "retry",
]
