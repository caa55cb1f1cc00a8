"""The ways into a run's VMs from outside the run: one directory per driver, found by
`printerfact attach` and by gdb.

    <base>/<driver pid>-<random>/run.json         which test, output directory, nodes, sockets
    <base>/<driver pid>-<random>/<node>.attach    the node's shell console (QEMU listens)
    <base>/<driver pid>-<random>/<node>.winsize   the window size of that shell (QEMU listens)
    <base>/<driver pid>-<random>/<node>.gdb       QEMU's gdb stub, with `printerfact run --gdb`

<base> is $XDG_RUNTIME_DIR/printerfact, else (or when that is too long a path for unix
sockets) /tmp/printerfact.<uid> (0700).  The driver removes
its directory at cleanup; a directory whose pid is gone (a SIGKILLed driver) is removed by the
next driver or listing.

These channels are separate from the test's command channel (the virtserialport of
guest/agent.sh): a shell attached to a node works while a command of the test runs.

The shell is a *virtconsole* (/dev/hvc1 in the guest, a real tty: job control, Ctrl-C through
the tty's ISIG).  QEMU drops a virtconsole's output when the host socket is full
(hw/char/virtio-console.c), which is why the command channel is a virtserialport; for an
interactive shell it is acceptable because the attach client always reads its socket promptly
(it relays to the terminal as bytes come).  A virtconsole cannot carry the window size, so the
client sends it on a second, flow-controlled port (a virtserialport, "rows cols TERM" lines),
where guest/attach.sh sets it on /dev/hvc1 (`stty -F`), which signals SIGWINCH to the
foreground job as a resize does.  QEMU itself listens on these sockets (server=on,wait=off):
nothing in the driver relays, and with no client the shell's output is discarded.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from printerfact.vm.qemu_argv import _opt

WINSIZE_PORT = "org.printerfact.winsize"  # guest: /dev/virtio-ports/<this>
ATTACH_PORT = "org.printerfact.attach"  # the virtconsole's name (it is /dev/hvc1)
# virtio-serial port numbers: 0 is hvc0, 1 the agent's port (vm/qemu_argv.py).
ATTACH_NR, WINSIZE_NR = 2, 3
SUN_PATH_MAX = 107  # sockaddr_un.sun_path, less its NUL


BASE_MAX = 60  # leaves a node name of 30 characters room in a socket path


def runtime_base() -> Path:
    """Where the runs' directories are (the attach client looks in the same place)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and Path(xdg).is_dir() and len(str(Path(xdg) / "printerfact")) <= BASE_MAX:
        return Path(xdg) / "printerfact"
    return Path(tempfile.gettempdir()) / f"printerfact.{os.getuid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_pid(run_dir: Path) -> int | None:
    head = run_dir.name.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def sweep(base: Path) -> None:
    """Remove the directories of drivers that died without cleaning up."""
    if not base.is_dir():
        return
    for d in base.iterdir():
        pid = _owner_pid(d)
        if pid is not None and not _pid_alive(pid):
            shutil.rmtree(d, ignore_errors=True)


@dataclass(frozen=True)
class NodeChannels:
    name: str
    attach: Path
    winsize: Path
    gdb: Path | None

    def is_up(self) -> bool:
        """QEMU runs and listens (its socket is there and accepts)."""
        return _listening(self.attach)


def _listening(path: Path) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
    except OSError:
        return False
    finally:
        s.close()
    return True


class RunChannels:
    """One driver's directory of channels; `qemu_args(node)` adds them to a node's QEMU."""

    def __init__(self, test: str, out_dir: Path, nodes: list[str], base: Path | None = None):
        base = base or runtime_base()
        self.test = test
        self.out_dir = out_dir
        for attempt in range(3):
            base.mkdir(mode=0o700, parents=True, exist_ok=True)
            sweep(base)
            try:
                self.dir = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=base))
                break
            except FileNotFoundError:  # the last other run removed the base meanwhile
                if attempt == 2:
                    raise
        self.gdb = False
        self.node_names = list(nodes)
        try:
            self.write()  # checks every socket path's length too
        except BaseException:
            self.remove()
            raise

    def enable_gdb(self) -> None:
        """QEMU's gdb stub on `<node>.gdb` for every node started from now on."""
        self.gdb = True
        self.write()

    def node(self, name: str) -> NodeChannels:
        def path(kind: str) -> Path:
            p = self.dir / f"{name}.{kind}"
            if len(str(p)) > SUN_PATH_MAX:
                raise ValueError(f"socket path too long for a unix socket: {p}")
            return p

        return NodeChannels(
            name, path("attach"), path("winsize"), path("gdb") if self.gdb else None
        )

    def qemu_args(self, name: str) -> tuple[str, ...]:
        n = self.node(name)
        args = [
            "-chardev", f"socket,id=attach,path={_opt(n.attach)},server=on,wait=off",
            "-device", f"virtconsole,chardev=attach,bus=vser0.0,nr={ATTACH_NR},name={ATTACH_PORT}",
            "-chardev", f"socket,id=winsize,path={_opt(n.winsize)},server=on,wait=off",
            "-device",
            f"virtserialport,chardev=winsize,bus=vser0.0,nr={WINSIZE_NR},name={WINSIZE_PORT}",
        ]  # fmt: skip
        if n.gdb is not None:
            args += ["-chardev", f"socket,id=gdb,path={_opt(n.gdb)},server=on,wait=off",
                     "-gdb", "chardev:gdb"]  # fmt: skip
        return tuple(args)

    def info(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "test": self.test,
            "out_dir": str(self.out_dir.absolute()),
            "nodes": {
                name: {
                    "attach": str(n.attach),
                    "winsize": str(n.winsize),
                    "gdb": str(n.gdb) if n.gdb is not None else None,
                }
                for name in self.node_names
                for n in [self.node(name)]
            },
        }

    def write(self) -> None:
        tmp = self.dir / "run.json.tmp"
        tmp.write_text(json.dumps(self.info(), indent=1))
        tmp.replace(self.dir / "run.json")

    def describe(self) -> list[str]:
        """Where the channels are, for logs and JUnit."""
        lines = [f"ways into the VMs of this run: {self.dir} (printerfact attach NODE)"]
        for name in self.node_names:
            n = self.node(name)
            line = f"  {name}: shell {n.attach}"
            if n.gdb is not None:
                line += f", gdb stub {n.gdb}"
            lines.append(line)
        return lines

    def remove(self) -> None:
        """The run's directory, and the base too when no other run uses it."""
        shutil.rmtree(self.dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.dir.parent.rmdir()


@dataclass(frozen=True)
class Run:
    dir: Path
    pid: int
    test: str
    out_dir: str
    nodes: dict[str, NodeChannels]


def runs(base: Path | None = None) -> list[Run]:
    """The live runs of this user (stale directories are removed), oldest first."""
    base = base or runtime_base()
    sweep(base)
    found: list[Run] = []
    if not base.is_dir():
        return found
    for d in sorted(base.iterdir(), key=lambda p: p.stat().st_mtime):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            info = json.loads((d / "run.json").read_text())
            nodes = {
                name: NodeChannels(
                    name,
                    Path(v["attach"]),
                    Path(v["winsize"]),
                    Path(v["gdb"]) if v.get("gdb") else None,
                )
                for name, v in info["nodes"].items()
            }
            found.append(Run(d, int(info["pid"]), info["test"], info["out_dir"], nodes))
    return found
