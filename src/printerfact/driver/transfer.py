"""File copies between host and guest, through the command channel (no shared folder).

Both directions move a tar stream, so files and directories work alike and mode bits survive;
files arriving in the guest are owned by root, as in nixpkgs.
"""

from __future__ import annotations

import base64
import io
import shlex
import tarfile
from pathlib import Path, PurePosixPath

from printerfact.driver.errors import RequestedAssertionFailed
from printerfact.driver.machine_base import MachineBase

CHUNK = 256 * 1024  # base64 characters per request


def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


class TransferMixin(MachineBase):
    def _must(self, command: str, what: str) -> str:
        status, out = self.execute(command, timeout=None)
        if status != 0:
            raise RequestedAssertionFailed(f"{what} failed (exit code {status})")
        return out

    def copy_from_host(self, source: str, target: str) -> None:
        """Copy a host file or directory to `target` in the guest (`cp -r` semantics, as
        nixpkgs: into an existing directory it lands as `target/<basename of source>`)."""
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

    def copy_from_host_via_shell(self, source: str, target: str) -> None:
        self.copy_from_host(source, target)

    def copy_from_vm(self, source: str, target_dir: str = "") -> None:
        """Copy a guest file or directory to `<out_dir>/<target_dir>/<basename>` on the host."""
        src = PurePosixPath(source)
        with self.nested(f"copying {source} from the VM to {target_dir or '.'}"):
            cmd = f"tar -C {shlex.quote(str(src.parent))} -cf - {shlex.quote(src.name)}"
            status, data = self._execute_bytes(cmd, timeout=None)
            if status != 0:
                raise RequestedAssertionFailed(f"copying {source} from the VM failed")
            dest = Path(self.out_dir) / target_dir
            dest.mkdir(parents=True, exist_ok=True)
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                _extract_untrusted(tar, dest)


def _extract_untrusted(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract a guest-made archive without letting it write outside `dest`.

    tarfile's "data" filter does exactly that, but only from Python 3.11.4 on (Debian 12 has
    3.11.2); there, plain files and directories with relative, dotdot-free names are allowed.
    """
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    for member in tar.getmembers():
        parts = PurePosixPath(member.name).parts
        if member.name.startswith("/") or ".." in parts or not (member.isfile() or member.isdir()):
            raise RequestedAssertionFailed(f"refusing to extract {member.name!r} from the VM")
    tar.extractall(dest)
