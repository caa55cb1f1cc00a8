from nixpkgs_common.logger import AbstractLogger as AbstractLogger
from nixpkgs_common.logger import CompositeLogger as CompositeLogger
from nixpkgs_common.logger import JunitXMLLogger as JunitXMLLogger
from nixpkgs_common.logger import LogLevel as LogLevel
from nixpkgs_common.logger import TerminalLogger as TerminalLogger
from nixpkgs_common.logger import XMLLogger as XMLLogger
