"""`retry`, as in nixpkgs: call fn(last_try) once a second until it returns True."""

from __future__ import annotations

import time
from collections.abc import Callable

from printerfact.driver.errors import RequestedAssertionFailed


def retry(fn: Callable[[bool], bool], timeout: int = 900) -> None:
    for _ in range(timeout):
        if fn(False):
            return
        time.sleep(1)
    if not fn(True):
        raise RequestedAssertionFailed(
            f"action timed out after {timeout} tries with one-second pause in-between"
        )
