# /dev/printerfact on a node that loads the module at boot: node file, reads, errors, sysfs.
# The interface under test is documented at the top of module/printerfact.rs. The known facts
# are read in the guest from /etc/printerfact/facts.txt, which the image copies from
# module/facts.txt. Commands are POSIX sh for both NixOS (bash, coreutils) and busybox.
import re

DEV = "/dev/printerfact"
SYS = "/sys/class/printerfact"

start_all()
machine.wait_for_console_text(r"printerfact: loaded \d+ facts")
machine.wait_for_unit("multi-user.target")

facts = machine.succeed("cat /etc/printerfact/facts.txt").splitlines()
known = set(facts)


def one_fact(command: str) -> str:
    """Runs `command` and checks it printed exactly one known fact and its newline."""
    out = machine.succeed(command)
    t.assertTrue(out.endswith("\n"), f"{command!r} printed {out!r}")
    t.assertEqual(out.count("\n"), 1, f"{command!r} printed {out!r}")
    t.assertIn(out[:-1], known)
    return out[:-1]


def opens() -> int:
    return int(machine.succeed(f"cat {SYS}/opens"))


with subtest("one load line, with the number of facts"):
    t.assertGreaterEqual(len(facts), 64)
    t.assertEqual(len(known), len(facts))
    loads = re.findall(r"printerfact: loaded (\d+) facts", machine.succeed("dmesg"))
    t.assertEqual(loads, [str(len(facts))])

with subtest("/dev/printerfact is a character device, mode 0444, listed in /proc/devices"):
    machine.succeed(f"test -c {DEV}")
    t.assertEqual(machine.succeed(f"stat -c %a {DEV}"), "444\n")
    major = int(machine.succeed(f"stat -c %t {DEV}"), 16)
    minor = int(machine.succeed(f"stat -c %T {DEV}"), 16)
    char_devices = machine.succeed("cat /proc/devices").split("Block devices:")[0]
    t.assertRegex(char_devices, rf"(?m)^ *{major} printerfact$")
    t.assertEqual(machine.succeed(f"cat {SYS}/printerfact/dev"), f"{major}:{minor}\n")

with subtest("cat prints one known fact and a newline"):
    one_fact(f"cat {DEV}")

with subtest("50 reads give at least 10 different facts"):
    lines = machine.succeed(
        f"i=0; while [ $i -lt 50 ]; do cat {DEV}; i=$((i + 1)); done"
    ).splitlines()
    t.assertEqual(len(lines), 50)
    t.assertEqual(set(lines) - known, set())
    t.assertGreaterEqual(len(set(lines)), 10)

with subtest("1-byte reads reassemble a whole fact"):
    dd_log = machine.succeed(f"dd if={DEV} of=/tmp/pf-dd bs=1 2>&1")
    fact = one_fact("cat /tmp/pf-dd")
    # One record per byte: every read(2) returned exactly one byte.
    t.assertEqual(re.findall(r"(\d+)\+(\d+) records in", dd_log), [(str(len(fact) + 1), "0")])

with subtest("one open file keeps its fact and its position"):
    # Commands in a { } group share one open file: cat continues where dd stopped.
    one_fact(f"{{ dd bs=1 count=10 2>/dev/null; cat; }} < {DEV}")
    # Once the fact has been read, the same open file reads nothing more.
    one_fact(f"{{ cat; cat; cat; }} < {DEV}")
    # lseek(SEEK_CUR) via dd skip=, seen in fdinfo (skipping by reading would stop at the end
    # of the fact, at most 201 bytes); reading past the end returns nothing.
    out = machine.succeed(
        f"{{ dd bs=1 count=10 2>/dev/null; grep '^pos:' /proc/self/fdinfo/0;"
        f" dd bs=1000 skip=1 count=0 2>/dev/null; grep '^pos:' /proc/self/fdinfo/0;"
        f" cat; }} < {DEV}"
    )
    prefix, positions = out[:10], out[10:].split()
    t.assertEqual(positions, ["pos:", "10", "pos:", "1010"])
    t.assertTrue(any(f.startswith(prefix) for f in facts), f"{prefix!r} starts no fact")

with subtest("a non-root user can read it, not write it"):
    t.assertNotEqual(machine.succeed("su alice -c 'id -u'"), "0\n")
    one_fact(f"su alice -c 'cat {DEV}'")
    machine.fail(f"su alice -c 'echo hello > {DEV}'")

with subtest("writing fails with EPERM and changes nothing"):
    before = opens()
    err = machine.succeed(f"(echo hello > {DEV}) 2>&1 || echo refused")
    t.assertIn("Operation not permitted", err)
    t.assertTrue(err.endswith("refused\n"), err)
    machine.fail(f"printf x >> {DEV}")
    # A refused open is not counted, the node keeps its mode, reads still give known facts.
    t.assertEqual(opens(), before)
    t.assertEqual(machine.succeed(f"stat -c %a {DEV}"), "444\n")
    one_fact(f"cat {DEV}")

with subtest("ioctl fails with ENOTTY"):
    err = machine.succeed(f"(stty -F {DEV}) 2>&1 || echo refused")
    t.assertIn("Inappropriate ioctl for device", err)
    t.assertTrue(err.endswith("refused\n"), err)

with subtest("sysfs counters"):
    t.assertEqual(machine.succeed(f"cat {SYS}/facts"), f"{len(facts)}\n")
    t.assertEqual(machine.succeed(f"stat -c %a {SYS}/facts {SYS}/opens"), "444\n444\n")
    before = opens()
    machine.succeed(f"cat {DEV} {DEV} {DEV} > /dev/null")
    t.assertEqual(opens(), before + 3)
    machine.fail(f"echo 0 > {SYS}/opens")
    t.assertEqual(opens(), before + 3)
