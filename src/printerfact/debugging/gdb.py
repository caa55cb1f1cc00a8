"""`printerfact run --gdb`: QEMU's gdb stub on a unix socket per node (`<node>.gdb` in the run's
directory, vm/channels.py), and the gdb command line that loads vmlinux and the
module's symbols at the addresses where the guest loaded it.

The guest kernel is vmlinux booted by PVH, with no KASLR: its symbols are at their link
addresses.  The module's are where /sys/module/printerfact/sections/ says (read through the
test's command channel, as root), given to gdb's `add-symbol-file`.  Where the kernel build
has the kernel's own gdb helpers (vmlinux-gdb.py, from CONFIG_GDB_SCRIPTS), `lx-symbols`
does the same from inside gdb; the default build has none (no debug info either: gdb knows
the symbols but not their types), so add-symbol-file it is.  Attaching stops the guest (under
TCG its clock too): `continue` or `detach` lets it run again.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from printerfact.vm.channels import NodeChannels

if TYPE_CHECKING:
    from printerfact.driver.driver import Driver
    from printerfact.driver.machine import Machine

MODULE = "printerfact"
SECTIONS_DIR = f"/sys/module/{MODULE}/sections"
# Each section file of the loaded module, as "<name> <address>" lines.
SECTIONS_COMMAND = (
    f'cd {SECTIONS_DIR} && for f in .* *; do [ ! -f "$f" ] || echo "$f $(cat "$f")"; done'
)
# Freed once the module is initialised (or never loaded at all): no use to gdb.
_SKIP = (".init", ".exit", ".note", ".rela", ".symtab", ".strtab", "__")


class ArtifactsLike(Protocol):
    @property
    def kernel_image(self) -> Path: ...

    @property
    def kbuild_dir(self) -> Path: ...

    @property
    def module_ko(self) -> Path: ...


def parse_sections(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in text.splitlines():
        name, _, addr = line.strip().partition(" ")
        if name and addr.startswith("0x"):
            found[name] = int(addr, 16)
    return found


def module_sections(machine: Machine) -> dict[str, int] | None:
    """The loaded module's section addresses, or None if it is not loaded."""
    status, out = machine.execute(SECTIONS_COMMAND)
    sections = parse_sections(out) if status == 0 else {}
    return sections if ".text" in sections else None


def add_symbol_file(ko: Path, sections: dict[str, int]) -> str:
    others = [
        f"-s {name} {addr:#x}"
        for name, addr in sorted(sections.items())
        if name != ".text" and not name.startswith(_SKIP)
    ]
    return " ".join(["add-symbol-file", str(ko), f"{sections['.text']:#x}", *others])


def gdb_helpers(artifacts: ArtifactsLike) -> Path | None:
    """The kernel's scripts/gdb helpers of this build, if it has them."""
    script = artifacts.kbuild_dir / "vmlinux-gdb.py"
    return script if script.is_file() else None


def command(
    node: NodeChannels,
    artifacts: ArtifactsLike,
    sections: dict[str, int] | None,
    extra: tuple[str, ...] = (),
    gdb: str = "gdb",
) -> list[str]:
    """The gdb argv that connects to the node's stub with vmlinux and the module's symbols."""
    if node.gdb is None:
        raise ValueError(f"{node.name} has no gdb stub: run with --gdb")
    argv = [gdb, "-q", "-nx", str(artifacts.kernel_image), "-ex", "set confirm off"]
    argv += ["-ex", f"target remote {node.gdb}"]
    helpers = gdb_helpers(artifacts)
    if helpers is not None:
        argv += ["-ex", f"source {helpers}", "-ex", f"lx-symbols {artifacts.module_ko.parent}"]
    elif sections is not None:
        argv += ["-ex", add_symbol_file(artifacts.module_ko, sections)]
    for e in extra:
        argv += ["-ex", e]
    return argv


def command_for(driver: Driver, machine: Machine, artifacts: ArtifactsLike) -> list[str]:
    sections = module_sections(machine) if machine.is_up() else None
    return command(driver.channels.node(machine.name), artifacts, sections)


def report_lines(driver: Driver, artifacts: ArtifactsLike) -> list[str]:
    """For the failure report: a gdb command line per running node."""
    lines: list[str] = []
    helpers = gdb_helpers(artifacts)
    for m in driver.machines:
        if not m.is_up():
            continue
        try:
            sections = module_sections(m)
        except Exception as e:  # a broken VM: say so, keep the rest of the report
            lines.append(f"=== gdb {m.name}: cannot read the module's sections: {e}")
            sections = None
        argv = command(driver.channels.node(m.name), artifacts, sections)
        what = (
            "lx-symbols"
            if helpers
            else ("module symbols at their load addresses" if sections else "module not loaded")
        )
        lines.append(f"=== gdb for {m.name} ({what}; the guest stops until `continue`):")
        lines.append("  " + shlex.join(argv))
    if lines and helpers is None:
        lines.append(
            "=== (this kernel build has no scripts/gdb helpers, vmlinux-gdb.py: no lx-symbols;"
            " add-symbol-file gives the module's symbols)"
        )
    return lines
