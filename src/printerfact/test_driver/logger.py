"""nixpkgs' `test_driver.logger`: the portable driver's loggers (they log every level)."""

from printerfact.driver.logger import (
    AbstractLogger,
    CompositeLogger,
    JunitXMLLogger,
    LogLevel,
    TerminalLogger,
    XMLLogger,
)

__all__ = [
    "AbstractLogger",
    "CompositeLogger",
    "JunitXMLLogger",
    "LogLevel",
    "TerminalLogger",
    "XMLLogger",
]
