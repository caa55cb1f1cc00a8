"""What testscripts/conformance.py cannot show on both paths: systemd's formats and exit codes
in detail, the boot's targets in their order, the base file system in detail, a unix stream
socket, block() with two VLANs, the disk across driver runs and without a disk."""

from __future__ import annotations

import dataclasses
import re
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

# The targets the boot reaches, in the order systemd reaches them, and their Descriptions.
BOOT_TARGETS = {
    "slices.target": "Slice Units",
    "swap.target": "Swaps",
    "local-fs-pre.target": "Preparation for Local File Systems",
    "local-fs.target": "Local File Systems",
    "sysinit.target": "System Initialization",
    "sockets.target": "Socket Units",
    "timers.target": "Timer Units",
    "paths.target": "Path Units",
    "basic.target": "Basic System",
    "network.target": "Network",
    "remote-fs.target": "Remote File Systems",
    "nss-lookup.target": "Host and Network Name Lookups",
    "nss-user-lookup.target": "User and Group Name Lookups",
    "getty.target": "Login Prompts",
    "multi-user.target": "Multi-User System",
}

NODE = NodeSpec(
    "machine",
    module_at_boot=False,
    vlans=(1, 2),
    users=("alice", "bob"),
    services={
        "sleeper": "exec sleep 100000",
        "broken": "echo broken-says-hi; exit 3",
        "forker": "sleep 4242 & exec sleep 4343",
        "chatty": "seq 1000; exit 4",  # journaled for seconds: longer than the old 2 s bound
        # What a service sees of the boot's targets as it starts: the jobs first, then each
        # target's state; then a start of default.target, which waits for the boot's job.
        "prober": "systemctl list-jobs > /run/probe.jobs;"
        f" for t in {' '.join(BOOT_TARGETS)} default.target; do"
        ' echo "$t $(systemctl is-active "$t" || :)"; done > /run/probe.states;'
        " systemctl start default.target || :;"
        " { systemctl is-active default.target || :; } > /run/probe.started",
    },
)


