# Loading and unloading printerfact on a node that boots without it: the device and the class
# appear and disappear with the module and open files pin it. (The kernel-log guard that runs
# after every testscript fails the test on any kernel report: on the debug kernel, a lockdep
# report at load or a use-after-free at unload.) Commands are POSIX sh for both NixOS (bash,
# kmod) and busybox.
import re

DEV = "/dev/printerfact"
SYS = "/sys/class/printerfact"
CYCLES = 20

start_all()
machine.wait_for_unit("multi-user.target")


def load_lines() -> int:
    return len(re.findall(r"printerfact: loaded \d+ facts", machine.succeed("dmesg")))


def refcount() -> int:
    return int(machine.succeed("cat /sys/module/printerfact/refcnt"))


with subtest("no device before modprobe"):
    machine.fail(f"test -e {DEV}")
    machine.fail(f"test -e {SYS}")
    machine.fail("test -e /sys/module/printerfact")
    machine.fail("grep -q ' printerfact$' /proc/devices")
    t.assertEqual(load_lines(), 0)

with subtest("modprobe creates the device and the class, modprobe -r removes them"):
    machine.succeed("modprobe printerfact")
    machine.wait_for_console_text(r"printerfact: loaded \d+ facts")
    machine.succeed(f"test -c {DEV}", f"test -d {SYS}", "grep -q ' printerfact$' /proc/devices")
    t.assertEqual(refcount(), 0)
    machine.succeed("modprobe -r printerfact")
    machine.fail(f"test -e {DEV}")
    machine.fail(f"test -e {SYS}")
    machine.fail("grep -q ' printerfact$' /proc/devices")

with subtest(f"{CYCLES} load/unload cycles"):
    before = load_lines()
    # Each cycle: load, read one line, unload, check the node is gone; stop at the first error
    # (`test ! -e`, not `! test -e`: set -e ignores negated commands).
    machine.succeed(
        f"i=0; while [ $i -lt {CYCLES} ]; do"
        f" modprobe printerfact; test -c {DEV}; head -n 1 {DEV} > /dev/null;"
        f" modprobe -r printerfact; test ! -e {DEV}; test ! -e {SYS};"
        " i=$((i + 1)); done"
    )
    t.assertEqual(load_lines(), before + CYCLES)
    machine.fail("test -e /sys/module/printerfact")

with subtest("unloading is refused while a reader holds the device open, accepted after"):
    machine.succeed("modprobe printerfact")
    # The holder keeps fd 3 open; `exec sleep` keeps its pid, so it can be killed by that pid.
    machine.succeed(
        "rm -f /tmp/pf-holder.pid;"
        f" sh -c 'exec 3< {DEV}; echo $$ > /tmp/pf-holder.pid; exec sleep 60'"
        " < /dev/null > /dev/null 2>&1 &"
    )
    machine.wait_until_succeeds("test -s /tmp/pf-holder.pid", timeout=30)
    # An open file holds module references (the cdev's and the file_operations' owner).
    t.assertGreater(refcount(), 0)
    machine.fail("modprobe -r printerfact")
    machine.fail("rmmod printerfact")
    machine.succeed(f"test -c {DEV}")
    one = machine.succeed(f"cat {DEV}")
    t.assertTrue(one.endswith("\n"), one)
    machine.succeed("kill $(cat /tmp/pf-holder.pid)")
    # The holder's files are closed as it exits; then the module can go.
    machine.wait_until_succeeds('test "$(cat /sys/module/printerfact/refcnt)" = 0', timeout=30)
    machine.succeed("modprobe -r printerfact")
    machine.fail(f"test -e {DEV}")

with subtest("every load logged its line once"):
    t.assertEqual(load_lines(), CYCLES + 2)
