"""The QEMU argv is a pure function of its config: check what each option must say."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from printerfact.vm.qemu_argv import (
    Nic,
    QemuConfig,
    kernel_cmdline,
    mac_address,
    qemu_argv,
    render,
)


def _config(**kw: object) -> QemuConfig:
    base: dict[str, object] = dict(
        name="server",
        kernel=Path("/k/vmlinux"),
        initrd=Path("/i/server.initrd"),
        append="",
        serial_socket=Path("/s/server.serial"),
        monitor_socket=Path("/s/server.monitor"),
        shell_socket=Path("/s/server.shell"),
    )
    base.update(kw)
    return QemuConfig(**base)  # type: ignore[arg-type]


def _value(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_basic_machine() -> None:
    argv = qemu_argv(_config(memory_mb=512, cpus=2))
    assert argv[0] == "qemu-system-x86_64"
    assert _value(argv, "-M") == ["q35"]
    assert _value(argv, "-m") == ["512"]
    assert _value(argv, "-smp") == ["2"]
    assert _value(argv, "-kernel") == ["/k/vmlinux"]
    assert _value(argv, "-initrd") == ["/i/server.initrd"]
    assert _value(argv, "-append") == [
        "console=ttyS0 panic=-1 log_buf_len=4M i8042.noaux noreplace-smp"
    ]
    for flag in ("-no-reboot", "-nodefaults", "-no-user-config"):
        assert flag in argv
    assert _value(argv, "-display") == ["none"]


def test_accelerator() -> None:
    tcg = qemu_argv(_config(accel="tcg"))
    assert _value(tcg, "-accel") == ["tcg"]
    # RDRAND seeds the guest's CRNG at boot, as on a KVM host.
    assert _value(tcg, "-cpu") == ["qemu64,+rdrand"]
    kvm = qemu_argv(_config(accel="kvm"))
    assert _value(kvm, "-accel") == ["kvm"] and _value(kvm, "-cpu") == ["host"]
    assert _value(kvm, "-append") == ["console=ttyS0 panic=-1 log_buf_len=4M i8042.noaux"]


def test_one_kernel_command_line_for_the_guests_and_the_probe() -> None:
    # The flavour's arguments follow the driver's, the accelerator's tuning comes last; the KVM
    # probe boots with the arguments every boot has, and no more.
    debug = _value(qemu_argv(_config(append="kasan_multi_shot acpi=noirq")), "-append")[0]
    assert debug == (
        "console=ttyS0 panic=-1 log_buf_len=4M i8042.noaux kasan_multi_shot acpi=noirq"
        " noreplace-smp nolapic_timer"
    )
    assert kernel_cmdline(probe=True) == "console=ttyS0 panic=-1"
    assert kernel_cmdline("x", "kvm", 4) == "console=ttyS0 panic=-1 log_buf_len=4M i8042.noaux x"


def test_tcg_boot_tuning_follows_the_cpu_count() -> None:
    one = _value(qemu_argv(_config(cpus=1)), "-append")[0].split()
    two = _value(qemu_argv(_config(cpus=2)), "-append")[0].split()
    assert "nolapic_timer" in one and "noreplace-smp" in one
    assert "nolapic_timer" not in two  # each CPU keeps its own timer


def test_shared_directory_is_a_9p_export() -> None:
    argv = qemu_argv(_config(shared_dir=Path("/s/shared-xchg")))
    assert _value(argv, "-virtfs") == [
        "local,path=/s/shared-xchg,security_model=none,mount_tag=shared"
    ]
    assert "-virtfs" not in qemu_argv(_config())


def test_channels_are_client_unix_sockets() -> None:
    chardevs = _value(qemu_argv(_config()), "-chardev")
    assert chardevs == [
        "socket,id=console,path=/s/server.serial,server=off",
        "socket,id=monitor,path=/s/server.monitor,server=off",
        "null,id=hvc0",
        "socket,id=shell,path=/s/server.shell,server=off",
    ]
    argv = qemu_argv(_config())
    assert _value(argv, "-serial") == ["chardev:console"]
    assert _value(argv, "-mon") == ["chardev=monitor,mode=readline"]
    # The command channel on a flow-controlled serial port; hvc0 only for the commands' stdin.
    assert _value(argv, "-device")[:3] == [
        "virtio-serial-pci,id=vser0",
        "virtconsole,chardev=hvc0,bus=vser0.0,nr=0",
        "virtserialport,chardev=shell,bus=vser0.0,nr=1,name=org.printerfact.agent",
    ]


def test_one_dgram_nic_per_vlan_with_deterministic_mac() -> None:
    nics = (
        Nic(1, mac_address(1, 2), Path("/s/vlan1.server"), Path("/s/vlan1.hub")),
        Nic(7, mac_address(7, 2), Path("/s/vlan7.server"), Path("/s/vlan7.hub")),
    )
    argv = qemu_argv(_config(nics=nics))
    assert _value(argv, "-netdev") == [
        "dgram,id=vlan1,local.type=unix,local.path=/s/vlan1.server,"
        "remote.type=unix,remote.path=/s/vlan1.hub",
        "dgram,id=vlan7,local.type=unix,local.path=/s/vlan7.server,"
        "remote.type=unix,remote.path=/s/vlan7.hub",
    ]
    # Named as QEMU names the VLAN NICs of a NixOS test VM, after its user-mode NIC 0:
    # nixpkgs' block() switches "virtio-net-pci.1".
    assert _value(argv, "-device")[3:] == [
        "virtio-net-pci,netdev=vlan1,mac=52:54:00:12:01:02,id=virtio-net-pci.1",
        "virtio-net-pci,netdev=vlan7,mac=52:54:00:12:07:02,id=virtio-net-pci.2",
    ]
    assert "tcp" not in " ".join(argv)


def test_disk_is_a_virtio_blk_device_on_the_raw_image() -> None:
    assert "-drive" not in qemu_argv(_config())
    argv = qemu_argv(_config(disk=Path("/st/vm-state-server/server.img")))
    assert _value(argv, "-drive") == [
        "file=/st/vm-state-server/server.img,format=raw,if=none,id=disk0,cache=writeback"
    ]
    assert "virtio-blk-pci,drive=disk0,serial=root" in _value(argv, "-device")


def test_reboot_ends_qemu_unless_allowed() -> None:
    assert "-no-reboot" in qemu_argv(_config())
    assert "-no-reboot" not in qemu_argv(_config(allow_reboot=True))


def test_mac_address() -> None:
    assert mac_address(1, 1) == "52:54:00:12:01:01"
    assert mac_address(254, 17) == "52:54:00:12:fe:11"


def test_commas_in_paths_are_escaped() -> None:
    argv = qemu_argv(_config(kernel=Path("/a,b/bz"), serial_socket=Path("/x,y/s")))
    assert _value(argv, "-kernel") == ["/a,,b/bz"]
    assert "socket,id=console,path=/x,,y/s,server=off" in _value(argv, "-chardev")


def test_bios_only_when_asked() -> None:
    assert "-bios" not in qemu_argv(_config())
    assert _value(qemu_argv(_config(bios=Path("/q/qboot.rom"))), "-bios") == ["/q/qboot.rom"]


def test_render_round_trips_through_a_shell() -> None:
    argv = qemu_argv(_config(append="x='y z'"))
    assert shlex.split(render(argv)) == argv


def test_qemu_accepts_the_options(tmp_path: Path) -> None:
    """The installed QEMU parses every device and netdev option we generate."""
    qemu = "qemu-system-x86_64"
    try:
        devices = subprocess.run([qemu, "-device", "help"], capture_output=True, text=True)
        netdevs = subprocess.run([qemu, "-netdev", "help"], capture_output=True, text=True)
    except FileNotFoundError:
        pytest.fail("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    for dev in (
        "virtio-serial-pci",
        "virtconsole",
        "virtserialport",
        "virtio-net-pci",
        "virtio-blk-pci",
    ):
        assert f'"{dev}"' in devices.stdout
    assert "dgram" in netdevs.stdout.split()


def test_snapshot_argv_maps_the_saved_ram_private_and_skips_the_debug_kernel(
    tmp_path: Path,
) -> None:
    from printerfact.driver import snapshot_boot
    from printerfact.kernel.flavour import FLAVOURS

    initrd = tmp_path / "server.initrd"
    initrd.write_bytes(b"initrd")
    said: list[str] = []
    qc = _config(initrd=initrd, append="console=ttyS0")
    ram = tmp_path / "run.ram"
    argv, boot = snapshot_boot.prepare(tmp_path / "snaps", qc, (tmp_path,), ram, False, said.append)
    assert boot is not None and not boot.restore  # nothing saved yet: boot, then save
    saving_ram = snapshot_boot.snapshot.ram_args(ram, 256, shared=True)
    assert argv[-len(saving_ram) :] == saving_ram
    assert f"memory-backend-file,id=pf-ram,size=256M,mem-path={ram},share=on" in argv
    # A restore: the same command line, the saved RAM mapped private instead of the run's.
    restore = snapshot_boot.snapshot.restore_argv(argv[: -len(saving_ram)], boot.entry, 256)
    assert f"mem-path={boot.entry / 'ram'},share=off" in " ".join(restore)
    assert "share=on" not in " ".join(restore)
    assert restore[-3:] == ["-S", "-incoming", "defer"]
    # The debug kernel's acpi=noirq leaves vmgenid's interrupt unrouted: no snapshot at all.
    debug = _config(initrd=initrd, append=FLAVOURS["debug"].kernel_append)
    argv, boot = snapshot_boot.prepare(
        tmp_path / "snaps", debug, (tmp_path,), ram, False, said.append
    )
    assert boot is None and argv == qemu_argv(debug)
    assert "acpi=noirq" in said[-1] and "CRNG" in said[-1]
