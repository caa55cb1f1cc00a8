"""The command channel against a real local shell running guest/agent.sh (no VM, no mocks)."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import subprocess
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from printerfact.driver.framing import (
    ChannelError,
    ChannelTimeout,
    CommandChannel,
    Reply,
    decode_reply,
    encode_request,
    format_timeout,
)

AGENT = Path(__file__).resolve().parents[1] / "src" / "printerfact" / "guest" / "agent.sh"
# The agent is a bash script (the guest runs it with bash-static, as NixOS runs its backdoor).
SHELLS = [["bash"]]


@dataclass
class Agent:
    proc: subprocess.Popen[bytes]
    chan: CommandChannel
    stderr_file: Path


def _spawn(shell: list[str], tmp: Path, use_pty: bool) -> Agent:
    err = tmp / "stderr.log"
    env = {
        **os.environ,
        "PF_AGENT_STDERR": str(err),
        "PF_AGENT_TMPDIR": str(tmp),
        "PF_AGENT_PROFILE": "",
        "PF_AGENT_CWD": str(tmp),
        "PF_AGENT_KILL_AFTER": "1",
    }
    if use_pty:
        # As on hvc0 under busybox init: the tty is the agent's controlling terminal.
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [*shell, str(AGENT)],
            stdin=slave,
            stdout=slave,
            env=env,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        chan = CommandChannel(master, master)
    else:
        proc = subprocess.Popen(
            [*shell, str(AGENT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        chan = CommandChannel(proc.stdout.fileno(), proc.stdin.fileno())
    chan.wait_ready(timeout=10)
    return Agent(proc, chan, err)


@pytest.fixture(params=SHELLS, ids=lambda s: s[0])
def agent(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Agent]:
    a = _spawn(request.param, tmp_path, use_pty=False)
    yield a
    # The agent's session holds every child it started (background sleeps included).
    os.killpg(a.proc.pid, signal.SIGKILL)
    a.proc.wait()


def test_exit_status_and_plain_output(agent: Agent) -> None:
    assert agent.chan.run("echo hello", timeout=10).stdout == b"hello\n"
    assert agent.chan.run("exit 3", timeout=10).status == 3
    assert agent.chan.run("false", timeout=10).status == 1
    assert agent.chan.run("exit 255", timeout=None).status == 255
    assert agent.chan.run("true", timeout=None).status == 0


def test_output_without_trailing_newline(agent: Agent) -> None:
    r = agent.chan.run("printf abc", timeout=10)
    assert (r.status, r.stdout) == (0, b"abc")
    assert agent.chan.run("true", timeout=10).stdout == b""


def test_all_byte_values(agent: Agent, tmp_path: Path) -> None:
    blob = bytes(range(256)) * 3
    (tmp_path / "blob").write_bytes(blob)
    assert agent.chan.run(f"cat {tmp_path}/blob", timeout=10).stdout == blob


def test_ten_megabytes(agent: Agent, tmp_path: Path) -> None:
    blob = os.urandom(10 * 1024 * 1024)
    (tmp_path / "big").write_bytes(blob)
    r = agent.chan.run(f"cat {tmp_path}/big", timeout=60)
    assert r.status == 0
    assert len(r.stdout) == len(blob)
    assert r.stdout == blob


def test_multiline_command_and_quotes(agent: Agent) -> None:
    cmd = "x='a b'\nif [ \"$x\" = 'a b' ]; then\n  echo \"same $x\"\nfi"
    assert agent.chan.run(cmd, timeout=10).stdout == b"same a b\n"


def test_command_larger_than_arg_max(agent: Agent) -> None:
    # 300 KiB of script: more than one exec argument may hold (128 KiB), so no `sh -c`.
    cmd = "x=" + "a" * (300 * 1024) + "\necho ${#x}"
    assert agent.chan.run(cmd, timeout=30).stdout == f"{300 * 1024}\n".encode()


def test_stderr_goes_to_the_console_not_stdout(agent: Agent) -> None:
    r = agent.chan.run("echo out; echo err-marker >&2", timeout=10)
    assert r.stdout == b"out\n"
    assert "err-marker" in agent.stderr_file.read_text()


def test_guest_timeout_ends_the_command_with_124_and_channel_keeps_working(agent: Agent) -> None:
    t0 = time.monotonic()
    r = agent.chan.run("echo partial; sleep 1000", timeout=1)
    elapsed = time.monotonic() - t0
    assert (r.status, r.stdout, r.timed_out) == (124, b"partial\n", True)
    assert 0.9 <= elapsed < 5
    r = agent.chan.run("echo still-here", timeout=10)
    assert (r.stdout, r.timed_out) == (b"still-here\n", False)
    # A command's own status 124 is not a timeout.
    assert agent.chan.run("exit 124", timeout=10) == Reply(124, b"", False)


def test_timeout_reaches_the_whole_process_group(agent: Agent, tmp_path: Path) -> None:
    # As `timeout`: the command's children get SIGTERM too, not only the command.
    r = agent.chan.run(f"sleep 1000 & echo $! > {tmp_path}/child; wait", timeout=1)
    assert r.timed_out
    child = int((tmp_path / "child").read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists()


def test_a_command_ignoring_sigterm_is_killed_after_the_grace(agent: Agent) -> None:
    t0 = time.monotonic()
    r = agent.chan.run("trap '' TERM; sleep 1000", timeout=1)
    assert (r.status, r.timed_out) == (124, True)
    assert 1.9 <= time.monotonic() - t0 < 6  # 1 s timeout + 1 s PF_AGENT_KILL_AFTER


@pytest.mark.parametrize("timeout", [None, 0, 0.0])
def test_no_timeout_for_none_and_zero(agent: Agent, timeout: float | None) -> None:
    # `timeout 0` disables the timeout; nixpkgs passes timeout=0 through to it.
    r = agent.chan.run("sleep 1.2; echo done", timeout=timeout, host_timeout=10)
    assert (r.status, r.stdout, r.timed_out) == (0, b"done\n", False)


def test_fractional_and_invalid_timeouts(agent: Agent) -> None:
    t0 = time.monotonic()
    assert agent.chan.run("sleep 10", timeout=0.3).timed_out
    assert time.monotonic() - t0 < 3
    # As `timeout -1 ...`: a usage error, status 125, the command does not run.
    r = agent.chan.run("echo ran", timeout=-1, host_timeout=10)
    assert (r.status, r.stdout, r.timed_out) == (125, b"", False)


def test_commands_run_with_bash_in_the_backdoor_environment(agent: Agent, tmp_path: Path) -> None:
    r = agent.chan.run('a=(x y); [[ ${#a[@]} == 2 ]]; echo "$HOME $USER $PWD [$PAGER]"', timeout=10)
    assert r.stdout == f"/root root {tmp_path} []\n".encode()


def test_host_timeout_raises_and_stale_reply_is_discarded(agent: Agent) -> None:
    with pytest.raises(ChannelTimeout):
        agent.chan.run("sleep 2; echo stale", timeout=None, host_timeout=0.3)
    # The agent is still busy with the first request; its reply must not be taken as ours.
    r = agent.chan.run("echo fresh", timeout=10)
    assert r.stdout == b"fresh\n"


def test_background_children_do_not_hold_the_channel(agent: Agent) -> None:
    t0 = time.monotonic()
    r = agent.chan.run("sleep 100 & echo started", timeout=10)
    assert r.stdout == b"started\n"
    assert time.monotonic() - t0 < 5


def test_stdin_is_the_console_as_under_nixpkgs(agent: Agent) -> None:
    # The backdoor's stdin never ends: a command reading it blocks until its timeout.
    t0 = time.monotonic()
    r = agent.chan.run("cat; echo not-reached", timeout=1)
    assert (r.status, r.stdout, r.timed_out) == (124, b"", True)
    assert time.monotonic() - t0 < 5
    assert agent.chan.run("read -r line </dev/null || echo eof", timeout=10).stdout == b"eof\n"
    assert agent.chan.run("echo next", timeout=10).stdout == b"next\n"


def test_abort_fails_a_waiting_call_at_once(tmp_path: Path) -> None:
    a = _spawn(SHELLS[0], tmp_path, use_pty=False)
    try:
        dead_at = time.monotonic() + 0.5
        a.chan._abort = lambda: "VM gone" if time.monotonic() > dead_at else None
        t0 = time.monotonic()
        with pytest.raises(ChannelError, match="VM gone"):
            a.chan.run("sleep 30", timeout=None)
        assert time.monotonic() - t0 < 2
    finally:
        os.killpg(a.proc.pid, signal.SIGKILL)
        a.proc.wait()


def test_eof_raises(tmp_path: Path) -> None:
    a = _spawn(SHELLS[0], tmp_path, use_pty=False)
    try:
        with pytest.raises(ChannelError, match="closed"):
            a.chan.run(f"kill -9 {a.proc.pid}", timeout=10)
    finally:
        os.killpg(a.proc.pid, signal.SIGKILL)
        a.proc.wait()


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_over_a_tty_like_hvc0(shell: list[str], tmp_path: Path) -> None:
    """On a tty the agent must switch off echo and newline translation itself."""
    a = _spawn(shell, tmp_path, use_pty=True)
    try:
        blob = bytes(range(256))
        (tmp_path / "blob").write_bytes(blob)
        assert a.chan.run(f"cat {tmp_path}/blob", timeout=10).stdout == blob
        assert a.chan.run("printf 'a\\r\\nb\\n'", timeout=10).stdout == b"a\r\nb\n"
        assert a.chan.run("exit 7", timeout=10).status == 7
        # stdin is the terminal: reading it blocks until the timeout, then all goes on.
        assert a.chan.run("read -r line", timeout=1) == Reply(124, b"", True)
        assert a.chan.run("tty", timeout=10).stdout.startswith(b"/dev/pts/")
    finally:
        os.killpg(a.proc.pid, signal.SIGKILL)
        a.proc.wait()


def test_decode_reply_ignores_stale_replies_and_waits_for_the_end() -> None:
    stale = b"PFR 1 0 0\naGk=\nPFE 1\n"
    assert decode_reply(2, stale) is None
    partial = stale + b"PFR 2 124 1\nb2s=\n"
    assert decode_reply(2, partial) is None
    full = partial + b"PFE 2\n"
    found = decode_reply(2, full)
    assert found is not None
    assert found[0] == Reply(124, b"ok", True)
    assert found[1] == len(full)


def test_encode_request_is_one_line() -> None:
    req = encode_request(9, "echo a\necho b\n", 30)
    assert req.count(b"\n") == 1 and req.startswith(b"PFQ 9 30 ")
    with pytest.raises(ValueError, match="NUL"):
        encode_request(1, "echo \0", 30)


def test_backslashes_escapes_and_odd_bytes_reach_the_shell_unchanged(agent: Agent) -> None:
    # The request escapes only backslashes and newlines; everything else goes through raw.
    for text in ["a\\nb", "\\0101 \\c \\\\", "tab\there", "cr\rlf", "é ü \x7f", "  spaced  "]:
        r = agent.chan.run(f"cat <<'EOF'\n{text}\nEOF", timeout=10)
        assert r.stdout == f"{text}\n".encode(), text


@pytest.mark.parametrize(
    ("timeout", "field"), [(None, "0"), (0, "0"), (900, "900"), (2.0, "2"), (0.25, "0.250")]
)
def test_timeout_field(timeout: float | None, field: str) -> None:
    assert format_timeout(timeout) == field


def test_output_of_a_leftover_child_does_not_leak_into_a_later_reply(agent: Agent) -> None:
    # The background writer inherits the first command's stdout and writes after its reply.
    first = agent.chan.run("(sleep 0.3; echo LATE-LATE-LATE-LATE-LATE) &", timeout=10)
    assert first.stdout == b""
    second = agent.chan.run("sleep 1; echo ok", timeout=10)
    assert second.stdout == b"ok\n"
    time.sleep(0.5)  # the writer is done by now
    assert agent.chan.run("true", timeout=10).stdout == b""
    # Output files are removed in batches, every 64 requests: they do not pile up.
    for _ in range(64):
        agent.chan.run("true", timeout=10)
    files = agent.chan.run("ls $PF_AGENT_TMPDIR | grep pf-agent", timeout=10).stdout.split()
    assert 2 <= len(files) < 64
    assert not any(f.endswith(b".1.out") for f in files)


def _send_to_a_guest_that_does_not_read(a: Agent, **kw: Any) -> BaseException | None:
    a.chan.send("sleep 60", None)  # the agent runs this and reads no further request
    time.sleep(0.5)
    big = "true #" + "x" * (4 * 1024 * 1024)  # far more than any pipe buffer
    caught: list[BaseException] = []

    def run() -> None:
        try:
            a.chan.run(big, timeout=None, **kw)
        except BaseException as e:
            caught.append(e)

    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(timeout=10)
    assert not th.is_alive(), "a large request blocked in write() past abort and deadline"
    return caught[0] if caught else None


def test_large_request_to_a_guest_that_stopped_reading_aborts(tmp_path: Path) -> None:
    a = _spawn(SHELLS[0], tmp_path, use_pty=False)
    try:
        dead_at = time.monotonic() + 1.5
        a.chan._abort = lambda: "VM gone" if time.monotonic() > dead_at else None
        err = _send_to_a_guest_that_does_not_read(a)
        assert isinstance(err, ChannelError) and "VM gone" in str(err)
    finally:
        os.killpg(a.proc.pid, signal.SIGKILL)
        a.proc.wait()


def test_large_request_to_a_guest_that_stopped_reading_times_out(tmp_path: Path) -> None:
    a = _spawn(SHELLS[0], tmp_path, use_pty=False)
    try:
        err = _send_to_a_guest_that_does_not_read(a, host_timeout=1.0)
        assert isinstance(err, ChannelTimeout)
        # Half a request went out: the stream is corrupt, later calls must not pretend otherwise.
        with pytest.raises(ChannelError, match="only in part"):
            a.chan.run("true", timeout=10)
    finally:
        os.killpg(a.proc.pid, signal.SIGKILL)
        a.proc.wait()
