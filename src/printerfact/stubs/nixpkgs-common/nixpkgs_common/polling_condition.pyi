# nixpkgs (25.05 and 26.05 alike): nixos/lib/test-driver/src/test_driver/polling_condition.py
from collections.abc import Callable
from typing import Any

from nixpkgs_common.logger import AbstractLogger

class PollingConditionError(Exception): ...

class PollingCondition:
    condition: Callable[[], bool]
    seconds_interval: float
    description: str | None
    logger: AbstractLogger
    last_called: float
    entry_count: int

    def __init__(
        self,
        condition: Callable[[], bool | None],
        logger: AbstractLogger,
        seconds_interval: float = 2.0,
        description: str | None = None,
    ) -> None: ...
    def check(self, force: bool = False) -> bool: ...
    def maybe_raise(self) -> None: ...
    def status_message(self, status: bool) -> str: ...
    @property
    def entered(self) -> bool: ...
    def __enter__(self) -> None: ...
    def __exit__(self, a: Any, b: Any, c: Any) -> None: ...
    @property
    def overdue(self) -> bool: ...
