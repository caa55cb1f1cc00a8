"""Start, shutdown, crash, restart; crash detection; global timeout; the Driver's symbols."""

from __future__ import annotations

import os
import signal
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from printerfact.driver.errors import MachineError, RequestedAssertionFailed, VMCrashed
from printerfact.nodes import NodeSpec

pytestmark = pytest.mark.vm


def _alive(pid: int) -> bool:
    try:
        return "qemu" in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False


def test_start_shutdown_restart(driver_for: Any, tmp_path: Path) -> None:
    with driver_for(tmp_path) as d:
        m = d.machines[0]
        assert not m.is_up()
        m.start()
        assert m.booted and not m.connected  # start() does not wait for the boot
        pid = m._require_session().proc.pid
        m.succeed("true")
        assert m.is_up()
        m.shutdown()
        assert not m.is_up() and not m.booted and not _alive(pid)
        assert "Power down" in (d.out_dir / "machine.console.log").read_text()
        m.start()  # a second boot of the same node
        assert m.succeed("echo again") == "again\n"
        assert "Linux version" in m.get_console_log()
        m.crash()
        assert not m.is_up()


def test_crash_is_immediate(driver_for: Any, tmp_path: Path) -> None:
    with driver_for(tmp_path) as d:
        m = d.machines[0]
        m.succeed("true")
        pid = m._require_session().proc.pid
        t0 = time.monotonic()
        m.crash()
        assert time.monotonic() - t0 < 3
        assert not _alive(pid)


def test_guest_panic_fails_the_waiting_call_at_once(driver_for: Any, tmp_path: Path) -> None:
    with driver_for(tmp_path, nodes=(NodeSpec("machine", memory_mb=128),)) as d:
        m = d.machines[0]
        m.succeed("echo 1 > /proc/sys/vm/panic_on_oom")
        t0 = time.monotonic()
        with pytest.raises(VMCrashed, match="guest kernel panic") as e:
            m.execute('awk "BEGIN { s = \\"x\\"; while (1) s = s s }"', timeout=600)
        assert time.monotonic() - t0 < 30
        assert "Kernel panic - not syncing" in str(e.value)  # the console tail is in it


def test_qemu_death_fails_the_waiting_call_at_once(driver_for: Any, tmp_path: Path) -> None:
    with driver_for(tmp_path) as d:
        m = d.machines[0]
        m.succeed("true")
        pid = m._require_session().proc.pid
        os.kill(pid, signal.SIGKILL)
        t0 = time.monotonic()
        with pytest.raises(VMCrashed, match=r"QEMU exited"):
            m.succeed("sleep 600")
        assert time.monotonic() - t0 < 5
        with pytest.raises(VMCrashed):
            m.wait_for_console_text("never", timeout=None)


def test_global_timeout_ends_the_run(driver_for: Any, tmp_path: Path) -> None:
    t0 = time.monotonic()
    seen = []
    with pytest.raises(MachineError, match="global timeout of 8 s"):
        with driver_for(tmp_path, script='machine.succeed("sleep 600")', global_timeout=8) as d:
            seen.append(d)
            d.run_tests()
    assert time.monotonic() - t0 < 30
    assert not seen[0].tmp_dir.exists() and not seen[0].machines[0].booted


def test_test_symbols_and_script(driver_for: Any, tmp_path: Path) -> None:
    nodes = (NodeSpec("web-1", vlans=()),)
    script = """
    assert machine is web_1
    start_all()
    with subtest("greets"):
        t.assertEqual(web_1.succeed("echo hi"), "hi\\n")
    web_1.shutdown()
    join_all()
    """
    with driver_for(tmp_path, nodes=nodes, script=script, junit_xml=tmp_path / "j.xml") as d:
        symbols = d.test_symbols()
        # Both channels' driver symbols (and QemuMachine), the node, and `machine` for one node.
        expected = {
            "start_all", "join_all", "subtest", "retry", "polling_condition", "machines",
            "machines_qemu", "machines_nspawn", "vlans", "t", "log", "driver", "Machine",
            "BaseMachine", "QemuMachine", "create_machine", "debug", "test_script", "run_tests",
            "serial_stdout_on", "serial_stdout_off", "os", "web_1", "machine",
        }  # fmt: skip
        assert set(symbols) == expected
        argv = d.qemu_command_lines()["web-1"]
        assert argv[0] == "qemu-system-x86_64" and "-netdev" not in argv  # no VLAN: no NIC
        assert not any(m.booted for m in d.machines)  # a dry run starts nothing
        d.run_tests()
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "j.xml").iter("testcase")}
    # The kernel-log guard runs after every script, as a JUnit case of its own.
    assert set(cases) == {"main", "greets", "kernel log guard"}
    assert cases["greets"].find("failure") is None


def test_failed_assertion_reaches_the_caller_and_junit(driver_for: Any, tmp_path: Path) -> None:
    script = """
    with subtest("wrong"):
        t.assertEqual(machine.succeed("echo 1"), "2\\n")
    """
    with pytest.raises(RequestedAssertionFailed):
        with driver_for(tmp_path, script=script, junit_xml=tmp_path / "j.xml") as d:
            d.run_tests()
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "j.xml").iter("testcase")}
    assert cases["wrong"].find("failure") is not None
