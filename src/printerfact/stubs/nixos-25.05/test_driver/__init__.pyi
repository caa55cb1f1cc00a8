# nixpkgs: nixos/lib/test-driver/src/test_driver (typed model; see printerfact/stubs/__init__.py)
