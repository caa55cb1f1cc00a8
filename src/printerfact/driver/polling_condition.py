"""Polling conditions, as in nixpkgs: checked before each machine action while active."""

from __future__ import annotations

import time
from collections.abc import Callable
from math import isfinite
from types import TracebackType

from printerfact.driver.logger import AbstractLogger


class PollingConditionError(Exception):
    pass


class PollingCondition:
    def __init__(
        self,
        condition: Callable[[], bool | None],
        logger: AbstractLogger,
        seconds_interval: float = 2.0,
        description: str | None = None,
    ) -> None:
        self.condition = condition
        self.seconds_interval = seconds_interval
        self.logger = logger
        if description is None:
            description = condition.__doc__ or getattr(condition, "__name__", repr(condition))
        self.description = str(description)
        self.last_called = float("-inf")
        self.entry_count = 0

    def check(self, force: bool = False) -> bool:
        if (self.entered or not self.overdue) and not force:
            return True
        with self, self.logger.nested(f"Checking polling condition {self.description!r}"):
            since = time.monotonic() - self.last_called
            self.logger.info(
                f"Time since last: {since:.2f}s" if isfinite(since) else "(not called yet)"
            )
            try:
                res = self.condition()
            except Exception:
                res = False
            ok = res is None or bool(res)
            self.logger.info(self.status_message(ok))
            return ok

    def maybe_raise(self) -> None:
        if not self.check():
            raise PollingConditionError(self.status_message(False))

    def status_message(self, status: bool) -> str:
        return f"Polling condition {'succeeded' if status else 'failed'}: {self.description}"

    @property
    def overdue(self) -> bool:
        return self.last_called + self.seconds_interval < time.monotonic()

    @property
    def entered(self) -> bool:
        return self.entry_count > 0

    def __enter__(self) -> None:
        self.entry_count += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.entry_count -= 1
        self.last_called = time.monotonic()
