"""nixos-26.05's `test_driver.debug`."""

from printerfact.driver.debug import Debug, DebugAbstract, DebugNop

__all__ = ["Debug", "DebugAbstract", "DebugNop"]
