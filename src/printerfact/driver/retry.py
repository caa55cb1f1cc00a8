"""`retry`, as in nixpkgs: call fn(last_try) once a second until it returns True.

Both channels' forms: nixos-25.05's `retry(fn, timeout)` makes `timeout` tries (a slow `fn`
stretches it), nixos-26.05's `retry(fn, timeout_seconds=...)` stops once that many seconds
have passed on a monotonic clock.  The positional second argument stays 25.05's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from printerfact.driver.errors import RequestedAssertionFailed


def retry(
    fn: Callable[[bool], bool], timeout: int = 900, *, timeout_seconds: int | None = None
) -> None:
    start = time.monotonic()
    tries = iter(range(timeout))

    def more() -> bool:
        if timeout_seconds is not None:
            return time.monotonic() - start < timeout_seconds
        return next(tries, None) is not None

    while more():
        if fn(False):
            return
        time.sleep(1)
    # Each channel's message; 26.05's elapsed time is taken before the last try.
    if timeout_seconds is not None:
        why = f"{time.monotonic() - start:.2f} seconds (timeout={timeout_seconds})"
    else:
        why = f"{timeout} tries with one-second pause in-between"
    if not fn(True):
        raise RequestedAssertionFailed(f"action timed out after {why}")
