"""A minimal writer for the `newc` cpio format the kernel unpacks as an initramfs.

Written here rather than calling cpio(1) so images are reproducible (fixed owner and mtime),
need no root for device nodes, and take milliseconds.  Archives can be concatenated: the kernel
unpacks one after another, later entries overwriting earlier files.
"""

from __future__ import annotations

import stat
from typing import BinaryIO

_MAGIC = b"070701"


class CpioWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._ino = 1
        self._dirs: set[str] = set()

    def _entry(
        self,
        name: str,
        mode: int,
        data: bytes = b"",
        rdev: tuple[int, int] = (0, 0),
        nlink: int = 1,
        owner: tuple[int, int] = (0, 0),
    ) -> None:
        name_bytes = name.encode() + b"\0"
        fields = [
            self._ino,
            mode,
            owner[0],
            owner[1],
            nlink,
            0,
            len(data),
            0,
            0,
            rdev[0],
            rdev[1],
            len(name_bytes),
            0,
        ]
        self._ino += 1
        header = _MAGIC + b"".join(f"{f:08x}".encode() for f in fields)
        self._write_padded(header + name_bytes)
        self._write_padded(data)

    def _write_padded(self, blob: bytes) -> None:
        self._out.write(blob)
        self._out.write(b"\0" * (-len(blob) % 4))

    def _parents(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.directory("/".join(parts[:i]))

    def directory(self, path: str, mode: int = 0o755, owner: tuple[int, int] = (0, 0)) -> None:
        path = path.strip("/")
        if path and path not in self._dirs:
            self._dirs.add(path)
            self._parents(path)
            self._entry(path, stat.S_IFDIR | mode, nlink=2, owner=owner)

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        path = path.strip("/")
        self._parents(path)
        self._entry(path, stat.S_IFREG | mode, data)

    def symlink(self, path: str, target: str) -> None:
        path = path.strip("/")
        self._parents(path)
        self._entry(path, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        path = path.strip("/")
        self._parents(path)
        self._entry(path, stat.S_IFCHR | mode, rdev=(major, minor))

    def close(self) -> None:
        self._entry("TRAILER!!!", 0, nlink=1)
