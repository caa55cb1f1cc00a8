# The driver API the nixpkgs way: what a testscript written from nixpkgs' documentation and
# source expects of the guest and of Machine, checked under the portable runner and under
# nixpkgs' driver on NixOS alike (test.nix runs it too), on nixos-25.05 and 26.05: it uses only
# what both have (docs/api-conformance.md, "Writing for both channels").  Nodes: zeta
# (services, a user) and alpha, declared in that order in tests.toml.
from contextlib import AbstractContextManager
from typing import cast

from test_driver.driver import Driver
from test_driver.errors import MachineError, RequestedAssertionFailed
from test_driver.polling_condition import PollingCondition
from test_driver.vlan import VLan

start_all()

with subtest("the driver's own modules, as nixpkgs runs the script inside them"):
    t.assertIsInstance(driver, Driver)
    t.assertIsInstance(vlans[0], VLan)
    t.assertTrue(issubclass(RequestedAssertionFailed, AssertionError))
    t.assertTrue(issubclass(MachineError, Exception))
    t.assertTrue(all(isinstance(c, PollingCondition) for c in driver.polling_conditions))
    with t.assertRaises(RequestedAssertionFailed):
        alpha.succeed("false")

with subtest("machines are sorted by name"):
    t.assertEqual([m.name for m in driver.machines], ["alpha", "zeta"])
    t.assertTrue(callable(run_tests))
    serial_stdout_off()
    serial_stdout_on()

zeta.wait_for_unit("multi-user.target")

with subtest("/etc/hosts has NixOS's lines"):
    zeta.succeed("grep -qx '::1 localhost' /etc/hosts", "grep -qx '127.0.0.2 zeta' /etc/hosts")

with subtest("the standard targets are active; default.target is multi-user.target"):
    zeta.wait_for_unit("default.target")  # nixos/tests/kernel-rust.nix's first line
    for target in ("sysinit.target", "local-fs.target", "sockets.target", "timers.target",
                   "basic.target", "network.target", "multi-user.target"):  # fmt: skip
        zeta.wait_for_unit(target)
        t.assertEqual(zeta.get_unit_property(target, "SubState"), "active")
    info = zeta.get_unit_info("default.target")  # an alias: the unit it links to
    t.assertEqual((info["Id"], info["Description"]), ("multi-user.target", "Multi-User System"))
    t.assertIn("default.target", info["Names"].split())
    # Since NixOS 25.05 nothing in a test VM pulls network-online.target in: tests start it.
    t.assertEqual(zeta.systemctl("start network-online.target")[0], 0)
    zeta.wait_for_unit("network-online.target")

with subtest("the base file system is NixOS's"):
    t.assertEqual(zeta.succeed("stat -c '%a %U %G' /tmp /var/tmp /var/empty"),
                  "1777 root root\n1777 root root\n555 root root\n")  # fmt: skip
    t.assertIn("i", zeta.succeed("lsattr -d /var/empty").split()[0])  # immutable
    zeta.fail("touch /var/empty/file")
    zeta.succeed("test -d /var/lib && test -d /var/log && test -d /var/cache && test -d /run/lock")
    t.assertEqual(zeta.succeed("readlink -f /var/run; readlink -f /var/lock"), "/run\n/run/lock\n")
    t.assertEqual(zeta.succeed("readlink /etc/mtab"), "/proc/mounts\n")

with subtest("a command past its timeout ends with status 124"):
    t.assertEqual(zeta.execute("echo begun; sleep 60", timeout=3), (124, "begun\n"))
    # timeout=0, like `timeout 0`, and None mean no timeout.
    t.assertEqual(zeta.execute("sleep 1; echo done", timeout=0), (0, "done\n"))
    t.assertEqual(zeta.execute("sleep 1; echo done", timeout=None), (0, "done\n"))
    with t.assertRaisesRegex(AssertionError, r"exit code 124"):
        zeta.succeed("sleep 60", timeout=2)
    t.assertEqual(zeta.fail("sleep 60", timeout=2), "")

