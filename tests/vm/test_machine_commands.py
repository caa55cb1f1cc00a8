"""Machine's command, wait, console, monitor and copy methods on one booted guest."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from printerfact.driver.driver import Driver
from printerfact.driver.errors import RequestedAssertionFailed
from printerfact.driver.machine import Machine
from printerfact.driver.polling_condition import PollingConditionError

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def driver(driver_for: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driver]:
    with driver_for(tmp_path_factory.mktemp("commands")) as d:
        d.machines[0].start()
        yield d


@pytest.fixture
def machine(driver: Driver) -> Machine:
    return driver.machines[0]


def test_execute_returns_status_and_stdout_only(machine: Machine) -> None:
    assert machine.execute("echo out; echo err-7f3a >&2; exit 4") == (4, "out\n")
    machine.wait_for_console_text("err-7f3a", timeout=30)
    assert machine.is_up()


def test_execute_uses_pipefail_and_errexit(machine: Machine) -> None:
    assert machine.execute("false | true")[0] != 0
    assert machine.execute("false; echo not-reached") == (1, "")


def test_succeed_concatenates_and_stops_at_first_failure(machine: Machine) -> None:
    assert machine.succeed("echo a", "printf b") == "a\nb"
    machine.succeed("rm -f /tmp/after")
    with pytest.raises(RequestedAssertionFailed, match=r"`exit 3` failed \(exit code 3\)"):
        machine.succeed("true", "exit 3", "touch /tmp/after")
    machine.fail("test -e /tmp/after")


def test_fail(machine: Machine) -> None:
    assert machine.fail("echo x; exit 2") == "x\n"
    with pytest.raises(RequestedAssertionFailed, match="unexpectedly succeeded"):
        machine.fail("true")


def test_binary_and_large_output(machine: Machine) -> None:
    reply = machine._run(
        'i=0; while [ $i -lt 256 ]; do printf "\\\\$(printf %o $i)"; i=$((i+1)); done'
    )
    assert (reply.status, reply.stdout) == (0, bytes(range(256)))
    big = machine.succeed("head -c 1048576 /dev/zero | tr '\\0' x")
    assert big == "x" * 1048576


def test_timeout_is_status_124_and_the_log_says_why(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    logged: list[str] = []
    monkeypatch.setattr(machine, "log", logged.append)
    # As nixpkgs' `timeout 2 bash -c ...`: status 124, output so far, the channel goes on.
    t0 = time.monotonic()
    assert machine.execute("echo begun; sleep 600", timeout=2) == (124, "begun\n")
    assert time.monotonic() - t0 < 8
    said = "\n".join(logged)
    assert "command `echo begun; sleep 600` timed out after 2 s (exit code 124)" in said
    assert "stdin" in said and "--- last console lines ---" in said
    assert machine.succeed("echo alive") == "alive\n"


def test_check_output_and_check_return(machine: Machine) -> None:
    assert machine.execute("touch /tmp/nocheck", check_output=False) == (-2, "")
    machine.wait_for_file("/tmp/nocheck", timeout=10)
    assert machine.execute("echo x; exit 5", check_return=False) == (-1, "x\n")


def test_a_background_job_is_waited_for_until_it_closes_stdout(machine: Machine) -> None:
    # nixpkgs' execute: "It will wait for stdout to be closed.  If the command detaches, it
    # must close stdout."
    t0 = time.monotonic()
    assert machine.succeed("(echo ONE; sleep 3; echo TWO) &") == "ONE\nTWO\n"
    assert time.monotonic() - t0 >= 3
    t0 = time.monotonic()
    machine.succeed("sleep 300 >/dev/null &")
    assert time.monotonic() - t0 < 5
    # Held open past the timeout: the reply ends there (nixpkgs would wait for good).
    status, out = machine.execute("(echo ONE; sleep 300) &", timeout=2)
    assert (status, out) == (124, "ONE\n")


def test_wait_until_succeeds_and_fails(machine: Machine) -> None:
    machine.succeed("rm -f /tmp/later; (sleep 2; touch /tmp/later) >/dev/null 2>&1 &")
    machine.wait_until_succeeds("test -e /tmp/later", timeout=20)
    machine.succeed("(sleep 2; rm /tmp/later) >/dev/null 2>&1 &")
    machine.wait_until_fails("test -e /tmp/later", timeout=20)
    with pytest.raises(RequestedAssertionFailed, match="timed out after 2 tries"):
        machine.wait_until_succeeds("false", timeout=2)


def test_wait_for_file(machine: Machine) -> None:
    machine.succeed("(sleep 1; touch /tmp/wff) >/dev/null 2>&1 &")
    machine.wait_for_file("/tmp/wff", timeout=20)
    with pytest.raises(RequestedAssertionFailed):
        machine.wait_for_file("/tmp/never", timeout=1)


def test_wait_for_open_and_closed_port(machine: Machine) -> None:
    machine.wait_for_closed_port(8123, timeout=5)
    machine.succeed("nc -ll -p 8123 -e echo hello >/dev/null 2>&1 & echo $! > /tmp/nc.pid")
    machine.wait_for_open_port(8123, timeout=20)
    machine.succeed("kill $(cat /tmp/nc.pid)")
    machine.wait_for_closed_port(8123, timeout=20)


def test_wait_for_unit(machine: Machine) -> None:
    machine.wait_for_unit("multi-user.target", timeout=60)
    machine.succeed("echo failed > /run/units/broken.service")
    t0 = time.monotonic()
    with pytest.raises(RequestedAssertionFailed, match='reached state "failed"'):
        machine.wait_for_unit("broken.service", timeout=60)
    machine.succeed("echo inactive > /run/units/stopped.service")
    with pytest.raises(RequestedAssertionFailed, match="inactive and there are no pending jobs"):
        machine.wait_for_unit("stopped.service", timeout=60)
    with pytest.raises(RequestedAssertionFailed, match='"no-such-unit" is inactive and there'):
        machine.wait_for_unit("no-such-unit", timeout=60)
    assert time.monotonic() - t0 < 10  # all at once, not after the timeout
    # A unit that is still starting is waited for.
    machine.succeed("echo activating > /run/units/late.service")
    machine.succeed("(sleep 2; echo active > /run/units/late.service) >/dev/null 2>&1 &")
    machine.wait_for_unit("late", timeout=30)  # no suffix: a .service, as with systemd
    # So is an inactive one while a job is pending for it (systemd: a queued start job).
    machine.succeed("echo start > /run/units/queued.service.job")
    machine.succeed(
        "(sleep 2; echo active > /run/units/queued.service; rm /run/units/queued.service.job)"
        " >/dev/null 2>&1 &"
    )
    machine.wait_for_unit("queued.service", timeout=30)


def test_console_text_log_and_send_console(machine: Machine) -> None:
    assert "Linux version" in machine.get_console_log()
    machine.succeed("echo console-marker-51 > /dev/console")
    machine.wait_for_console_text(r"console-marker-\d+", timeout=30)
    with pytest.raises(RequestedAssertionFailed, match="did not appear"):
        machine.wait_for_console_text("never-printed-xyz", timeout=1)
    # Characters reach the guest's ttyS0 ...
    machine.succeed(
        'rm -f /tmp/typed; (read -r line </dev/ttyS0; echo "$line" > /tmp/typed) >/dev/null &'
    )
    machine.send_console("typed-8d1\n")
    machine.wait_for_file("/tmp/typed", timeout=30)
    assert machine.succeed("cat /tmp/typed") == "typed-8d1\n"
    # ... but no shell reads them: NixOS test VMs have none on the serial console.
    machine.send_console("\necho pwned > /tmp/pwned\n")
    machine.sleep(2)
    machine.fail("test -e /tmp/pwned")


def test_monitor(machine: Machine) -> None:
    reply = machine.send_monitor_command("info status")
    # As nixpkgs: everything up to and including the prompt.
    assert "VM status: running\r\n" in reply and reply.endswith("(qemu) "), repr(reply)


def test_copy_from_host_and_vm(machine: Machine, driver: Driver, tmp_path: Path) -> None:
    blob = bytes(range(256)) * 1000
    src = tmp_path / "payload.bin"
    src.write_bytes(blob)
    src.chmod(0o750)
    machine.copy_from_host(str(src), "/root/deep/copy.bin")
    assert machine.succeed("stat -c '%a %U %s' /root/deep/copy.bin") == f"750 root {len(blob)}\n"
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "f.txt").write_text("inner\n")
    machine.copy_from_host(str(tree), "/root/tree")
    assert machine.succeed("cat /root/tree/sub/f.txt") == "inner\n"
    machine.copy_from_vm("/root/deep/copy.bin", "back")
    assert (driver.out_dir / "back" / "copy.bin").read_bytes() == blob
    machine.copy_from_vm("/root/tree")
    assert (driver.out_dir / "tree" / "sub" / "f.txt").read_text() == "inner\n"


def test_copy_from_host_into_an_existing_directory(machine: Machine, tmp_path: Path) -> None:
    # As `cp -r` and nixpkgs: the source keeps its name inside an existing directory.
    (tmp_path / "notes.txt").write_text("note\n")
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.conf").write_text("a\n")
    machine.succeed("rm -rf /root/into && mkdir /root/into")
    machine.copy_from_host(str(tmp_path / "notes.txt"), "/root/into")
    machine.copy_from_host(str(tmp_path / "conf.d"), "/root/into")
    assert machine.succeed("cat /root/into/notes.txt /root/into/conf.d/a.conf") == "note\na\n"
    assert machine.succeed("ls /root/into") == "conf.d\nnotes.txt\n"


def test_copies_go_through_the_shared_directory(
    machine: Machine, driver: Driver, tmp_path: Path
) -> None:
    # /tmp/shared is the driver's shared directory, over virtio-9p as on NixOS test VMs: what
    # the guest writes there is on the host at once, and each copy cleans up after itself.
    assert machine.shared_dir == driver.shared_dir
    mounts = machine.succeed("cat /proc/mounts")
    assert any(line.split()[1:3] == ["/tmp/shared", "9p"] for line in mounts.splitlines())
    machine.succeed("echo from-guest-51c > /tmp/shared/hello.txt")
    assert (driver.shared_dir / "hello.txt").read_text() == "from-guest-51c\n"
    (driver.shared_dir / "hello.txt").unlink()
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(8 << 20))
    machine.copy_from_host(str(big), "/root/big.bin")
    machine.copy_from_vm("/root/big.bin", "big-back")
    assert (driver.out_dir / "big-back" / "big.bin").read_bytes() == big.read_bytes()
    assert list(driver.shared_dir.iterdir()) == []


def test_the_guest_random_generator_is_seeded_at_boot(machine: Machine) -> None:
    # Under TCG the guest gets RDRAND (qemu_argv.TCG_CPU), as KVM guests have it: without it
    # the CRNG never became ready and every open of /dev/printerfact took the slow unseeded
    # path (2.5x the time of an open of /dev/zero; bench/run.py measures it).
    assert "random: crng init done" in machine.succeed("dmesg")


def test_console_log_has_no_terminal_escape_sequences(machine: Machine) -> None:
    # No shell prompt on the serial console: nothing writes cursor queries or colours there.
    machine.succeed("echo to-console-9d2 >&2; true")
    machine.wait_for_console_text("to-console-9d2", timeout=30)
    log = machine.get_console_log()
    assert "\x1b" not in log and "\x1b" not in machine.console_log_path.read_text()


def test_console_text_consumes_only_up_to_the_matching_line(machine: Machine) -> None:
    # Both lines reach the console in one write, so they arrive together.
    machine.succeed("printf 'two-lines-A-6e1\\ntwo-lines-B-6e1\\n' > /dev/ttyS0")
    deadline = time.monotonic() + 30
    while "two-lines-B-6e1" not in machine.get_console_log():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    t0 = time.monotonic()
    machine.wait_for_console_text("two-lines-A-6e1", timeout=5)
    machine.wait_for_console_text("two-lines-B-6e1", timeout=5)
    assert time.monotonic() - t0 < 2
    # Consumed now: the same text does not match again.
    with pytest.raises(RequestedAssertionFailed, match="did not appear"):
        machine.wait_for_console_text("two-lines-[AB]-6e1", timeout=1)


def test_sleep_is_guest_time(machine: Machine) -> None:
    t0 = time.monotonic()
    machine.sleep(1)
    assert time.monotonic() - t0 >= 1


def test_console_log_file_in_out_dir(machine: Machine, driver: Driver) -> None:
    log = (driver.out_dir / "machine.console.log").read_text()
    assert "Linux version" in log and os.path.getsize(driver.out_dir / "machine.console.log") > 0


def test_polling_condition_fails_the_next_action(machine: Machine, driver: Driver) -> None:
    machine.succeed("touch /tmp/healthy")

    def healthy() -> bool:
        return machine.execute("test -e /tmp/healthy")[0] == 0

    with driver.polling_condition(healthy, seconds_interval=0):
        machine.succeed("true")
        machine.succeed("rm /tmp/healthy")
        with pytest.raises(PollingConditionError, match="healthy"):
            machine.succeed("true")


def test_shell_interact(
    machine: Machine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typed = iter(["echo via-shell", "", "exit 3"])

    def keyboard(prompt: str) -> str:
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None  # Ctrl-D

    monkeypatch.setattr("builtins.input", keyboard)
    machine.shell_interact()
    out = capsys.readouterr().out
    assert "via-shell\n" in out and "[exit 3]" in out
