"""The two kinds of failure, as in nixpkgs' test driver.

`RequestedAssertionFailed`: the test failed (a `succeed` that did not, `t.assertEqual`, a wait
that timed out).  `MachineError`: the infrastructure broke (QEMU died, the guest panicked, the
agent vanished, the global timeout); not the test script's fault.  `Unavailable`: the script
used a name of nixpkgs' API that the portable driver cannot offer (docs/api-conformance.md).
A failure's report shows only the testscript's own frames, as nixpkgs' (`testscript_frames`).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from pathlib import Path


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


class ChannelStalledError(MachineError):
    """The command channel of a live guest stopped delivering bytes (the channel watchdog)."""


class Unavailable(MachineError):
    """A name of nixpkgs' driver API that the portable driver has no counterpart of; raised when
    it is used, never at import or type-check time (nixpkgs' check accepts the script)."""


class UnavailableAttribute(Unavailable, AttributeError):
    """Reading such an attribute: an AttributeError too, so `hasattr` says False."""


def testscript_frames(
    exc: BaseException, scripts: Iterable[Path | str]
) -> list[traceback.FrameSummary]:
    """The frames of `exc`'s traceback that ran in one of `scripts` (the testscript and its
    postscripts, by the file name they were compiled under), oldest first."""
    names = {str(s) for s in scripts}
    return [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in names]
