"""Host end of the command channel to `guest/agent.sh` (the protocol is defined there).

`CommandChannel` works on any pair of file descriptors (a unix socket from QEMU's virtconsole
chardev, or the pipes of a local shell in the unit tests).  Every wait has a deadline and polls
`abort()` so a dead VM fails the waiting call at once instead of hanging.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import os
import re
import select
import time
from collections.abc import Callable
from dataclasses import dataclass

BANNER = b"PFREADY 2\n"
# How often a blocked read checks abort(); data wakes it immediately, so this costs no latency.
_POLL_S = 0.1
# The guest enforces the timeout (and kills 5 s after it); the host gives it this much longer
# before it gives up on a guest that stopped answering.
HOST_GRACE_S = 30.0
# The agent sends a keepalive frame every KEEPALIVE_S (guest seconds) while a command runs; a
# channel that brings no byte at all for STALL_S has stalled (QEMU's virtconsole once dropped
# whole replies): the watchdog fails the command instead of waiting for its timeout.
KEEPALIVE_S = 5.0
STALL_S = 30.0
_KEEPALIVE = re.compile(rb"PFK \d+\n")


class ChannelError(Exception):
    """The channel broke: EOF, agent restarted, or `abort()` said the VM is gone."""


class ChannelTimeout(ChannelError):
    """No complete reply before the deadline."""


class ChannelStalled(ChannelError):
    """Not a byte from the agent for `stall_after` seconds, keepalives included."""


@dataclass(frozen=True)
class Reply:
    status: int
    stdout: bytes
    # The guest's timeout ended the command (status 124): TIMED_OUT, or HELD_OPEN when the
    # command had ended but a process it left kept its stdout open past the timeout.
    timed_out: int = 0


TIMED_OUT = 1
HELD_OPEN = 2


def format_timeout(timeout: float | None) -> str:
    """The request's timeout field: None and 0 mean none (as `timeout 0` does); a negative
    value goes through as written, and the agent answers it like `timeout`: status 125."""
    if timeout is None:
        return "0"
    if isinstance(timeout, int) or float(timeout).is_integer():
        return str(int(timeout))
    return f"{timeout:.3f}"


# Longer commands go as a length and raw bytes, which the agent reads in bulk (dd): bash reads
# a line one byte per syscall, 0.3 MB/s under TCG.  Shorter ones save dd's process.
INLINE_MAX = 4096


def encode_request(req_id: int, command: str, timeout: float | None) -> bytes:
    """One line: the command with backslashes and newlines escaped (the agent's printf %b
    undoes exactly that); or, past INLINE_MAX, a header with the length, then the bytes."""
    if "\0" in command:  # no shell can hold one
        raise ValueError("a command cannot contain a NUL byte")
    fields = f"{req_id} {format_timeout(timeout)}"
    raw = command.encode()
    if len(raw) > INLINE_MAX:
        return f"PFB {fields} {len(raw)}\n".encode() + raw
    escaped = command.replace("\\", "\\\\").replace("\n", "\\n")
    return f"PFQ {fields} {escaped}\n".encode()


def decode_reply(
    req_id: int, buf: bytes | bytearray, tail_from: int = 0
) -> tuple[Reply, int] | None:
    """Find the complete reply to `req_id` in `buf`: (reply, end offset) or None if incomplete.

    Anything before the reply's start frame (stale replies) is skipped.  `tail_from` says where
    the end frame may start at the earliest, so a long reply arriving in chunks is scanned once.
    The body is base64 (no spaces), so the end frame cannot occur inside it.
    """
    head = f"PFO {req_id}\n".encode()
    start = buf.find(head)
    if start < 0:
        return None
    body_start = start + len(head)
    tail = f"\nPFR {req_id} ".encode()
    end = buf.find(tail, max(body_start - 1, tail_from))
    if end < 0:
        return None
    eol = buf.find(b"\n", end + len(tail))
    if eol < 0:
        return None
    fields = bytes(buf[end + len(tail) : eol]).split()
    status, timed_out = int(fields[0]), int(fields[1])
    # Keepalive frames land between the encoder's writes, anywhere in the body.
    body = _KEEPALIVE.sub(b"", bytes(buf[body_start:end])).replace(b"\n", b"")
    # An encoder the agent had to kill (a held-open stdout) may have stopped mid-quantum.
    body = body[: len(body) - len(body) % 4]
    try:
        out = base64.b64decode(body, validate=True)
    except binascii.Error as e:
        raise ChannelError(f"corrupt reply {req_id}: {e}") from e
    return Reply(status, out, timed_out), eol + 1


class CommandChannel:
    """One request at a time; callers serialise (Machine holds a lock)."""

    def __init__(
        self,
        read_fd: int,
        write_fd: int,
        abort: Callable[[], str | None] = lambda: None,
        stall_after: float | None = STALL_S,
    ) -> None:
        self._rfd = read_fd
        self._wfd = write_fd
        self._abort = abort
        self.stall_after = stall_after  # None: no watchdog
        self._last_rx = time.monotonic()
        self._buf = bytearray()
        self._ids = itertools.count(1)
        self._broken: str | None = None  # a request went out half-way: the stream is corrupt

    def wait_ready(self, timeout: float | None) -> None:
        """Wait for the agent's banner (the machine is "connected")."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            i = self._buf.find(BANNER)
            if i >= 0:
                del self._buf[: i + len(BANNER)]
                return
            self._fill(deadline, "the guest agent's ready banner")

    def send(self, command: str, timeout: float | None, *, deadline: float | None = None) -> int:
        """Send a request without waiting for its reply (which will be discarded as stale);
        a guest that stops reading fails this at `abort()` or the monotonic `deadline`."""
        req_id = next(self._ids)
        self._write(encode_request(req_id, command, timeout), deadline, f"request {req_id}")
        return req_id

    def _write(self, frame: bytes, deadline: float | None, what: str) -> None:
        if self._broken is not None:
            raise ChannelError(self._broken)
        data = memoryview(frame)
        total = len(data)
        # Non-blocking: a blocking write of a large request would wait for a guest that may
        # have stopped reading, out of reach of the abort check.
        was_blocking = os.get_blocking(self._wfd)
        os.set_blocking(self._wfd, False)
        try:
            while data:
                wait = self._next_wait(deadline, f"sending {what}")
                _, w, _ = select.select([], [self._wfd], [], wait)
                if not w:
                    continue
                try:
                    n = os.write(self._wfd, data)
                except BlockingIOError:
                    continue
                except OSError as e:
                    raise ChannelError(f"channel broken while sending {what}: {e}") from e
                data = data[n:]
        except BaseException:
            if len(data) not in (0, total):
                self._broken = f"{what} was sent only in part: channel unusable"
            raise
        finally:
            os.set_blocking(self._wfd, was_blocking)

    def set_clock(self, epoch: int, timeout: float = 30.0) -> None:
        """Set the guest's clock (a "PFT" frame: the agent runs `date` itself, without a
        reply, where a command would cost a reply's processes on a guest whose code TCG must
        translate anew after a snapshot restore)."""
        self._write(f"PFT {epoch}\n".encode(), time.monotonic() + timeout, "the clock")

    def run(
        self, command: str, timeout: float | None, *, host_timeout: float | None = None
    ) -> Reply:
        """Run `command` in the guest; the host waits `timeout` + HOST_GRACE_S at most
        (or `host_timeout` if given; no limit for a timeout of None or 0), then raises
        ChannelTimeout."""
        # A banner already here means the agent restarted while idle: it listens again.
        last = self._buf.rfind(BANNER)
        if last >= 0:
            del self._buf[: last + len(BANNER)]
        if host_timeout is None and timeout:
            host_timeout = max(0.0, timeout) + HOST_GRACE_S
        deadline = None if host_timeout is None else time.monotonic() + host_timeout
        req_id = self.send(command, timeout, deadline=deadline)
        self._last_rx = time.monotonic()
        scanned = 0
        while True:
            # A banner now means the agent died with our request: its reply will never come.
            if self._buf.find(BANNER, scanned) >= 0:
                raise ChannelError("the guest agent restarted while a command was running")
            found = decode_reply(req_id, self._buf, tail_from=scanned)
            if found is not None:
                reply, end = found
                del self._buf[:end]
                return reply
            scanned = max(0, len(self._buf) - 64)
            self._fill(deadline, f"the reply to request {req_id}", watch=True)

    def _check_abort(self) -> None:
        reason = self._abort()
        if reason is not None:
            raise ChannelError(reason)

    def _next_wait(self, deadline: float | None, what: str) -> float:
        """How long the next select may block: abort and deadline are checked between slices."""
        self._check_abort()
        if deadline is None:
            return _POLL_S
        left = deadline - time.monotonic()
        if left <= 0:
            raise ChannelTimeout(f"timed out {what}")
        return min(_POLL_S, left)

    def _fill(self, deadline: float | None, what: str, watch: bool = False) -> None:
        """Read what the guest sent; with `watch`, the channel watchdog is on."""
        while True:
            if watch and self.stall_after is not None:
                quiet = time.monotonic() - self._last_rx
                if quiet > self.stall_after:
                    self._broken = f"the channel stalled while waiting for {what}"
                    raise ChannelStalled(
                        f"no byte from the guest agent for {quiet:.0f} s while waiting for"
                        f" {what}, although it sends a keepalive every {KEEPALIVE_S:g} s"
                        " while a command runs: the channel stalled"
                    )
            wait = self._next_wait(deadline, f"waiting for {what}")
            r, _, _ = select.select([self._rfd], [], [], wait)
            if r:
                try:
                    chunk = os.read(self._rfd, 1 << 20)
                except OSError as e:  # ECONNRESET when QEMU dies
                    raise ChannelError(f"channel broken while waiting for {what}: {e}") from e
                if not chunk:
                    raise ChannelError(f"channel closed while waiting for {what}")
                self._last_rx = time.monotonic()
                self._buf += chunk
                return
