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

from printerfact.image import base
from printerfact.vm.framing import (
    HELD_OPEN,
    INLINE_MAX,
    TIMED_OUT,
    ChannelError,
    ChannelStalled,
    ChannelTimeout,
    CommandChannel,
    Reply,
    decode_reply,
    encode_request,
    format_timeout,
)

AGENT = base.GUEST_DIR / "agent.sh"
# The agent is a bash script (the guest runs it with bash-static, as NixOS runs its backdoor).
SHELL = ["bash"]


@dataclass
class Agent:
    proc: subprocess.Popen[bytes]
    chan: CommandChannel
    stderr_file: Path


def _fake_date(tmp: Path) -> Path:
    """A `date` that notes its arguments in tmp/date.args."""
    fake = tmp / "fake-date"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {tmp}/date.args\n')
    fake.chmod(0o755)
    return fake


def _spawn(shell: list[str], tmp: Path, use_pty: bool) -> Agent:
    err = tmp / "stderr.log"
    env = {
        **os.environ,
        "PF_AGENT_STDERR": str(err),
        "PF_AGENT_TMPDIR": str(tmp),
        "PF_AGENT_PROFILE": "",
        "PF_AGENT_CWD": str(tmp),
        "PF_AGENT_KILL_AFTER": "1",
        "PF_AGENT_CHANNEL": "-",  # the protocol on stdin/stdout, as one pipe or tty
        "PF_AGENT_KEEPALIVE": "0.2",
        "PF_AGENT_DATE": str(_fake_date(tmp)),  # the host's clock is not the test's to set
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


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    a = _spawn(SHELL, tmp_path, use_pty=False)
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


def test_the_clock_frame_sets_the_clock_without_a_reply(agent: Agent, tmp_path: Path) -> None:
    assert agent.proc.stdin is not None
    os.write(agent.proc.stdin.fileno(), b"PFT 12x\nPFT\n")  # malformed: ignored
    agent.chan.set_clock(1234567890)
    # No reply of its own: the next request's reply is the next thing on the channel.
    assert agent.chan.run("echo after", timeout=10).stdout == b"after\n"
    assert (tmp_path / "date.args").read_text() == "-s @1234567890\n"


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


def test_background_children_that_close_stdout_do_not_hold_the_reply(agent: Agent) -> None:
    t0 = time.monotonic()
    r = agent.chan.run("sleep 100 >/dev/null & echo started", timeout=10)
    assert r.stdout == b"started\n"
    assert time.monotonic() - t0 < 5


def test_the_reply_waits_for_stdout_to_close(agent: Agent) -> None:
    # nixpkgs reads `bash -c CMD | base64` to its end: a child that keeps stdout open is
    # waited for, and its output is part of the reply.
    t0 = time.monotonic()
    r = agent.chan.run("(echo ONE; sleep 1.5; echo TWO) &", timeout=None, host_timeout=20)
    assert (r.status, r.stdout, r.timed_out) == (0, b"ONE\nTWO\n", 0)
    assert 1.4 <= time.monotonic() - t0 < 5


def test_output_held_open_past_the_timeout_ends_the_reply_with_124(agent: Agent) -> None:
    # nixpkgs would wait for good; here the timeout bounds the whole reply.
    t0 = time.monotonic()
    r = agent.chan.run("(echo ONE; sleep 1000; echo TWO) &", timeout=1)
    assert (r.status, r.stdout, r.timed_out) == (124, b"ONE\n", HELD_OPEN)
    assert time.monotonic() - t0 < 4
    assert agent.chan.run("echo next", timeout=10).stdout == b"next\n"


def _alive(pid: int) -> bool:
    """Running or sleeping, not gone and not a zombie waiting for its (new) parent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_writer_outside_the_group_cannot_hold_the_reply_or_reach_a_later_one(
    agent: Agent, tmp_path: Path
) -> None:
    # setsid: the group kill misses it; the agent closes the pipe, the writer's next write
    # fails, and nothing of it shows up in the next reply.
    r = agent.chan.run(
        f"setsid bash -c 'echo $$ > {tmp_path}/w; echo EARLY; sleep 4; echo LATE' &", timeout=1
    )
    # The encoder had to be killed: what it held unencoded (here all of it) is lost.
    assert (r.status, r.timed_out) == (124, HELD_OPEN)
    assert b"EARLY\n".startswith(r.stdout)
    # 1 s timeout + 1 s grace + 1 s after SIGKILL (PF_AGENT_KILL_AFTER=1): ended at ~3 s.
    second = agent.chan.run("sleep 2; echo ok", timeout=10)
    assert second.stdout == b"ok\n"
    pid = int((tmp_path / "w").read_text())
    assert not _alive(pid)  # it died of the closed pipe (SIGPIPE)


def test_stdin_is_the_console_as_under_nixpkgs(agent: Agent) -> None:
    # The backdoor's stdin never ends: a command reading it blocks until its timeout.
    t0 = time.monotonic()
    r = agent.chan.run("cat; echo not-reached", timeout=1)
    assert (r.status, r.stdout, r.timed_out) == (124, b"", True)
    assert time.monotonic() - t0 < 5
    assert agent.chan.run("read -r line </dev/null || echo eof", timeout=10).stdout == b"eof\n"
    assert agent.chan.run("echo next", timeout=10).stdout == b"next\n"


def test_abort_fails_a_waiting_call_at_once(tmp_path: Path) -> None:
    a = _spawn(SHELL, tmp_path, use_pty=False)
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
    a = _spawn(SHELL, tmp_path, use_pty=False)
    try:
        with pytest.raises(ChannelError, match="closed"):
            a.chan.run(f"kill -9 {a.proc.pid}", timeout=10)
    finally:
        os.killpg(a.proc.pid, signal.SIGKILL)
        a.proc.wait()


def test_over_a_tty_like_hvc0(tmp_path: Path) -> None:
    """On a tty the agent must switch off echo and newline translation itself."""
    a = _spawn(SHELL, tmp_path, use_pty=True)
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
    stale = b"PFO 1\naGk=\n\nPFR 1 0 0\n"
    assert decode_reply(2, stale) is None
    partial = stale + b"PFO 2\nb2s=\n"
    assert decode_reply(2, partial) is None
    assert decode_reply(2, partial + b"\nPFR 2 124") is None  # the end frame's line is cut
    full = partial + b"\nPFR 2 124 1\n"
    found = decode_reply(2, full)
    assert found is not None
    assert found[0] == Reply(124, b"ok", TIMED_OUT)
    assert found[1] == len(full)
    # An empty body, and one whose encoder was killed mid-quantum.
    empty = b"PFO 3\n\nPFR 3 0 0\n"
    assert decode_reply(3, empty) == (Reply(0, b""), len(empty))
    cut = decode_reply(4, b"PFO 4\nb2s=b2\nPFR 4 124 2\n")
    assert cut is not None and cut[0] == Reply(124, b"ok", HELD_OPEN)


def test_encode_request_is_one_line() -> None:
    req = encode_request(9, "echo a\necho b\n", 30)
    assert req.count(b"\n") == 1 and req.startswith(b"PFQ 9 30 ")
    long = "echo " + "x" * INLINE_MAX
    assert encode_request(3, long, 5) == f"PFB 3 5 {len(long)}\n{long}".encode()
    with pytest.raises(ValueError, match="NUL"):
        encode_request(1, "echo \0", 30)


@pytest.mark.parametrize("pad", [INLINE_MAX - 200, INLINE_MAX + 1, 3 * INLINE_MAX])
def test_long_commands_in_bulk_and_the_next_request_after_them(agent: Agent, pad: int) -> None:
    # Either side of INLINE_MAX: escapes, newlines and multibyte text arrive unchanged, and the
    # request after a bulk one is read from the right place.
    text = "a\\nb\tc é\n" * (pad // 10)
    r = agent.chan.run(f"cat <<'EOF'\n{text}\nEOF", timeout=10)
    assert r.stdout == f"{text}\n".encode()
    assert agent.chan.run("echo next", timeout=10).stdout == b"next\n"


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


def test_output_of_a_leftover_child_is_its_own_commands(agent: Agent) -> None:
    # The background writer inherits the first command's stdout: the first reply waits for it,
    # the second has only its own output.
    first = agent.chan.run("(sleep 0.3; echo LATE) &", timeout=10)
    assert first.stdout == b"LATE\n"
    second = agent.chan.run("echo ok", timeout=10)
    assert second.stdout == b"ok\n"


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
    a = _spawn(SHELL, tmp_path, use_pty=False)
    try:
        dead_at = time.monotonic() + 1.5
        a.chan._abort = lambda: "VM gone" if time.monotonic() > dead_at else None
        err = _send_to_a_guest_that_does_not_read(a)
        assert isinstance(err, ChannelError) and "VM gone" in str(err)
    finally:
        os.killpg(a.proc.pid, signal.SIGKILL)
        a.proc.wait()


def test_large_request_to_a_guest_that_stopped_reading_times_out(tmp_path: Path) -> None:
    a = _spawn(SHELL, tmp_path, use_pty=False)
    try:
        err = _send_to_a_guest_that_does_not_read(a, host_timeout=1.0)
        assert isinstance(err, ChannelTimeout)
        # Half a request went out: the stream is corrupt, later calls must not pretend otherwise.
        with pytest.raises(ChannelError, match="only in part"):
            a.chan.run("true", timeout=10)
    finally:
        os.killpg(a.proc.pid, signal.SIGKILL)
        a.proc.wait()


def test_keepalives_keep_the_watchdog_quiet_and_stay_out_of_the_output(agent: Agent) -> None:
    # A long quiet command, and one whose output the keepalives must not corrupt.
    agent.chan.stall_after = 1.0
    r = agent.chan.run("sleep 2.5; echo done", timeout=10)
    assert r.stdout == b"done\n"
    r = agent.chan.run("for i in 1 2 3; do head -c 100000 /dev/zero; sleep 0.5; done", timeout=20)
    assert r.stdout == bytes(300000)


def test_the_watchdog_fails_a_command_whose_channel_goes_quiet(agent: Agent) -> None:
    # The agent (its whole session) stopped: no keepalive, no reply.  The watchdog fires after
    # stall_after, long before the command's timeout.
    agent.chan.stall_after = 1.0
    agent.chan.send("true", 10)  # warm: the agent is reading
    t0 = time.monotonic()
    threading.Timer(0.3, os.killpg, (agent.proc.pid, signal.SIGSTOP)).start()
    try:
        with pytest.raises(ChannelStalled, match="keepalive"):
            agent.chan.run("sleep 60", timeout=120)
        assert 1.0 <= time.monotonic() - t0 < 5
        with pytest.raises(ChannelError, match="stalled"):  # and it stays unusable
            agent.chan.run("true", timeout=10)
    finally:
        os.killpg(agent.proc.pid, signal.SIGCONT)