with subtest("a command's output is read until its stdout closes"):
    # nixpkgs' execute: "It will wait for stdout to be closed."
    t.assertEqual(zeta.succeed("(echo ONE; sleep 2; echo TWO) &"), "ONE\nTWO\n")
    t.assertEqual(zeta.succeed("sleep 600 >/dev/null 2>&1 & echo detached"), "detached\n")

with subtest("the test's globalTimeout reaches the driver"):
    t.assertEqual(driver.global_timeout, 1800)

with subtest("send_monitor_command returns all of the monitor's reply, prompt included"):
    reply = zeta.send_monitor_command("info status")
    t.assertIn("VM status: running", reply)
    t.assertTrue(reply.endswith("(qemu) "), repr(reply))

with subtest("wait_until_* count a timed-out attempt as a failed one"):
    zeta.succeed("rm -f /tmp/late; (sleep 3; touch /tmp/late) >/dev/null 2>&1 &")
    zeta.wait_until_succeeds("test -e /tmp/late || sleep 60", timeout=5)
    zeta.wait_until_fails("sleep 60", timeout=2)

with subtest("stdin is the backdoor's: reading it blocks until the timeout"):
    t.assertEqual(zeta.execute("cat", timeout=2), (124, ""))
    t.assertEqual(zeta.execute("read -r line", timeout=2)[0], 124)
    t.assertEqual(zeta.succeed("cat </dev/null; echo next"), "next\n")

with subtest("commands run with bash, as root, in /tmp, with /etc/profile sourced"):
    out = zeta.succeed(
        'a=(x y z); [[ ${#a[@]} -eq 3 ]]; set +o pipefail; false | true; echo "${PIPESTATUS[@]}"'
    )
    t.assertEqual(out, "1 0\n")
    env = zeta.succeed('echo "$(id -u) $USER $HOME $PWD [$PAGER]"')
    t.assertEqual(env, "0 root /root /tmp []\n")
    t.assertEqual(zeta.succeed('echo "$__ETC_PROFILE_DONE"'), "1\n")
    zeta.succeed("sh -c '[[ -n $BASH_VERSION ]]'")  # /bin/sh is bash
    zeta.fail("set -u; echo $no_such_variable")

with subtest("accounts and groups are NixOS's"):
    t.assertEqual(zeta.succeed("su -s /bin/sh nobody -c 'id -u'"), "65534\n")
    t.assertEqual(zeta.succeed("id -gn nobody"), "nogroup\n")
    zeta.succeed("grep -q '^users:x:100:' /etc/group", "grep -q '^root:x:0:0:' /etc/passwd")
    t.assertEqual(zeta.succeed("id -u alice; id -gn alice"), "1000\nusers\n")
    t.assertEqual(zeta.succeed("stat -c '%U %a' /home/alice"), "alice 700\n")
    t.assertEqual(zeta.succeed("su - alice -c pwd"), "/home/alice\n")

with subtest("systemctl and the unit methods"):
    zeta.wait_for_unit("sleeper")
    t.assertEqual(zeta.systemctl("is-active sleeper"), (0, "active\n"))
    info = zeta.get_unit_info("sleeper.service")
    t.assertEqual((info["LoadState"], info["ActiveState"], info["SubState"]),
                  ("loaded", "active", "running"))  # fmt: skip
    pid = int(zeta.get_unit_property("sleeper", "MainPID"))
    zeta.succeed(f"test -d /proc/{pid}")
    status, out = zeta.systemctl("status sleeper")
    t.assertEqual(status, 0)
    t.assertIn("active (running)", out)
    zeta.require_unit_state("sleeper.service")

    t.assertEqual(zeta.stop_job("sleeper")[0], 0)
    zeta.require_unit_state("sleeper.service", "inactive")
    t.assertEqual(zeta.systemctl("is-active sleeper"), (3, "inactive\n"))
    t.assertEqual(zeta.systemctl("status sleeper")[0], 3)
    with t.assertRaisesRegex(AssertionError, "inactive and there are no pending jobs"):
        zeta.wait_for_unit("sleeper", timeout=60)

    t.assertEqual(zeta.start_job("sleeper")[0], 0)
    zeta.wait_for_unit("sleeper.service")
    restarted = int(zeta.get_unit_property("sleeper", "MainPID"))
    t.assertNotEqual(restarted, pid)
    t.assertEqual(zeta.systemctl("restart sleeper")[0], 0)
    zeta.wait_for_unit("sleeper")
    t.assertNotEqual(int(zeta.get_unit_property("sleeper", "MainPID")), restarted)

