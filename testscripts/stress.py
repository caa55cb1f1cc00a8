# printerfact under concurrent load on 2 CPUs: readers, an open/close storm, unloading while
# files are being opened (the kernel-log guard after the script checks the kernel log). The
# known facts are read in the guest from /etc/printerfact/facts.txt (a copy of
# module/facts.txt). Commands are POSIX sh for both NixOS (bash, coreutils) and busybox.
import math
import re

DEV = "/dev/printerfact"
READERS = 16
READS = 500
STORMERS = 4
STORM_OPENS = 2500
UNLOAD_CYCLES = 20

start_all()
machine.wait_for_console_text(r"printerfact: loaded \d+ facts")
machine.wait_for_unit("multi-user.target")

known = set(machine.succeed("cat /etc/printerfact/facts.txt").splitlines())


def opens() -> int:
    return int(machine.succeed("cat /sys/class/printerfact/opens"))


def in_background(workers: int, body: str) -> str:
    """Shell: start `body` in `workers` background subshells; $w is the worker's number."""
    return f"w=0; while [ $w -lt {workers} ]; do ( {body} ) & w=$((w + 1)); done; "


with subtest(f"{READERS} concurrent readers x {READS} reads: every line is a known fact"):
    before = opens()
    # Each read is one open: `read` takes one line from a fresh open of the device. A fact
    # without its newline makes `read` fail, which ends that reader early (set -e).
    machine.succeed(
        "rm -rf /tmp/pf-stress && mkdir /tmp/pf-stress; "
        + in_background(
            READERS,
            f"i=0; while [ $i -lt {READS} ]; do IFS= read -r line < {DEV};"
            f" printf '%s\\n' \"$line\"; i=$((i + 1)); done > /tmp/pf-stress/$w",
        )
        + "wait",
        timeout=600,
    )
    per_reader = machine.succeed("for f in /tmp/pf-stress/*; do wc -l < $f; done").split()
    t.assertEqual([int(n) for n in per_reader], [READS] * READERS)
    tally = machine.succeed("cat /tmp/pf-stress/* | sort | uniq -c")
    counts = {fact: int(n) for n, fact in re.findall(r"(?m)^ *(\d+) (.*)$", tally)}
    t.assertEqual(set(counts) - known, set())
    t.assertEqual(sum(counts.values()), READERS * READS)
    t.assertEqual(opens() - before, READERS * READS)

with subtest("the picks cover every fact, roughly uniformly"):
    # 8000 uniform picks from ~80 facts miss one with probability ~1e-43; each count stays
    # within 7 standard deviations of the mean except with probability ~1e-10.
    t.assertEqual(set(counts), known)
    mean = READERS * READS / len(known)
    spread = 7 * math.sqrt(mean)
    t.assertGreater(min(counts.values()), mean - spread, counts)
    t.assertLess(max(counts.values()), mean + spread, counts)

with subtest(f"open/close storm: {STORMERS} x {STORM_OPENS} opens"):
    before = opens()
    machine.succeed(
        in_background(
            STORMERS, f"i=0; while [ $i -lt {STORM_OPENS} ]; do : < {DEV}; i=$((i + 1)); done"
        )
        + "wait",
        timeout=600,
    )
    t.assertEqual(opens() - before, STORMERS * STORM_OPENS)
    # Every open file released its module references.
    t.assertEqual(machine.succeed("cat /sys/module/printerfact/refcnt"), "0\n")

with subtest(f"{UNLOAD_CYCLES} unloads while 2 readers keep opening the device"):
    # Readers ignore errors: while the module is gone, opening fails (ENOENT or ENXIO).
    machine.succeed(
        # The trap stops the readers even if the loop below gives up and the command fails.
        "rm -f /tmp/pf-stop; trap 'touch /tmp/pf-stop' EXIT; "
        + in_background(
            2, f"until test -e /tmp/pf-stop; do cat {DEV} > /dev/null 2>&1 || true; done"
        )
        # Unloading is refused while a reader has the device open: retry, but not forever.
        + f"i=0; while [ $i -lt {UNLOAD_CYCLES} ]; do n=0;"
        " until modprobe -r printerfact 2> /dev/null; do n=$((n + 1)); test $n -lt 1000; done;"
        " modprobe printerfact; i=$((i + 1)); done;"
        " touch /tmp/pf-stop; wait",
        timeout=600,
    )
    fact = machine.succeed(f"cat {DEV}")
    t.assertIn(fact.rstrip("\n"), known)
    t.assertEqual(machine.succeed("cat /sys/module/printerfact/refcnt"), "0\n")

with subtest("every load logged its line once"):
    kernel_log = machine.succeed("dmesg")
    t.assertEqual(len(re.findall(r"printerfact: loaded \d+ facts", kernel_log)), 1 + UNLOAD_CYCLES)
