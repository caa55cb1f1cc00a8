"""`printerfact attach NODE`: the terminal end of a root shell on a running node.

It connects to the node's sockets in its run's directory (vm/channels.py): first the
window-size port ("rows cols TERM" lines, again on every SIGWINCH), then the shell's console,
where a newline starts the session (guest/attach.sh).  The terminal is put in raw mode, so
every key (Ctrl-C, Ctrl-Z, Ctrl-D) goes to the guest's tty and its line discipline acts on it as
on a local terminal.  The session ends when the guest's shell exits (it then sends ESC ]
printerfact-exit BEL, which is not shown), when the VM goes away, or on the escape key Ctrl-]
(the guest's shell gets SIGHUP).  One client per node at a time (QEMU accepts one connection):
a second one is refused, by a lock next to the socket.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import socket
import sys
import termios
import tty
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from printerfact.vm.channels import NodeChannels, Run, runs

EXIT_MARKER = b"\033]printerfact-exit\007"
ESCAPE = b"\x1d"  # Ctrl-]
CONNECT_TIMEOUT_S = 5.0


class AttachError(RuntimeError):
    pass


def find(node: str, run_pid: int | None = None) -> tuple[Run, NodeChannels]:
    """The running node `node` of this user's runs (the newest, or of the run `run_pid`)."""
    candidates = [
        (r, r.nodes[node])
        for r in runs()
        if node in r.nodes and (run_pid is None or r.pid == run_pid)
    ]
    up = [(r, n) for r, n in candidates if n.is_up()]
    if not up:
        where = f" in run {run_pid}" if run_pid is not None else ""
        if candidates:
            raise AttachError(f"node {node!r}{where} is not running (its VM is not started)")
        raise AttachError(f"no running node {node!r}{where}: see `printerfact attach`")
    return up[-1]


def listing() -> str:
    lines = []
    for r in runs():
        lines.append(f"run {r.pid}: test {r.test} (output {r.out_dir})")
        for name, n in r.nodes.items():
            state = "running" if n.is_up() else "not started"
            gdb = f", gdb stub {n.gdb}" if n.gdb is not None else ""
            lines.append(f"  {name:<16} {state}{gdb}")
    return "\n".join(lines) if lines else "no running printerfact runs"


def _connect(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(CONNECT_TIMEOUT_S)
    try:
        s.connect(str(path))
    except OSError as e:
        s.close()
        raise AttachError(f"cannot connect to {path}: {e}") from e
    s.settimeout(None)
    return s


def _size(fd: int) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return 24, 80
    return size.lines or 24, size.columns or 80


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _only_client(node: NodeChannels) -> Iterator[None]:
    """QEMU serves one client at a time, and a second one would wait unseen: refuse it."""
    path = node.attach.with_name(f"{node.name}.attach-lock")
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as e:
        raise AttachError(f"cannot lock {path}: {e}") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AttachError(f"{node.name} already has a shell attached (one at a time)") from None
        yield
    finally:
        os.close(fd)


def session(node: NodeChannels, stdin: int = 0, stdout: int = 1) -> str:
    """Relay the terminal to the node's shell until it ends; why it ended."""
    with _only_client(node):
        return _session(node, stdin, stdout)


def _session(node: NodeChannels, stdin: int, stdout: int) -> str:
    winsize = _connect(node.winsize)
    try:
        shell = _connect(node.attach)
    except BaseException:
        winsize.close()
        raise
    term = os.environ.get("TERM", "vt100") or "vt100"

    def send_size() -> None:
        rows, cols = _size(stdin)
        with contextlib.suppress(OSError):
            winsize.sendall(f"{rows} {cols} {term}\n".encode())

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)

    def on_winch(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):
            os.write(wake_w, b"w")

    old = signal.signal(signal.SIGWINCH, on_winch)
    try:
        send_size()
        shell.sendall(b"\n")
        with _raw(stdin):
            return _relay(shell, stdin, stdout, wake_r, send_size)
    finally:
        signal.signal(signal.SIGWINCH, old)
        os.close(wake_r)
        os.close(wake_w)
        shell.close()
        winsize.close()


def _relay(shell: socket.socket, stdin: int, stdout: int, wake: int, on_winch: object) -> str:
    held = b""  # a tail that may be the start of EXIT_MARKER
    inputs = [shell.fileno(), stdin, wake]
    while True:
        try:
            ready, _, _ = select.select(inputs, [], [])
        except InterruptedError:
            continue
        if wake in ready:
            os.read(wake, 64)
            on_winch()  # type: ignore[operator]
        if stdin in ready:
            data = os.read(stdin, 4096)
            if not data:
                inputs.remove(stdin)  # end of input: keep showing the output
            elif ESCAPE in data:
                before = data.split(ESCAPE, 1)[0]
                if before:
                    shell.sendall(before)
                return "detached (Ctrl-])"
            else:
                shell.sendall(data)
        if shell.fileno() in ready:
            data = shell.recv(65536)
            if not data:
                _write(stdout, held)
                return "the VM went away"
            data = held + data
            if EXIT_MARKER in data:
                _write(stdout, data.split(EXIT_MARKER, 1)[0])
                return "the shell exited"
            keep = _partial_marker(data)
            held = data[len(data) - keep :] if keep else b""
            _write(stdout, data[: len(data) - keep])


def _partial_marker(data: bytes) -> int:
    """How many trailing bytes of `data` are a proper prefix of EXIT_MARKER."""
    for n in range(min(len(EXIT_MARKER) - 1, len(data)), 0, -1):
        if EXIT_MARKER.startswith(data[-n:]):
            return n
    return 0


def _write(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]


def main(node: str | None, run_pid: int | None = None) -> int:
    if node is None:
        print(listing())
        return 0
    try:
        run, channels = find(node, run_pid)
    except AttachError as e:
        print(f"printerfact attach: {e}", file=sys.stderr)
        return 1
    print(
        f"printerfact attach: root shell on {node} (test {run.test}, run {run.pid});"
        " `exit` or Ctrl-] leaves",
        file=sys.stderr,
    )
    try:
        why = session(channels)
    except (AttachError, OSError) as e:
        print(f"\r\nprinterfact attach: {e}", file=sys.stderr)
        return 1
    print(f"\r\nprinterfact attach: {why}", file=sys.stderr)
    return 0
