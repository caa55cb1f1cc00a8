"""nixos-25.05's `test_driver.qmp` (26.05: `test_driver.machine.qmp`)."""

from printerfact.vm.qmp import QMPAPIError, QMPSession

__all__ = ["QMPAPIError", "QMPSession"]
