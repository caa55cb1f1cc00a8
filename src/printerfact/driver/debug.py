"""The `debug` symbol, as nixos-26.05's `test_driver.debug` (55d5788b): `DebugNop` unless a
test sets `enableDebugHook`, which the portable runner has no counterpart of (nixpkgs forks a
remote pdb on port 4444 inside the build sandbox).  `debug.breakpoint()` is then a no-op, in
a script and after a failure alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from printerfact.driver.unavailable import UnavailableClass


class DebugAbstract(ABC):
    @abstractmethod
    def breakpoint(self, host: str = "127.0.0.1", port: int = 4444) -> None: ...


class DebugNop(DebugAbstract):
    def breakpoint(self, host: str = "127.0.0.1", port: int = 4444) -> None:
        pass


class Debug(UnavailableClass):
    reason = (
        "no debug hook (nixpkgs' enableDebugHook: a remote pdb on TCP port 4444 in the Nix"
        " build sandbox, and nothing here may listen on host TCP)"
    )
