"""The kernel-log guard's report matching, on kernel log text (the guard itself runs in VMs:
tests/vm/test_detectors.py proves it fails a test on each detector's real report).

The samples are lines as the 6.12 kernel prints them (the reports from the detector runs, and
boot lines of NixOS and Debian kernels that merely contain an alarming word).
"""

from __future__ import annotations

import contextlib
import re
import types
from collections.abc import Callable
from typing import Any

import pytest

from printerfact.nodes import KERNEL_LOG_GUARD


def guard_functions() -> dict[str, Any]:
    """The guard's namespace after running it with no machines (it then checks nothing)."""
    namespace: dict[str, Any] = {
        "driver": types.SimpleNamespace(machines=[]),
        "subtest": lambda name: contextlib.nullcontext(),
        "t": None,
    }
    exec(compile(KERNEL_LOG_GUARD.read_text(), str(KERNEL_LOG_GUARD), "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def reports() -> Callable[[str], list[str]]:
    fn: Callable[[str], list[str]] = guard_functions()["_pf_kernel_reports"]
    return fn


REPORTS = [
    "[   12.345678] WARNING: CPU: 0 PID: 93 at lib/refcount.c:25 refcount_warn_saturate+0x9c/0x100",
    "[    3.1] WARNING: possible circular locking dependency detected",
    "[    3.1] WARNING: inconsistent lock state",
    "[    3.1] WARNING: suspicious RCU usage",
    "[    3.1] BUG: KASAN: slab-use-after-free in class_release+0x2a/0x90",
    "[    3.1] BUG: KFENCE: out-of-bounds read in bug_kfence+0x1b0/0x230 [pf_detectors]",
    "[    3.1] BUG: key ffff888003c2a8c8 has not been registered!",
    "[    3.1] BUG: sleeping function called from invalid context at kernel/time/sleep_timeout.c:1",
    "[    3.1] BUG: kernel NULL pointer dereference, address: 0000000000000008",
    "[    3.1] BUG kmalloc-64 (Tainted: G    B      O      ): Object already free",
    "[    3.1] kernel BUG at rust/helpers/bug.c:7!",
    "[    3.1] Oops: invalid opcode: 0000 [#1] SMP KASAN",
    "[    3.1] UBSAN: array-index-out-of-bounds in pf_detectors.c:70:2",
    "[    3.1] UBSAN: shift-out-of-bounds in pf_detectors.c:70:2",
    "[    3.1] refcount_t: decrement hit 0; leaking memory.",
    "[    3.1] list_add double add: new=ffffc90000457c40, prev=ffffc90000457c40, next=...",
    "[    3.1] list_del corruption. prev->next should be ffff888003ce8a10, but was 0",
    "[    3.1] ODEBUG: free active (active state 0) object: ffff8880 object type: timer_list",
    "[  130.2] INFO: task modprobe:123 blocked for more than 120 seconds.",
    "[   30.1] rcu: INFO: rcu_sched self-detected stall on CPU",
    "[    3.1] Kernel panic - not syncing: Fatal exception",
    "[    3.1] rust_kernel: panicked at pf_rust_overflow.rs:23:9:",
    "[    3.1] usercopy: Kernel memory exposure attempt detected from SLUB object 'kmalloc-64'",
    "unreferenced object 0xffff888004a1c000 (size 128):",
    "[    3.1] [    T93] WARNING: CPU: 0 PID: 93 at mm/slub.c:1 f+0x1/0x2",  # PRINTK_CALLER
]

BENIGN = [
    "[    0.1] RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable to RETBleed attacks,"
    " data leaks possible!",
    "[    0.2] Spectre V2 : WARNING: Unprivileged eBPF is enabled with eIBRS on, data leaks"
    " possible via Spectre v2 BHB attacks!",
    '[    3.0] PCI: Using host bridge windows from ACPI; if necessary, use "pci=nocrs" and report'
    " a bug",
    "[    6.4] virtio-pci 0000:00:02.0: can't find IRQ for PCI INT A; probably buggy MP table",
    "[    1.2] rcu: \tRCU callback double-/use-after-free debug is enabled.",
    "[    9.1] kmemleak: Kernel memory leak detector initialized (mem pool available: 15598)",
    "[   20.0] trinity-c0[140]: segfault at 0 ip 00005555 sp 00007ffd error 4 in trinity",
    "[   20.0] traps: trinity-c1[141] general protection fault ip:55 sp:7f error:0 in trinity",
    "[    1.6] printerfact: loaded 77 facts",
    "[    2.0] pf_detectors: bug warn done",
]


@pytest.mark.parametrize("line", REPORTS)
def test_reports_are_found(reports: Callable[[str], list[str]], line: str) -> None:
    found = reports(f"[    1.0] boot line\n{line}\n[    1.1] next line")
    assert len(found) == 1, found
    message = re.sub(r"^(\[ *[\d.]+\] )?(\[ *T\d+\] )?", "", line)  # dmesg's prefixes
    assert found[0].splitlines()[:2] == [message, "next line"]


@pytest.mark.parametrize("line", BENIGN)
def test_lines_that_merely_contain_a_word_are_not_reports(
    reports: Callable[[str], list[str]], line: str
) -> None:
    assert reports(line) == []


def test_a_report_is_quoted_with_its_context(reports: Callable[[str], list[str]]) -> None:
    log = "\n".join(
        ["[ 1.0] ok"]
        + ["[ 2.0] BUG: KASAN: slab-out-of-bounds in bug_kasan+0x1/0x2"]
        + [f"[ 2.0] line {i}" for i in range(40)]
    )
    (report,) = reports(log)
    lines = report.splitlines()
    assert lines[0] == "BUG: KASAN: slab-out-of-bounds in bug_kasan+0x1/0x2"
    assert lines[1:3] == ["line 0", "line 1"] and 10 < len(lines) < 40
