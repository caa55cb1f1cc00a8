"""What testscripts/conformance.py cannot show on both paths: systemd's formats and exit codes
in detail, a unix stream socket, block() with two VLANs, the disk across driver runs."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from printerfact.driver.errors import RequestedAssertionFailed, VMCrashed
from printerfact.driver.machine import Machine
from printerfact.nodes import NodeSpec

pytestmark = pytest.mark.vm

NODE = NodeSpec(
    "machine",
    module_at_boot=False,
    vlans=(1, 2),
    users=("alice", "bob"),
    services={
        "sleeper": "exec sleep 100000",
        "broken": "echo broken-says-hi; exit 3",
        "forker": "sleep 4242 & exec sleep 4343",
        "chatty": "seq 300; exit 4",
    },
)


@pytest.fixture(scope="module")
def machine(driver_for: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    with driver_for(tmp_path_factory.mktemp("fidelity"), nodes=(NODE,)) as d:
        m = d.machines[0]
        m.wait_for_unit("multi-user.target")
        yield m


def test_systemctl_show_formats(machine: Machine) -> None:
    machine.wait_for_unit("sleeper")
    assert machine.succeed("systemctl show sleeper -p ActiveState,SubState") == (
        "ActiveState=active\nSubState=running\n"
    )
    assert machine.succeed("systemctl show -p ExecMainStatus -p Result broken --value") == (
        "exit-code\n3\n"  # systemd prints properties in its own order, not the asked one
    )
    unknown = machine.get_unit_info("no-such")
    assert (unknown["LoadState"], unknown["ActiveState"]) == ("not-found", "inactive")


def test_systemctl_exit_codes_as_systemd(machine: Machine) -> None:
    assert machine.systemctl("is-failed broken") == (0, "failed\n")
    assert machine.systemctl("is-failed -q sleeper") == (1, "")
    assert machine.execute("systemctl status no-such 2>&1") == (
        4,
        "Unit no-such.service could not be found.\n",
    )
    status, out = machine.execute("systemctl start no-such 2>&1")
    assert (status, out) == (
        5,
        "Failed to start no-such.service: Unit no-such.service not found.\n",
    )
    assert machine.execute("systemctl frobnicate 2>&1") == (
        1,
        "Unknown command verb 'frobnicate'.\n",
    )
    assert machine.systemctl("daemon-reload") == (0, "")
    # No user managers in the image: systemctl --user fails as on NixOS without a session.
    assert machine.execute("systemctl --user list-jobs")[0] == 1
    with pytest.raises(RequestedAssertionFailed, match="failed with exit code 1"):
        machine.wait_for_unit("sleeper", user="alice", timeout=5)
    assert machine.systemctl("list-jobs") == (0, "No jobs running.\n")
    units = machine.succeed("systemctl list-units")
    assert "sleeper.service" in units and "multi-user.target" in units
    assert "broken.service" in machine.succeed("systemctl list-units --failed")
    machine.succeed("systemctl reset-failed broken")
    assert machine.get_unit_property("broken", "ActiveState") == "inactive"


def test_stop_ends_the_whole_unit_and_journals_it(machine: Machine) -> None:
    machine.wait_for_unit("forker")
    machine.succeed("ps -o args | grep -q '^sleep 4242'")
    machine.stop_job("forker")
    # Like systemd's control group: the child the service left running goes too.
    machine.wait_until_fails("ps -o args | grep -q '^sleep 4[23]4[23]'", timeout=30)
    journal = machine.succeed("journalctl -u forker -o cat")
    assert "Stopping forker.service...\nStopped forker.service.\n" in journal
    assert machine.get_unit_property("forker", "Result") == "success"


def test_journalctl(machine: Machine) -> None:
    machine.wait_for_console_text(r"broken-start\[\d+\]: broken-says-hi", timeout=30)
    short = machine.succeed("journalctl -u broken.service --no-pager -b")
    assert " machine broken-start[" in short and "]: broken-says-hi" in short
    assert machine.succeed("journalctl -u broken -o cat -g says") == "broken-says-hi\n"
    last = machine.succeed("journalctl -u broken -o cat -n 1")
    assert last == "broken.service: Failed with result 'exit-code'.\n"
    assert machine.succeed("journalctl -u no-such") == "-- No entries --\n"
    assert machine.execute("journalctl --follow")[0] == 1


def test_reports_reach_a_pipe_in_one_write(machine: Machine) -> None:
    # systemd's tools write through C stdio, fully buffered on a pipe: a short report is one
    # write, so a reader that stops at its first match (grep -q) cannot SIGPIPE them, which
    # the driver's pipefail would turn into exit 141.  Bash writes line by line.
    machine.wait_for_unit("sleeper")
    machine.succeed(
        "for i in $(seq 25); do"
        " journalctl -u broken | grep -q broken-says-hi;"
        " systemctl list-units | grep -q UNIT;"
        " systemctl status sleeper | grep -q Loaded;"
        " systemctl show sleeper | grep -q Type=simple;"
        " done"
    )


def test_a_units_output_is_journaled_before_its_end(machine: Machine) -> None:
    machine.wait_until_succeeds("systemctl is-failed chatty", timeout=60)
    journal = machine.succeed("journalctl -u chatty -o cat").splitlines()
    assert journal[2:] == [
        *map(str, range(1, 301)),
        "chatty.service: Main process exited, code=exited, status=4/FAILURE",
        "chatty.service: Failed with result 'exit-code'.",
    ]


def test_each_normal_user_has_a_home(machine: Machine) -> None:
    assert machine.succeed("stat -c '%U %G %a' /home/alice /home/bob") == (
        "alice users 700\nbob users 700\n"
    )
    assert machine.succeed("getent passwd bob 2>/dev/null || grep ^bob: /etc/passwd") == (
        "bob:x:1001:100::/home/bob:/bin/bash\n"
    )


def test_succeed_past_its_timeout_names_stdin(machine: Machine) -> None:
    with pytest.raises(RequestedAssertionFailed, match=r"exit code 124\): timed out .* stdin"):
        machine.succeed("cat", timeout=1)


def test_block_switches_only_the_first_vlan_nic(machine: Machine) -> None:
    carriers = "cat /sys/class/net/eth1/carrier /sys/class/net/eth2/carrier"
    assert machine.succeed(carriers) == "1\n1\n"
    machine.block()
    machine.wait_until_succeeds(f'test "$({carriers} | tr -d "\\n")" = 01', timeout=30)
    machine.unblock()
    machine.wait_until_succeeds(f'test "$({carriers} | tr -d "\\n")" = 11', timeout=30)


UNIX_SERVER = r"""
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(int argc, char **argv) {  /* unix-server PATH stream|dgram: bind, listen, sleep */
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int s = socket(AF_UNIX, strcmp(argv[2], "dgram") ? SOCK_STREAM : SOCK_DGRAM, 0);
    strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a)) return 1;
    if (strcmp(argv[2], "dgram") && listen(s, 1)) return 1;
    pause();
    return 0;
}
"""


def test_wait_for_open_unix_socket(machine: Machine, tmp_path: Path) -> None:
    cc = shutil.which("gcc") or shutil.which("clang")
    assert cc, "no C compiler (gcc or clang) on the host"
    (tmp_path / "server.c").write_text(UNIX_SERVER)
    subprocess.run([cc, "-static", "-O2", "-o", str(tmp_path / "unix-server"),
                    str(tmp_path / "server.c")], check=True)  # fmt: skip
    machine.copy_from_host(str(tmp_path / "unix-server"), "/root/unix-server")
    machine.succeed("(/root/unix-server /run/s.sock stream & echo $! > /run/s.pid) >/dev/null")
    machine.wait_for_open_unix_socket("/run/s.sock", timeout=30)
    machine.succeed("ln -sf /run/s.sock /run/link.sock")
    machine.wait_for_open_unix_socket("/run/link.sock", timeout=5)  # connect() follows links
    t0 = time.monotonic()
    with pytest.raises(RequestedAssertionFailed):
        machine.wait_for_open_unix_socket("/run/s.sock", is_datagram=True, timeout=2)
    assert time.monotonic() - t0 < 10
    machine.succeed("kill $(cat /run/s.pid)")
    # The path is still there, nobody listens: closed.
    with pytest.raises(RequestedAssertionFailed):
        machine.wait_for_open_unix_socket("/run/s.sock", timeout=2)
    machine.succeed("(/root/unix-server /run/d.sock dgram &) >/dev/null")
    machine.wait_for_open_unix_socket("/run/d.sock", is_datagram=True, timeout=30)


def _state(out: Path) -> Path:
    return out / "vm-state-machine"


def test_the_disk_survives_a_crash_and_is_kept_across_runs_only_if_asked(
    driver_for: Any, tmp_path: Path
) -> None:
    node = (NodeSpec("machine", module_at_boot=False, users=("alice",)),)
    with driver_for(tmp_path, nodes=node, keep_vm_state=True) as d:
        m = d.machines[0]
        assert m.state_dir == _state(d.out_dir) and m.disk_path == m.state_dir / "machine.img"
        m.succeed(
            "echo var > /var/lib/kept; echo root > /root/kept; echo etc > /etc/kept;"
            " echo tmp > /tmp/kept; echo home > /home/alice/kept; sync"
        )
        m.crash()  # written and synced: a power cut keeps it (the journal is replayed)
        m.start()
        m.succeed("dmesg | grep -q 'EXT4-fs (vda): recovery complete'")
        m.succeed("echo after-crash >> /var/lib/kept")
        m.shutdown()  # clean: the next mount needs no recovery
    with driver_for(tmp_path, nodes=node, keep_vm_state=True) as d:
        m = d.machines[0]
        files = "/var/lib/kept /root/kept /etc/kept /tmp/kept /home/alice/kept"
        assert m.succeed(f"cat {files}") == "var\nafter-crash\nroot\netc\ntmp\nhome\n"
        m.fail("dmesg | grep -q 'recovery complete'")
        # /etc is the image's again at each boot, as NixOS's activation makes it.
        assert "PF_HOSTNAME=machine" in m.succeed("cat /etc/printerfact/node.env")
    with driver_for(tmp_path, nodes=node) as d:  # not kept: a fresh disk, gone afterwards
        m = d.machines[0]
        assert m.state_dir.is_relative_to(d.tmp_dir)
        m.fail("test -e /var/lib/kept")
        assert m.succeed("stat -c '%U %a' /home/alice /tmp /root") == (
            "alice 700\nroot 1777\nroot 700\n"
        )
    assert not d.tmp_dir.exists()


def test_a_reboot_without_allow_reboot_ends_qemu(driver_for: Any, tmp_path: Path) -> None:
    with driver_for(tmp_path) as d:
        m: Machine = d.machines[0]
        m.start()
        m.succeed("true")
        m.reboot()
        with pytest.raises(VMCrashed, match="QEMU exited"):
            m.succeed("true")
