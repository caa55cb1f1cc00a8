# The Nix entry point.  Pins: nix/sources.json (niv).  Its top-level derivations are the
# products, so a bare `nix-build` builds the kernel and the module; the development shell is in
# shell.nix (a bare `nix-shell`).
#   nix-build -A kernel                Linux with kernel/printerfact.config on nixpkgs' common config
#   nix-build -A printerfact           the module against that kernel
#   nix-build -A tests                 every NixOS test (same as `nix-build test.nix`)
#   nix-build -A debug.kernel          the debug flavour: + kernel/debug.config (docs/nix-api.md)
#   nix-build -A debug.printerfact     the module against it
#   nix-build -A debug.tests           every NixOS test on the debug kernel
#   nix-build -A prebuilt.tests        the same tests on nixpkgs' own Rust-enabled 6.12 (no kernel build)
{ sources ? import ./nix/sources.nix
, system ? builtins.currentSystem
, pkgs ? import sources.nixpkgs { inherit system; config = { }; overlays = [ ]; }
, ...
}:

let
  # Added with `extend`, so a set NixOS extends further (boot.kernelPackages: its kernel
  # overridden with boot.kernelPatches) rebuilds the module against its own kernel.
  withPrinterfact = kernelPackages: kernelPackages.extend (self: _: {
    printerfact = self.callPackage ./nix/module.nix { };
  });

  nixpkgsPatches = pkgs.linuxKernel.kernelPatches;

  testsOn = flavour: linuxPackages: import ./test.nix { inherit sources system pkgs linuxPackages flavour; };

  # A kernel built from these fragments, its package set with the module, and every NixOS
  # test on it.  callPackage (not a plain import): kernel.override takes kernel.nix's own
  # arguments too, e.g. `kernel.override { configFragments = [ ... ]; }`.
  flavour = name: configFragments:
    let
      kernel = pkgs.callPackage ./kernel.nix {
        inherit sources configFragments;
        # What pkgs/top-level/linux-kernels.nix gives every mainline kernel: the paths of the
        # kernel's user-space helpers, /sbin/bridge-stp and /sbin/request-key, become
        # /run/current-system/sw/bin/..., where NixOS has them.  Passed here, at the call site,
        # as nixpkgs does, so NixOS's override appends boot.kernelPatches to them.
        kernelPatches = [ nixpkgsPatches.bridge_stp_helper nixpkgsPatches.request_key_helper ];
      };
      linuxPackages = withPrinterfact (pkgs.linuxPackagesFor kernel);
    in
    {
      inherit kernel linuxPackages;
      inherit (linuxPackages) printerfact;
      tests = testsOn name linuxPackages;
    };

  default = flavour "default" [ ./kernel/printerfact.config ];
  # Not kernel/portable-boot.config: that is the portable runner's boot-speed tuning only.
  debug = flavour "debug" [ ./kernel/printerfact.config ./kernel/debug.config ];

  # nixpkgs' binary-cached 6.12 has CONFIG_RUST=y on x86_64 (common-config.nix enables Rust by
  # default from 6.12 on), so only the module is built.  meta.broken says so if it has not.
  prebuiltPackages = withPrinterfact pkgs.linuxPackages_6_12;
in
{
  # The derivations here, kernel and printerfact, are what a bare `nix-build` builds.  The rest
  # are attribute sets it does not descend into (no recurseForDerivations): select with -A.
  inherit debug;
  inherit (default) kernel linuxPackages printerfact tests;

  prebuilt = {
    linuxPackages = prebuiltPackages;
    inherit (prebuiltPackages) printerfact;
    tests = testsOn "prebuilt" prebuiltPackages;
  };
}
