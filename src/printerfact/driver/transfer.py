"""File copies between host and guest.

copy_from_host and copy_from_machine (copy_from_vm, its 25.05 name) go through the directory
the driver shares with every node (virtio-9p, mounted at /tmp/shared in the guest), step by
step as nixpkgs' driver does, so semantics match: `cp -r` in the guest, mode bits from the
host file, root:root in the guest.  copy_from_host_via_shell is the slow path through the
command channel, for a guest without the shared directory (a tar stream, so directories work
too).
"""

from __future__ import annotations

import base64
import io
import shlex
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from printerfact.driver.errors import RequestedAssertionFailed
from printerfact.driver.machine_base import MachineBase

CHUNK = 256 * 1024  # base64 characters per request (copy_from_host_via_shell)
GUEST_SHARED_DIR = PurePosixPath("/tmp/shared")  # where the guest mounts the shared directory


def make_command(args: list[object]) -> str:
    """nixpkgs' make_command: each argument shell-quoted."""
    return " ".join(shlex.quote(str(a)) for a in args)


def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


class TransferMixin(MachineBase):
    shared_dir: Path  # the host side of /tmp/shared

    def _must(self, command: str, what: str) -> str:
        status, out = self.execute(command, timeout=None)
        if status != 0:
            raise RequestedAssertionFailed(f"{what} failed (exit code {status})")
        return out

    @contextmanager
    def _shared_temp(self) -> Iterator[tuple[Path, PurePosixPath]]:
        """A fresh directory in the shared directory, as (host path, guest path), made in the
        guest too and gone afterwards: nixpkgs' scaffolding for each copy."""
        with tempfile.TemporaryDirectory(dir=self.shared_dir) as shared_td:
            host = Path(shared_td)
            guest = GUEST_SHARED_DIR / host.name
            self.succeed(make_command(["mkdir", "-p", guest]))
            yield host, guest

    @staticmethod
    def _copy_on_host(src: Path, dest: Path) -> None:
        if src.is_dir():
            shutil.copytree(src, dest)
        else:
            shutil.copy(src, dest)

    def copy_from_host(self, source: str, target: str) -> None:
        """Copy a host file or directory to `target` in the guest through the shared
        directory (`cp -r` semantics: into an existing directory it lands as
        `target/<basename of source>`); mode bits as on the host, owner root:root."""
        host_src = Path(source)
        vm_target = PurePosixPath(target)
        with self._shared_temp() as (host_temp, vm_temp):
            self._copy_on_host(host_src, host_temp / host_src.name)
            self.succeed(make_command(["mkdir", "-p", vm_target.parent]))
            self.succeed(make_command(["cp", "-r", vm_temp / host_src.name, vm_target]))

    def copy_from_vm(self, source: str, target_dir: str = "") -> None:
        """nixos-25.05's name of `copy_from_machine` (26.05 deprecates it; both work)."""
        self.copy_from_machine(source, target_dir)

    def copy_from_machine(self, source: str, target_dir: str = "") -> None:
        """Copy a guest file or directory to `<out_dir>/<target_dir>/<basename>` on the host
        through the shared directory."""
        vm_src = PurePosixPath(source)
        with self._shared_temp() as (host_temp, vm_temp):
            # The guest caches 9p file data (rc.sh): flushed at close, and synced here too.
            vm_intermediate = vm_temp / vm_src.name
            self.succeed(
                make_command(["cp", "-r", vm_src, vm_intermediate])
                + " && "
                + make_command(["sync", "-f", vm_intermediate])
            )
            abs_target = Path(self.out_dir) / target_dir / vm_src.name
            abs_target.parent.mkdir(exist_ok=True, parents=True)
            self._copy_on_host(host_temp / vm_src.name, abs_target)

    def copy_from_host_via_shell(self, source: str, target: str) -> None:
        """Copy a host file or directory through the command channel (no shared directory
        needed; ~60 KB/s under TCG): `cp -r` semantics as copy_from_host."""
        name = Path(source).name or Path(source).resolve().name
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(source, arcname=name, filter=_as_root)
        data = base64.b64encode(buf.getvalue()).decode()
        vm_target = PurePosixPath(target)
        with self.nested(f"copying {source} from the host to {target} ({len(buf.getvalue())} B)"):
            tmp = self._must("mktemp -d", "mktemp").strip()
            for i in range(0, len(data), CHUNK):
                self._must(f"printf %s '{data[i : i + CHUNK]}' >>{tmp}/payload.b64", "upload")
            q = shlex.quote
            self._must(
                f"mkdir {tmp}/x && base64 -d {tmp}/payload.b64 | tar -x -C {tmp}/x"
                f" && mkdir -p {q(str(vm_target.parent))}"
                f" && cp -r {tmp}/x/{q(name)} {q(target)} && rm -rf {tmp}",
                f"unpacking into {target}",
            )
