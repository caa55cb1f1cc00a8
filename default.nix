# The Nix entry point.  Pins: nix/sources.json (niv).
#   nix-build -A kernel                Linux with kernel/printerfact.config on nixpkgs' common config
#   nix-build -A printerfact           the module against that kernel
#   nix-build -A tests                 every NixOS test (same as `nix-build test.nix`)
#   nix-build -A debug.kernel          the debug flavour: + kernel/debug.config (docs/nix-api.md)
#   nix-build -A debug.printerfact     the module against it
#   nix-build -A debug.tests           every NixOS test on the debug kernel
#   nix-build -A prebuilt.tests        the same tests on nixpkgs' own Rust-enabled 6.12 (no kernel build)
#   nix-shell -A devShell              rustcNightly, bindgen, rust-src and KDIR for work on module/
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

  testsOn = flavour: linuxPackages: import ./test.nix { inherit sources system pkgs linuxPackages flavour; };

  # A kernel built from these fragments, its package set with the module, and every NixOS
  # test on it.  callPackage (not a plain import): kernel.override takes kernel.nix's own
  # arguments too, e.g. `kernel.override { configFragments = [ ... ]; }`.
  flavour = name: configFragments:
    let
      kernel = pkgs.callPackage ./kernel.nix { inherit sources configFragments; };
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

  rustcNightly = pkgs.callPackage ./nix/rustc-nightly.nix { };
in
{
  inherit pkgs rustcNightly debug;
  inherit (default) kernel linuxPackages printerfact tests;

  prebuilt = {
    linuxPackages = prebuiltPackages;
    inherit (prebuiltPackages) printerfact;
    tests = testsOn "prebuilt" prebuiltPackages;
  };

  devShell = pkgs.mkShell {
    packages = [ rustcNightly pkgs.rust-bindgen ] ++ default.kernel.moduleBuildDependencies;
    RUST_LIB_SRC = pkgs.rustPlatform.rustLibSrc;
    KDIR = "${default.kernel.dev}/lib/modules/${default.kernel.modDirVersion}/build";
    shellHook = ''
      echo "make -C module KDIR=\$KDIR    # builds printerfact.ko against ${default.kernel.name}"
    '';
  };
}
