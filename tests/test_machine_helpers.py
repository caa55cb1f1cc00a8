"""Machine's pure half (driver/machine_helpers.py), no VM: systemctl's output read as nixpkgs
reads it, the guest command lines, the timeout messages.  The unix-socket check runs against
this host's own /proc/net/unix, the table the guest's kernel has too."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from printerfact.driver.machine_helpers import (
    HELD_OPEN_HINT,
    STDIN_HINT,
    make_command,
    parse_unit_info,
    parse_unit_property,
    systemctl_command,
    timed_out_message,
    unix_socket_open_command,
    whose,
)
from printerfact.vm.framing import HELD_OPEN, TIMED_OUT

SHOW = "Id=sshd.service\nActiveState=active\nExecStart={ path=/bin/x ; argv[]=/bin/x -a=b }\n\n"


def test_unit_info_is_every_property_line() -> None:
    info = parse_unit_info(SHOW + "not a property\n")
    assert info == {
        "Id": "sshd.service",
        "ActiveState": "active",
        "ExecStart": "{ path=/bin/x ; argv[]=/bin/x -a=b }",  # split at the first "="
    }
    assert parse_unit_info("") == {}


def test_unit_property_is_its_value_and_anything_else_an_assertion() -> None:
    assert parse_unit_property("ActiveState=inactive\n", "x", "ActiveState") == "inactive"
    with pytest.raises(AssertionError, match='--property "ActiveState" "x"produced invalid'):
        parse_unit_property("SubState=dead\n", "x", "ActiveState")
    with pytest.raises(AssertionError):
        parse_unit_property("", "x", "ActiveState")


def test_systemctl_for_a_user_runs_in_their_login_shell_as_nixpkgs() -> None:
    assert systemctl_command("list-jobs") == "systemctl list-jobs"
    assert systemctl_command("show 'a b'", "alice") == (
        "su -l alice --shell /bin/sh -c "
        "$'XDG_RUNTIME_DIR=/run/user/`id -u` systemctl --user show \\'a b\\''"
    )
    assert whose(None) == "" and whose("alice") == ' under user "alice"'


def test_timeout_messages_name_the_likely_cause() -> None:
    assert timed_out_message("cat", 2) == (
        f"command `cat` timed out after 2 s (exit code 124){STDIN_HINT}"
    )
    assert timed_out_message("cat", 2, TIMED_OUT).endswith(STDIN_HINT)
    assert timed_out_message("x &", 5, HELD_OPEN).endswith(HELD_OPEN_HINT)


def test_make_command_quotes_each_argument() -> None:
    assert make_command(["cp", "-r", Path("/a b"), "it's"]) == "cp -r '/a b' 'it'\"'\"'s'"


@pytest.mark.skipif(not Path("/proc/net/unix").exists(), reason="needs /proc/net/unix")
@pytest.mark.skipif(shutil.which("awk") is None, reason="needs awk")
def test_unix_socket_check_against_the_kernels_socket_table(tmp_path: Path) -> None:
    def is_open(path: Path, datagram: bool = False) -> bool:
        command = unix_socket_open_command(str(path), datagram)
        return subprocess.run(["sh", "-c", command], check=False).returncode == 0

    stream, dgram, link = tmp_path / "s", tmp_path / "d", tmp_path / "link"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(stream))
        assert not is_open(stream)  # bound, not listening yet
        s.listen(1)
        link.symlink_to(stream)
        assert is_open(stream) and is_open(link)  # connect() follows the symlink
        assert not is_open(stream, datagram=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as d:
        d.bind(str(dgram))
        assert is_open(dgram, datagram=True) and not is_open(dgram)
    assert not is_open(tmp_path / "absent")
