# Kernel-log guard: runs after every testscript, so none has to remember to check the kernel.
# test.nix appends this file to each testScript for nixpkgs' driver; the portable runner runs it
# after the script in the same namespace. nixpkgs' driver API only (driver.machines, subtest, t:
# 26.05's driver no longer gives scripts `machines`, both give `driver`).
#
# It fails the test, quoting each report, when a node's kernel log holds a kernel report:
# WARN/BUG/Oops, KASAN, KFENCE, UBSAN, lockdep, sleeping in atomic context, debug objects,
# refcount or list corruption, hung tasks, RCU stalls, Rust panics, hardened usercopy, and
# kmemleak's leaks after a final scan. Report formats are matched where the kernel starts a
# line with them, so a boot line that merely contains "WARNING" (e.g. "RETBleed: WARNING: ...")
# does not count. Names start with _pf_ to stay out of the testscript's way.
import re as _pf_re
import time as _pf_time

_PF_REPORT = _pf_re.compile(
    r"^(?:"
    r"WARNING: CPU: \d+ PID: \d+ at "  # WARN(), also for refcount_t, ODEBUG, list corruption
    r"|WARNING: (?:possible (?:circular|recursive|irq)|inconsistent lock state"  # lockdep
    r"|suspicious RCU usage|bad unlock balance|held lock freed|lock held when returning"
    r"|[A-Z]+IRQ-safe -> [A-Z]+IRQ-unsafe|Nested lock was not taken)"
    r"|BUG: "  # KASAN, KFENCE, sleeping function in atomic context, lockdep keys, page faults
    r"|BUG \S+ \((?:Not tainted|Tainted: [^)]*)\): "  # SLUB debug
    r"|kernel BUG at "
    r"|Oops"
    r"|general protection fault"
    r"|UBSAN: "
    r"|refcount_t: "
    r"|list_(?:add|del) corruption|list_add double add"
    r"|ODEBUG: "
    r"|INFO: task \S+ blocked for more than"
    r"|rcu: INFO: \S+ (?:self-)?detected stall"
    r"|Kernel panic - not syncing"
    r"|rust_kernel: panicked"
    r"|usercopy: Kernel memory (?:exposure|overwrite) attempt"
    r"|unreferenced object 0x"  # kmemleak, from its debugfs file
    r")"
)
# dmesg's "[    1.234567] " and, with CONFIG_PRINTK_CALLER, "[    T1] " before the message.
_PF_PREFIX = _pf_re.compile(r"^(?:\[[^\]]*\] ?){0,2}")
_PF_KMEMLEAK = "/sys/kernel/debug/kmemleak"
# kmemleak reports an object only when it is older than 5 s (MSECS_MIN_AGE) and unreferenced in
# a scan after the one that first saw its contents (a changed checksum makes it gray once).
_PF_KMEMLEAK_MIN_AGE_S = 6.0
_PF_CONTEXT_LINES = 25


def _pf_kernel_reports(log: str) -> list[str]:
    """Each report in `log`: its first line and the lines that follow it."""
    lines = [_PF_PREFIX.sub("", line) for line in log.splitlines()]
    return [
        "\n".join(lines[i : i + _PF_CONTEXT_LINES])
        for i, line in enumerate(lines)
        if _PF_REPORT.match(line)
    ]


def _pf_kernel_log_guard() -> None:
    with subtest("kernel log guard"):
        # `driver.machines` and getattr: as valid on nixos-26.05 (no `machines` symbol; its
        # containers have no `booted`) as on 25.05.
        booted = [m for m in driver.machines if getattr(m, "booted", False)]
        # Two scans, at least the minimum age apart, on every node that has kmemleak (the
        # debug flavour turns automatic scans off): the second one reports what the script
        # leaked, up to its last command.
        leak_checked = [m for m in booted if m.execute(f"test -w {_PF_KMEMLEAK}")[0] == 0]
        if leak_checked:
            tic = _pf_time.monotonic()
            for m in leak_checked:
                m.succeed(f"echo scan > {_PF_KMEMLEAK}")
            rest = _PF_KMEMLEAK_MIN_AGE_S - (_pf_time.monotonic() - tic)
            if rest > 0:
                leak_checked[0].succeed(f"sleep {rest:.1f}")
        found = []
        for m in booted:
            leaks = ""
            if m in leak_checked:
                m.succeed(f"echo scan > {_PF_KMEMLEAK}")
                leaks = m.succeed(f"cat {_PF_KMEMLEAK}")
            for report in _pf_kernel_reports(m.succeed("dmesg") + "\n" + leaks):
                found.append(f"--- {m.name} ---\n{report}")
        if found:
            t.fail(f"{len(found)} kernel report(s) in the kernel log:\n" + "\n".join(found))


_pf_kernel_log_guard()
