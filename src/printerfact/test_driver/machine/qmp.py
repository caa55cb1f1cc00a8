"""nixos-26.05's `test_driver.machine.qmp` (25.05: `test_driver.qmp`)."""

from printerfact.vm.qmp import QMPAPIError, QMPSession

__all__ = ["QMPAPIError", "QMPSession"]