with subtest("a failed unit fails wait_for_unit; its output is in its journal"):
    with t.assertRaisesRegex(AssertionError, 'unit "broken.service" reached state "failed"'):
        zeta.wait_for_unit("broken.service", timeout=60)
    zeta.require_unit_state("broken.service", "failed")
    t.assertEqual(zeta.get_unit_property("broken", "Result"), "exit-code")
    t.assertEqual(zeta.get_unit_property("broken", "ExecMainStatus"), "1")
    zeta.succeed("journalctl -u broken.service --no-pager | grep -q broken-says-hi")
    with t.assertRaisesRegex(AssertionError, "inactive and there are no pending jobs"):
        zeta.wait_for_unit("no-such-unit", timeout=60)

with subtest("unix sockets"):
    zeta.succeed("busybox syslogd -n -O /tmp/syslog >/dev/null 2>&1 &")
    zeta.wait_for_open_unix_socket("/dev/log", is_datagram=True, timeout=60)
    with t.assertRaises(AssertionError):
        zeta.wait_for_open_unix_socket("/run/no-such.sock", timeout=2)

with subtest("no shell on the serial console"):
    zeta.send_console("\necho pwned > /tmp/pwned-from-console\n")
    zeta.sleep(2)
    zeta.fail("test -e /tmp/pwned-from-console")

with subtest("OCR without enableOCR fails at the call, not before the run"):
    # nixpkgs' error: 26.05's MachineError "OCR requested but `tesseract` is not available";
    # older drivers said "... but enableOCR is false".
    with t.assertRaisesRegex(Exception, "OCR requested but"):
        alpha.wait_for_text("login:", timeout=5)

with subtest("block() unplugs the first VLAN NIC, unblock() plugs it back"):
    alpha.succeed("ping -c 1 -W 5 zeta")
    alpha.block()
    alpha.fail("ping -c 1 -W 2 zeta")
    alpha.unblock()
    alpha.wait_until_succeeds("ping -c 1 -W 2 zeta", timeout=60)

with subtest("crash() checks the polling conditions first"):
    checked: list[bool] = []

    def counted() -> bool:
        checked.append(True)
        return True

    # nixpkgs types polling_condition's result as decorator-or-context-manager.
    with cast(AbstractContextManager[None], polling_condition(counted, seconds_interval=0)):
        alpha.crash()
    t.assertGreater(len(checked), 0)
    t.assertFalse(alpha.booted)

with subtest("the disk keeps its files across a restart and a reboot"):
    zeta.succeed("mkdir -p /var/lib/kept && echo kept > /var/lib/kept/file")
    zeta.shutdown()
    zeta.start(allow_reboot=True)
    t.assertEqual(zeta.succeed("cat /var/lib/kept/file"), "kept\n")
    zeta.succeed("echo 1 > /run/before-reboot")
    zeta.reboot()
    zeta.wait_for_unit("multi-user.target")
    zeta.fail("test -e /run/before-reboot")
    t.assertEqual(zeta.succeed("cat /var/lib/kept/file"), "kept\n")