@pytest.fixture(scope="module")
def machine(driver_for: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    with driver_for(tmp_path_factory.mktemp("fidelity"), nodes=(NODE,)) as d:
        m = d.machines[0]
        m.wait_for_unit("multi-user.target")
        yield m


def test_the_standard_targets_as_systemctl_shows_them(machine: Machine) -> None:
    # nixos/tests/kernel-rust.nix starts with this: NixOS links default.target to
    # multi-user.target, so the alias shows the real unit's Id and both Names.
    machine.wait_for_unit("default.target")
    show = "systemctl show -p Id,Names,Description,LoadState,ActiveState,SubState"
    assert machine.succeed(f"{show} default.target") == (
        "Id=multi-user.target\nNames=multi-user.target default.target\n"
        "Description=Multi-User System\nLoadState=loaded\nActiveState=active\nSubState=active\n"
    )
    assert machine.systemctl("is-active default.target") == (0, "active\n")
    assert machine.succeed("systemctl status default.target").startswith(
        "● multi-user.target - Multi-User System\n"
    )
    for target, description in BOOT_TARGETS.items():
        machine.wait_for_unit(target)
        names = target + (" default.target" if target == "multi-user.target" else "")
        assert machine.succeed(f"{show} {target}") == (
            f"Id={target}\nNames={names}\nDescription={description}\n"
            "LoadState=loaded\nActiveState=active\nSubState=active\n"
        )
    row = f"  {'basic.target':<40} {'loaded':<9} {'active':<8} {'active':<8} Basic System\n"
    assert row in machine.succeed("systemctl list-units")


def test_network_online_target_waits_for_a_start(machine: Machine) -> None:
    # NixOS >= 25.05: nothing in a test VM pulls it in (no default gateway); tests start it.
    show = "systemctl show -p Id,Description,LoadState,ActiveState,SubState network-online.target"
    assert machine.succeed(show) == (
        "Id=network-online.target\nDescription=Network is Online\nLoadState=loaded\n"
        "ActiveState=inactive\nSubState=dead\n"
    )
    with pytest.raises(RequestedAssertionFailed, match="inactive and there are no pending jobs"):
        machine.wait_for_unit("network-online.target", timeout=30)
    assert "network-online.target" not in machine.succeed("systemctl list-units")
    assert "network-online.target" in machine.succeed("systemctl list-units --all")
    assert machine.systemctl("start network-online.target") == (0, "")
    machine.wait_for_unit("network-online.target")
    assert machine.get_unit_property("network-online.target", "SubState") == "active"
    # Logged as the boot's targets are (read without consuming: other tests wait for text).
    deadline = time.monotonic() + 30
    while "Reached target network-online.target" not in machine.get_console_log():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_the_boot_reaches_the_targets_in_systemds_order(machine: Machine) -> None:
    log = machine.get_console_log()
    reached = re.findall(r"^systemd\[1\]: Reached target (\S+) - (.*)\.\r?$", log, re.M)
    assert reached[: len(BOOT_TARGETS)] == list(BOOT_TARGETS.items())
    # Services start after basic.target (systemd's default dependencies) and are started
    # before multi-user.target is reached.
    basic = log.index("Reached target basic.target")
    started = log.index("systemd[1]: Started sleeper.service.")
    assert basic < started < log.index("Reached target multi-user.target")


def test_each_boot_target_has_a_start_job_until_it_is_reached(machine: Machine) -> None:
    # A service starts during the boot: whatever it finds, a target that is not active yet
    # has a pending start job (so wait_for_unit waits for it instead of raising), and a start
    # of one returns once the boot reached it.  The jobs are read before the states: a target
    # inactive then was inactive when its jobs were read.
    machine.wait_until_succeeds("test -e /run/probe.started", timeout=60)
    jobs = machine.succeed("cat /run/probe.jobs")
    for line in machine.succeed("cat /run/probe.states").splitlines():
        target, state = line.split()
        unit = "multi-user.target" if target == "default.target" else target  # jobs name it
        assert state == "active" or f" {unit} " in jobs, (target, state, jobs)
    assert machine.succeed("cat /run/probe.started") == "active\n"


def test_nixos_base_file_system(machine: Machine) -> None:
    # What NixOS's stage 2, activation and systemd-tmpfiles make (tmp.conf, var.conf,
    # systemd.conf, 00-nixos.conf; /var/empty immutable, nixos/tests/activation/var.nix).
    paths = "/tmp /var/tmp /var/empty /root /var/lib/private /run/lock /run/user /var/cache /var/db"
    assert machine.succeed(f"stat -c '%a %U:%G %n' {paths}") == (
        "1777 root:root /tmp\n1777 root:root /var/tmp\n555 root:root /var/empty\n"
        "700 root:root /root\n700 root:root /var/lib/private\n755 root:root /run/lock\n"
        "755 root:root /run/user\n755 root:root /var/cache\n755 root:root /var/db\n"
    )
    assert machine.succeed("lsattr -d /var/empty") == "----i---------e------- /var/empty\n"
    assert "Operation not permitted" in machine.fail("touch /var/empty/x 2>&1")
    assert machine.succeed("for l in /var/run /var/lock /etc/mtab; do readlink $l; done") == (
        "/run\n/run/lock\n/proc/mounts\n"
    )
    assert "/var ext4" in machine.succeed("cat /etc/mtab")


def test_etc_hosts_as_nixos_writes_it(machine: Machine) -> None:
    # networking.nix's lines, then the test network's: the node on its first VLAN.
    assert machine.succeed("cat /etc/hosts") == (
        "127.0.0.1 localhost\n::1 localhost\n127.0.0.2 machine\n192.168.1.1 machine\n"
    )


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
        *map(str, range(1, 1001)),
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
        # The base file system of the first boot, /etc's links written again over themselves.
        assert m.succeed("lsattr -d /var/empty; readlink /etc/mtab") == (
            "----i---------e------- /var/empty\n/proc/mounts\n"
        )
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


def test_without_a_disk_the_base_file_system_is_the_images(driver_for: Any, tmp_path: Path) -> None:
    with driver_for(tmp_path) as d:
        m: Machine = d.machines[0]
        m.config = dataclasses.replace(m.config, disk_size_mb=None)
        m.start()
        m.wait_for_console_text("rc: no disk", timeout=60)
        assert m.succeed("stat -c '%a %U:%G %n' /tmp /var/tmp /var/empty /root") == (
            "1777 root:root /tmp\n1777 root:root /var/tmp\n555 root:root /var/empty\n"
            "700 root:root /root\n"
        )
        assert m.succeed("for l in /var/run /var/lock /etc/mtab; do readlink $l; done") == (
            "/run\n/run/lock\n/proc/mounts\n"
        )
        # The initramfs's tmpfs keeps no inode flags (no TMPFS_XATTR in the kernel).
        assert "Operation not supported" in m.fail("lsattr -d /var/empty 2>&1")


def test_a_reboot_without_allow_reboot_ends_qemu(driver_for: Any, tmp_path: Path) -> None:
    with driver_for(tmp_path) as d:
        m: Machine = d.machines[0]
        m.start()
        m.succeed("true")
        m.reboot()
        with pytest.raises(VMCrashed, match="QEMU exited"):
            m.succeed("true")
