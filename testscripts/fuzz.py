# /dev/printerfact under real fuzzers, bounded in time: trinity's random fd syscalls on files
# opened from the device, stress-ng's device stressor, and meanwhile a loop that unloads and
# loads the module. Nothing here checks the kernel log: the kernel-log guard after the script
# fails the test on any kernel report (KASAN, lockdep, ... on the debug kernel).
# The node has no network (vlans = []), so trinity's socket calls cannot reach anything. Both
# fuzzers run as nobody, in /tmp; commands are POSIX sh for NixOS (bash) and busybox.
import re
import time

DEV = "/dev/printerfact"
OPENS = "/sys/class/printerfact/opens"
# fd syscalls a character device can be handed (trinity's names, see `trinity -L`); trinity
# picks their fds from its victim files.
SYSCALLS = [
    "read", "pread64", "readv", "preadv", "preadv2", "lseek", "ioctl", "mmap", "poll",
    "ppoll", "select", "splice", "tee", "sendfile", "copy_file_range", "fcntl", "flock",
    "newfstat", "fadvise64", "readahead", "fsync", "dup",
]  # fmt: skip
# Every fd provider but "pseudo" (trinity's name for files opened from the victim path).
NO_OTHER_FDS = "sockets,pipes,perf,epoll,eventfd,timerfd,testfile,memfd,drm"
TRINITY_CALLS = 30000
TRINITY_CHILDREN = 4
STRESS_SECONDS = 20


def as_nobody(command: str) -> str:
    return f"su -s /bin/sh nobody -c 'cd /tmp && {command}'"


# Unloads and loads the module until /tmp/pf-stop exists; counts the unloads that succeeded
# (an open file makes the kernel refuse them). Started in the background by the subtests.
LOADER = (
    "rm -f /tmp/pf-stop /tmp/pf-unloads; ("
    " n=0; until test -e /tmp/pf-stop; do"
    "  if modprobe -r printerfact 2> /dev/null; then n=$((n + 1)); fi;"
    "  modprobe printerfact;"
    " done; echo $n > /tmp/pf-unloads ) < /dev/null > /dev/null 2>&1 &"
)
STOP_LOADER = (
    "touch /tmp/pf-stop; until test -s /tmp/pf-unloads; do sleep 0.2; done; cat /tmp/pf-unloads"
)


def fuzz_beside_loader(name: str, command: str, timeout: int) -> tuple[str, str, float, str]:
    """Run `command` as nobody in the background (output /tmp/<name>.log, exit status
    /tmp/<name>.status); start the loader once it has opened the device (both fuzzers pick
    their files once, at start); wait for it. Returns (status, log, seconds it ran, unloads)."""
    before = int(machine.succeed(f"cat {OPENS}"))
    tic = time.monotonic()
    machine.succeed(
        f"rm -f /tmp/{name}.status; ({as_nobody(f'timeout 600 {command}')} < /dev/null"
        f" > /tmp/{name}.log 2>&1; echo $? > /tmp/{name}.status) > /dev/null 2>&1 &"
    )
    machine.wait_until_succeeds(
        f'test "$(cat {OPENS})" -gt {before} || test -e /tmp/{name}.status', timeout=120
    )
    machine.succeed(LOADER)
    machine.wait_until_succeeds(f"test -s /tmp/{name}.status", timeout=timeout)
    seconds = time.monotonic() - tic
    unloads = machine.succeed(STOP_LOADER).strip()
    status = machine.succeed(f"cat /tmp/{name}.status").strip()
    return status, machine.succeed(f"cat /tmp/{name}.log"), seconds, unloads


start_all()
machine.wait_for_unit("multi-user.target")
machine.succeed(f"test -c {DEV}", "command -v trinity", "command -v stress-ng")

with subtest(f"trinity: {TRINITY_CALLS} syscalls on {DEV}, while the module is reloaded"):
    trinity = (
        f"trinity -q -l off -V {DEV} --disable-fds={NO_OTHER_FDS} -C {TRINITY_CHILDREN}"
        f" -N {TRINITY_CALLS} " + " ".join(f"-c {name}" for name in SYSCALLS)
    )
    status, report, seconds, unloads = fuzz_beside_loader("trinity", trinity, timeout=900)
    t.assertEqual(status, "0", report[-3000:])
    ran = re.findall(r"Ran (\d+) syscalls", report)
    t.assertTrue(ran and int(ran[-1]) >= TRINITY_CALLS, report[-3000:])
    machine.log(
        f"trinity: {ran[-1]} syscalls in {seconds:.1f} s ({int(ran[-1]) / seconds:.0f}/s),"
        f" {unloads} unloads"
    )

with subtest(f"stress-ng's device stressor on {DEV} for {STRESS_SECONDS} s, module reloaded"):
    machine.succeed("modprobe printerfact")
    stress = f"stress-ng --dev 2 --dev-file {DEV} --timeout {STRESS_SECONDS}s --metrics-brief"
    status, report, _, unloads = fuzz_beside_loader("stress", stress, timeout=STRESS_SECONDS + 600)
    t.assertEqual(status, "0", report)
    t.assertIn("successful run completed", report)
    machine.log(f"stress-ng: {unloads} unloads while it ran")

with subtest("the device still works"):
    machine.succeed("modprobe printerfact")
    known = set(machine.succeed("cat /etc/printerfact/facts.txt").splitlines())
    t.assertIn(machine.succeed(f"cat {DEV}").rstrip("\n"), known)
    t.assertEqual(machine.succeed("cat /sys/module/printerfact/refcnt"), "0\n")
