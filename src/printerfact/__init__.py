"""dev-printerfact: build and VM-test /dev/printerfact with the NixOS test-driver API, without Nix."""
