"""dev-printerfact: build and VM-test /dev/printerfact with the NixOS test-driver API.

No Nix needed: `build` makes kernel, module and image; `driver` runs the testscripts in QEMU.
"""
