"""Snapshot boots: the first run saves a node's booted state, later runs restore it; restored
nodes reseed their CRNG (vmgenid), so two restores of one snapshot pick different facts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from printerfact.vm import snapshot

pytestmark = pytest.mark.vm

MOUNTED = "grep -q ' /tmp/shared 9p ' /proc/mounts && echo mounted"
PICKS = "for i in $(seq 20); do head -n1 /dev/printerfact; done"


def test_a_node_is_saved_once_then_restored_with_a_reseeded_crng(
    driver_for: Any, tmp_path: Path
) -> None:
    snaps = tmp_path / "snapshots"
    with driver_for(tmp_path / "a", snapshots=snaps) as d:
        m = d.machines[0]
        assert m.succeed(MOUNTED) == "mounted\n"
        assert snapshot.RESEED_LINE not in m.get_console_log()  # a boot, not a restore
    (entry,) = [p for p in snaps.iterdir() if p.is_dir()]
    assert (entry / snapshot.STATE).stat().st_size > 0

    picks = []
    for run in ("b", "c"):
        with driver_for(tmp_path / run, snapshots=snaps) as d:
            m = d.machines[0]
            picks.append(m.succeed(PICKS))
            console = m.get_console_log()
            assert snapshot.RESEED_LINE in console
            assert "Linux version" in console  # the console up to the save is replayed
            # The share is mounted after the restore, the clock set, the disk the saved one.
            assert m.succeed(MOUNTED) == "mounted\n"
            assert abs(int(m.succeed("date +%s")) - time.time()) < 3
            m.succeed(
                "seq 100000 > /var/lib/written && sync && echo 3 > /proc/sys/vm/drop_caches",
                "test $(wc -l < /var/lib/written) = 100000",
            )
            m.fail("dmesg | grep -q 'EXT4-fs error'")
        assert not [p for p in snaps.iterdir() if p.is_dir() and p != entry]  # no new save
    assert picks[0] != picks[1], "two restores of one snapshot picked the same facts"


def test_a_node_whose_disk_is_kept_boots_the_normal_way(driver_for: Any, tmp_path: Path) -> None:
    snaps = tmp_path / "snapshots"
    for _ in range(2):  # the first run saves (its disk is new), the second keeps its disk
        with driver_for(tmp_path / "a", snapshots=snaps, keep_vm_state=True) as d:
            m = d.machines[0]
            m.succeed("true")
            console = m.get_console_log()
    assert snapshot.RESEED_LINE not in console
    assert "Linux version" in console


def test_a_restored_node_runs_before_its_first_command(driver_for: Any, tmp_path: Path) -> None:
    snaps = tmp_path / "snapshots"
    with driver_for(tmp_path / "a", snapshots=snaps) as d:
        d.machines[0].succeed("true")
    with driver_for(tmp_path / "b", snapshots=snaps) as d:
        m = d.machines[0]
        m.start()
        m.wait_for_console_text("crng reseeded", timeout=60)  # no command sent yet
        assert not m.connected
        assert m.succeed("echo up") == "up\n"


def test_a_restored_nodes_share_is_there_when_a_command_names_it(
    driver_for: Any, tmp_path: Path
) -> None:
    snaps = tmp_path / "snapshots"
    with driver_for(tmp_path / "a", snapshots=snaps) as d:
        d.machines[0].succeed("true")
    with driver_for(tmp_path / "b", snapshots=snaps) as d:
        m = d.machines[0]
        (m.shared_dir / "hello").write_text("from the host\n")
        # Not mounted until a command names it (a 9p mount costs half a restore), but the
        # directory is there, as on NixOS.
        assert m.succeed("grep -c ' 9p ' /proc/mounts || :") == "0\n"
        assert "shared" in m.succeed("ls /tmp").split()
        assert m.succeed("cat /tmp/shared/hello") == "from the host\n"
        m.succeed("echo back > /tmp/shared/reply")
        assert (m.shared_dir / "reply").read_text() == "back\n"
        m.copy_from_host(str(m.shared_dir / "hello"), "/root/hello")
        assert m.succeed("cat /root/hello") == "from the host\n"
