"""nixpkgs' `test_driver.errors`."""

from printerfact.driver.errors import MachineError, RequestedAssertionFailed

__all__ = ["MachineError", "RequestedAssertionFailed"]
