"""What nixpkgs' test driver (nixos-25.05, the stubs beside this file) has and the portable
driver rejects, and why.  Everything else a testscript can reach is implemented with nixpkgs'
semantics.  The static checks reject these before any VM starts (our classes lack them) and
quote the reason; docs/api-conformance.md lists them with the implemented names, and
tests/test_api_conformance.py keeps the three in agreement.
"""

from __future__ import annotations

NO_DISPLAY = "no display: QEMU runs with -display none, and the image has no OCR tools"
NO_X = "no X server in the image"
NO_VT_LOGIN = "no logins on virtual terminals: the image runs no getty on tty1-6"
INTERNAL = "an internal of nixpkgs' Machine, not API: the portable driver has its own"

MACHINE: dict[str, str] = {
    # methods
    "wait_for_monitor_prompt": "a step of nixpkgs' monitor protocol; send_monitor_command "
    "returns the reply itself",
    "wait_for_qmp_event": "no QMP socket: QEMU is driven over its human monitor (HMP) only",
    "get_tty_text": NO_VT_LOGIN,
    "wait_until_tty_matches": NO_VT_LOGIN,
    "dump_tty_contents": NO_VT_LOGIN + " (and no systemd-cat)",
    "screenshot": NO_DISPLAY,
    "get_screen_text_variants": NO_DISPLAY,
    "get_screen_text": NO_DISPLAY,
    "wait_for_text": NO_DISPLAY,
    "wait_for_x": NO_X,
    "get_window_names": NO_X,
    "wait_for_window": NO_X,
    "forward_port": "no user-mode network to forward from, and nothing may listen on host TCP",
    "switch_root": "no initrd stage: the image is the initramfs (nixpkgs needs "
    "testing.initrdBackdoor and a systemd initrd)",
    # attributes
    "monitor_path": "the monitor socket is private and unlinked once QEMU is connected",
    "qmp_path": "no QMP socket",
    "shell_path": "the command channel's socket is private and unlinked once QEMU is connected",
    "start_command": "no NixOS start script: the driver builds QEMU's command line itself",
    "process": "QEMU runs under the driver's own process wrapper; `pid` gives its pid",
    "monitor": INTERNAL,
    "qmp_client": "no QMP socket",
    "shell": INTERNAL,
    "serial_thread": INTERNAL,
    "last_lines": INTERNAL + " (get_console_log is nixos-unstable's API for the console)",
}

DRIVER: dict[str, str] = {
    "race_timer": INTERNAL.replace("Machine", "Driver"),
    "dump_machine_ssh": "no SSH backdoor (nixpkgs' sshBackdoor, over vsock)",
    "create_machine": "needs a NixOS VM start script; nodes come from testscripts/tests.toml",
}

VLAN: dict[str, str] = {
    "process": "no vde_switch: the driver forwards frames itself (vm/network.py)",
    "pid": "no vde_switch process",
    "fd": "no vde_switch process",
    "logger": INTERNAL.replace("Machine", "VLan"),
    "stop": "the driver stops the VLANs at cleanup",
}

# Names a testscript gets from the driver (nixpkgs' `driver-symbols`).
SYMBOLS: dict[str, str] = {"create_machine": DRIVER["create_machine"]}

BY_CLASS = {"Machine": MACHINE, "Driver": DRIVER, "VLan": VLAN}
