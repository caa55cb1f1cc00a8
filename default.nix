# The Nix entry point.  Pins: nix/sources.json (niv).
#   nix-build -A kernel          Linux with kernel/printerfact.config on nixpkgs' common config
#   nix-build -A printerfact     the module against that kernel
#   nix-build -A tests           every NixOS test (same as `nix-build test.nix`)
#   nix-build -A prebuilt.tests  the same tests on nixpkgs' own Rust-enabled 6.12 (no kernel build)
#   nix-shell -A devShell        rustcNightly, bindgen, rust-src and KDIR for work on module/
{ sources ? import ./nix/sources.nix
, system ? builtins.currentSystem
, pkgs ? import sources.nixpkgs { inherit system; config = { }; overlays = [ ]; }
, ...
}:

let
  withPrinterfact = kernelPackages: kernelPackages.extend (self: _: {
    printerfact = self.callPackage ./nix/module.nix { };
  });

  kernel = pkgs.callPackage ./kernel.nix { inherit sources; };
  linuxPackages = withPrinterfact (pkgs.linuxPackagesFor kernel);

  # nixpkgs' binary-cached 6.12 has CONFIG_RUST=y on x86_64 (common-config.nix enables Rust by
  # default from 6.12 on), so only the module is built.  meta.broken says so if it has not.
  prebuiltPackages = withPrinterfact pkgs.linuxPackages_6_12;

  rustcNightly = pkgs.callPackage ./nix/rustc-nightly.nix { };
in
{
  inherit pkgs kernel linuxPackages rustcNightly;
  inherit (linuxPackages) printerfact;

  tests = import ./test.nix { inherit sources system pkgs linuxPackages; };

  prebuilt = {
    linuxPackages = prebuiltPackages;
    inherit (prebuiltPackages) printerfact;
    tests = import ./test.nix { inherit sources system pkgs; linuxPackages = prebuiltPackages; };
  };

  devShell = pkgs.mkShell {
    packages = [ rustcNightly pkgs.rust-bindgen ] ++ kernel.moduleBuildDependencies;
    RUST_LIB_SRC = pkgs.rustPlatform.rustLibSrc;
    KDIR = "${kernel.dev}/lib/modules/${kernel.modDirVersion}/build";
    shellHook = ''
      echo "make -C module KDIR=\$KDIR    # builds printerfact.ko against ${kernel.name}"
    '';
  };
}
