"""The two kinds of failure, as in nixpkgs' test driver.

`RequestedAssertionFailed`: the test failed (a `succeed` that did not, `t.assertEqual`, a wait
that timed out).  `MachineError`: the infrastructure broke (QEMU died, the guest panicked, the
agent vanished, the global timeout); not the test script's fault.
"""

from __future__ import annotations


class MachineError(Exception):
    """Something broke that is not the test's fault."""


class RequestedAssertionFailed(AssertionError):
    """A test assertion failed (also `t`'s failureException)."""


class VMCrashed(MachineError):
    """QEMU exited or the guest kernel panicked while the driver needed it."""


class GlobalTimeout(MachineError):
    """The run exceeded the driver's global timeout."""


class Terminated(MachineError):
    """The driver got SIGTERM."""


class CommandTimeout(RequestedAssertionFailed):
    """A guest command ran longer than its timeout."""
