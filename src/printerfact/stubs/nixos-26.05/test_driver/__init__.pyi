# nixpkgs nixos-26.05: nixos/lib/test-driver/src/test_driver (typed model: printerfact/stubs)
