# The development shell, as nixpkgs' convention has it: a bare `nix-shell` in the repository
# root reads this file (default.nix holds the products).  For work on module/ against the Nix
# kernel:
#   nix-shell
#   make -C module KDIR=$KDIR
# rustcNightly (nix/rustc-nightly.nix) is nixpkgs' rustc with nightly features unlocked, for
# `rustc -Z ...` and rustdoc outside kbuild; Hydra builds it too (release.nix).
{ sources ? import ./nix/sources.nix
, system ? builtins.currentSystem
, pkgs ? import sources.nixpkgs { inherit system; config = { }; overlays = [ ]; }
  # The kernel to build against: default.nix's, unless another is given.
, kernel ? (import ./default.nix { inherit sources system pkgs; }).kernel
}:

let
  rustcNightly = pkgs.callPackage ./nix/rustc-nightly.nix { };
in
pkgs.mkShell {
  name = "printerfact-shell";
  packages = [ rustcNightly pkgs.rust-bindgen ] ++ kernel.moduleBuildDependencies;
  RUST_LIB_SRC = pkgs.rustPlatform.rustLibSrc;
  KDIR = "${kernel.dev}/lib/modules/${kernel.modDirVersion}/build";
  shellHook = ''
    echo "make -C module KDIR=\$KDIR    # builds printerfact.ko against ${kernel.name}"
  '';
  passthru = { inherit rustcNightly; };
}
