"""Both channels' driver API at run time, in one VM: a testscript that imports nixpkgs'
`test_driver` modules and uses what only 25.05 or only 26.05 has, and the names whose feature
the VMs lack, raising at the call what nixpkgs raises on a NixOS VM without it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from printerfact.nodes import NodeSpec

pytestmark = pytest.mark.vm

SCRIPT = r"""
import time

from test_driver.errors import MachineError, RequestedAssertionFailed
from test_driver.machine import Machine, NspawnMachine, QemuMachine
from test_driver.machine.qmp import QMPSession
import test_driver.driver

with subtest("the modules name the driver's classes"):
    t.assertIs(type(machine), Machine)
    t.assertIs(Machine, QemuMachine)
    t.assertIs(Machine, BaseMachine)
    t.assertIs(test_driver.driver.Driver, type(driver))
    with t.assertRaisesRegex(MachineError, "no systemd-nspawn containers"):
        NspawnMachine()

with subtest("26.05's symbols"):
    t.assertEqual(machines_qemu, [machine])
    t.assertEqual(machines_nspawn, [])
    debug.breakpoint()  # the debug hook is off: nothing happens
    with t.assertRaisesRegex(MachineError, "needs a NixOS VM start script"):
        create_machine("run-x-vm")

with subtest("retry: 26.05's seconds and 25.05's tries"):
    tries = []
    t0 = time.monotonic()
    with t.assertRaisesRegex(RequestedAssertionFailed, r"seconds \(timeout=2\)"):
        retry(lambda last: tries.append(last) or False, timeout_seconds=2)
    t.assertEqual(tries[-1], True)
    t.assertLess(time.monotonic() - t0, 6)
    with t.assertRaisesRegex(RequestedAssertionFailed, "after 1 tries"):
        retry(lambda last: False, timeout=1)

machine.start()
machine.succeed("echo CONSOLE-MARK >&2")

with subtest("OCR and screenshots raise nixpkgs' MachineError at the call"):
    with t.assertRaisesRegex(MachineError, "OCR requested but `tesseract` is not available"):
        machine.wait_for_text("login:", timeout=5)
    with t.assertRaisesRegex(MachineError, "OCR requested but `tesseract` is not available"):
        machine.get_screen_text()
    with t.assertRaisesRegex(MachineError, "Cannot convert screenshot.*no console"):
        machine.screenshot("boot")

with subtest("virtual terminals without a getty, no X, no initrd stage, no user network"):
    t.assertEqual(machine.get_tty_text("1").strip(), "")
    with t.assertRaisesRegex(RequestedAssertionFailed, "timed out"):
        machine.wait_until_tty_matches("1", "login:", timeout=1)
    machine.dump_tty_contents("1")
    with t.assertRaisesRegex(RequestedAssertionFailed, "exit code 127"):
        machine.get_window_names()
    with t.assertRaisesRegex(RequestedAssertionFailed, 'unit "initrd.target" is inactive'):
        machine.switch_root()
    machine.forward_port(18080, 80)
    t.assertFalse(hasattr(machine, "process"))

with subtest("QMP events"):
    t.assertIsInstance(machine.qmp_client, QMPSession)
    machine.send_monitor_command("stop")
    t.assertEqual(machine.wait_for_qmp_event(lambda e: e["event"] == "STOP")["event"], "STOP")
    machine.send_monitor_command("cont")
    with t.assertRaises(TimeoutError):
        machine.wait_for_qmp_event(lambda e: e["event"] == "STOP", timeout=1)

with subtest("26.05's machine methods"):
    machine.succeed("echo kept > /tmp/copied")
    machine.copy_from_machine("/tmp/copied", "back")
    t.assertEqual(machine.keep_machine_state, machine.keep_vm_state)
    with t.assertRaisesRegex(MachineError, "no SSH backdoor"):
        machine.ssh_backdoor_command(3)
    machine.shutdown()
    # The console of the last boot stays readable until the next start, as nixpkgs'.
    t.assertIn("CONSOLE-MARK", machine.get_console_log())
    t.assertIn("CONSOLE-MARK", machine.full_console_log)
"""


def test_both_channels_api_at_run_time(driver_for: Any, tmp_path: Path) -> None:
    node = (NodeSpec("machine", module_at_boot=False),)
    with driver_for(tmp_path, nodes=node, script=SCRIPT) as d:
        d.test_script()
        assert (d.out_dir / "back" / "copied").read_text() == "kept\n"
        assert "test_driver" not in sys.modules  # importable only while the script ran
