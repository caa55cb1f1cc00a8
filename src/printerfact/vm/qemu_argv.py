"""The QEMU command line: one pure function of a frozen config, never a shell string.

Every channel to the host is a unix socket on which the *driver* listens and QEMU connects
(`server=off`), so the driver owns the sockets' lifetime and QEMU needs no polling:
  serial console (ttyS0)  -> kernel log + stderr of guest commands, and send_console()
  HMP monitor             -> set_link (block/unblock), quit (crash)
  QMP monitor             -> events for wait_for_qmp_event (vm/qmp.py)
  virtserialport          -> the command channel to guest/agent.sh (hvc0, a virtconsole on a
                             null chardev, is only its commands' stdin: see AGENT_PORT)
VLANs use `-netdev dgram` between unix datagram sockets and the driver's hub (driver/network.py):
no VDE, no TCP, nothing leaves the machine.  The driver's shared directory is a virtio-9p
export, mounted at /tmp/shared in the guest as on NixOS test VMs.  The persistent disk
(vm/disk.py) is a virtio-blk device, /dev/vda in the guest as a NixOS test VM's root disk.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from printerfact.image.contract import AGENT_PORT, SHARED_TAG

Accel = Literal["kvm", "tcg"]


@dataclass(frozen=True)
class Nic:
    vlan: int
    mac: str
    local_socket: Path  # QEMU binds this datagram socket
    hub_socket: Path  # ... and sends every frame to the hub's socket for the VLAN


@dataclass(frozen=True)
class QemuConfig:
    name: str
    kernel: Path
    initrd: Path
    append: str  # the flavour's kernel arguments (kernel_cmdline adds the rest)
    serial_socket: Path
    monitor_socket: Path
    shell_socket: Path
    qmp_socket: Path | None = None  # None: no QMP monitor
    accel: Accel = "tcg"
    memory_mb: int = 256
    cpus: int = 1
    nics: tuple[Nic, ...] = ()
    disk: Path | None = None  # raw disk image
    allow_reboot: bool = False  # else -no-reboot: a guest reboot ends QEMU, as in nixpkgs
    qemu: str = "qemu-system-x86_64"
    bios: Path | None = None  # None: QEMU's default (SeaBIOS)
    shared_dir: Path | None = None  # host directory the guest mounts at /tmp/shared (9p)
    # The devices of printerfact.debugging (the attach console, its window-size port, the gdb
    # stub), appended as they are.
    extra_args: tuple[str, ...] = ()

    def sockets(self) -> dict[str, Path]:
        """The unix sockets QEMU connects to, by channel: the driver listens on them."""
        found = {"serial": self.serial_socket, "monitor": self.monitor_socket}
        found["shell"] = self.shell_socket
        if self.qmp_socket is not None:
            found["qmp"] = self.qmp_socket
        return found


# q35, not pc: under TCG the guest spends ~145 ms per PCI device on pc evaluating the ACPI
# interrupt routing (its _PRT is an AML loop), ~5 ms on q35 (static tables).  With the
# console, the disk and a NIC, q35 boots ~0.4 s sooner.
MACHINE = "q35"
QBOOT = Path("/usr/share/qemu/qboot.rom")
# The command channel is a virtserialport (named contract.AGENT_PORT), not the virtconsole
# nixpkgs uses: QEMU drops a virtconsole's output when the host socket is full
# (hw/char/virtio-console.c, flush_buf), which under load lost replies and stalled the driver; a
# serial port is flow-controlled.  The guest agent finds it by its name.  hvc0 stays, as the tty
# on the commands' stdin.  The shared directory's 9p tag is contract.SHARED_TAG.
TCG_CPU = "qemu64,+rdrand"  # rdrand: see the TCG tuning below

# The kernel command line, every argument with its reason.  Every boot, the KVM probe's too:
BOOT_ARGS = (
    # The kernel log on the serial console: the node's console log, and the probe's evidence.
    "console=ttyS0",
    # A panic reboots at once, and with -no-reboot QEMU exits: a crashed guest is reported
    # (VMCrashed) instead of waited out.
    "panic=-1",
)
# Every guest's (the probe only has to reach init):
GUEST_ARGS = (
    # The kernel-log guard reads dmesg; a run full of reports must not push the first ones out
    # of the default 128 KiB ring (nix/nixos-node.nix sets the same).
    "log_buf_len=4M",
    # No probe of the PS/2 AUX (mouse) port: the guests have no mouse, and under TCG the probe's
    # waits on the i8042 cost boot time.  The keyboard port stays (sendkey's Ctrl-Alt-Delete).
    "i8042.noaux",
)


# TCG tuning, each measured on boot to the first command (bench/driver_bench.py):
#  - rdrand (TCG_CPU): the guest's CRNG is seeded at once ("crng init done" at 0.04 s) as on
#    KVM hosts; without it the CRNG never became ready, and each get_random_u32() (one per open
#    of /dev/printerfact) took the unbatched slow path.
#  - noreplace-smp: a 1-CPU guest no longer patches out every LOCK prefix at boot (~70 ms
#    of code writes that TCG must then re-translate).
#  - nolapic_timer (1 CPU only): no 100 ms calibration loop of the local APIC timer; the
#    guest ticks from the HPET.  A multi-CPU guest keeps its per-CPU timers.
def tcg_cmdline(cpus: int) -> tuple[str, ...]:
    return ("noreplace-smp", *(("nolapic_timer",) if cpus == 1 else ()))


def kernel_cmdline(
    flavour_args: str = "", accel: Accel = "tcg", cpus: int = 1, *, probe: bool = False
) -> str:
    """The kernel command line of a guest (the flavour's own arguments after the driver's,
    then the accelerator's tuning), or with `probe` the KVM probe's (kvm_probe.py)."""
    if probe:
        return " ".join(BOOT_ARGS)
    tuning = tcg_cmdline(cpus) if accel == "tcg" else ()
    return " ".join((*BOOT_ARGS, *GUEST_ARGS, *([flavour_args] if flavour_args else []), *tuning))


def fast_bios() -> Path | None:
    """qboot if installed: it reaches the kernel ~0.2 s sooner than SeaBIOS under TCG."""
    return QBOOT if QBOOT.is_file() else None


def mac_address(vlan: int, node_number: int) -> str:
    """Deterministic MAC, as nixpkgs' qemu-vm: 52:54:00:12:<vlan>:<node number>."""
    return f"52:54:00:12:{vlan:02x}:{node_number:02x}"


def nic_id(index: int) -> str:
    """The name `set_link` takes for the index-th VLAN NIC (0-based).  NixOS test VMs have a
    user-mode NIC first, so QEMU names their VLAN NICs virtio-net-pci.1, .2, ...: nixpkgs'
    block() unplugs "virtio-net-pci.1".  Ours get those names as ids, with no NIC 0."""
    return f"virtio-net-pci.{index + 1}"


def _opt(value: Path | str) -> str:
    # QEMU's option parser splits on commas; a literal comma is written twice.
    return str(value).replace(",", ",,")


def qemu_argv(c: QemuConfig) -> list[str]:
    if c.accel == "kvm":
        accel = ["-accel", "kvm", "-cpu", "host"]
    else:
        accel = ["-accel", "tcg", "-cpu", TCG_CPU]
    argv = [
        c.qemu,
        "-name", c.name,
        "-M", MACHINE,
        *accel,
        "-m", str(c.memory_mb),
        "-smp", str(c.cpus),
        "-nodefaults", "-no-user-config", "-display", "none",
        *([] if c.allow_reboot else ["-no-reboot"]),
        *(["-bios", _opt(c.bios)] if c.bios is not None else []),
        "-kernel", _opt(c.kernel),
        "-initrd", _opt(c.initrd),
        "-append", kernel_cmdline(c.append, c.accel, c.cpus),
        "-chardev", f"socket,id=console,path={_opt(c.serial_socket)},server=off",
        "-serial", "chardev:console",
        "-chardev", f"socket,id=monitor,path={_opt(c.monitor_socket)},server=off",
        "-mon", "chardev=monitor,mode=readline",
        *(["-chardev", f"socket,id=qmp,path={_opt(c.qmp_socket)},server=off",
            "-mon", "chardev=qmp,mode=control"] if c.qmp_socket is not None else []),
        "-device", "virtio-serial-pci,id=vser0",
        "-chardev", "null,id=hvc0",
        "-device", "virtconsole,chardev=hvc0,bus=vser0.0,nr=0",
        "-chardev", f"socket,id=shell,path={_opt(c.shell_socket)},server=off",
        "-device", f"virtserialport,chardev=shell,bus=vser0.0,nr=1,name={AGENT_PORT}",
    ]  # fmt: skip
    if c.shared_dir is not None:
        # As nixpkgs' qemu-vm shares its xchg directories: 9p, files created as QEMU's user.
        argv += [
            "-virtfs",
            f"local,path={_opt(c.shared_dir)},security_model=none,mount_tag={SHARED_TAG}",
        ]
    if c.disk is not None:
        argv += [
            "-drive", f"file={_opt(c.disk)},format=raw,if=none,id=disk0,cache=writeback",
            "-device", "virtio-blk-pci,drive=disk0,serial=root",
        ]  # fmt: skip
    for i, nic in enumerate(c.nics):
        netdev = f"vlan{nic.vlan}"
        argv += [
            "-netdev",
            f"dgram,id={netdev},local.type=unix,local.path={_opt(nic.local_socket)},"
            f"remote.type=unix,remote.path={_opt(nic.hub_socket)}",
            "-device",
            f"virtio-net-pci,netdev={netdev},mac={nic.mac},id={nic_id(i)}",
        ]
    return argv + list(c.extra_args)


def render(argv: list[str]) -> str:
    """The argv as one shell-quoted line (for --dry-run and logs)."""
    return shlex.join(argv)
