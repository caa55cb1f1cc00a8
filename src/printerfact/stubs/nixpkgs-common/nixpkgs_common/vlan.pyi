# nixpkgs (25.05 and 26.05 alike): nixos/lib/test-driver/src/test_driver/vlan.py
import io
import subprocess
from pathlib import Path

from nixpkgs_common.logger import AbstractLogger

class VLan:
    nr: int
    socket_dir: Path
    process: subprocess.Popen[str]
    pid: int
    fd: io.TextIOBase
    logger: AbstractLogger

    def __init__(self, nr: int, tmp_dir: Path, logger: AbstractLogger) -> None: ...
    def stop(self) -> None: ...
