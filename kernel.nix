# The kernel of the Nix path: Linux from `sources.linux`, configured with the same fragment as
# the portable build (kernel/printerfact.config), on top of nixpkgs' platform defconfig and
# common config.
#
# The common config stays on (buildLinux's enableCommonConfig defaults to true): it is what
# gives a NixOS test VM its requirements (qemu-vm.nix's system.requiredKernelConfig: VIRTIO_BLK,
# 9P_FS, NET_9P_VIRTIO, EXT4_FS, OVERLAY_FS, ...; systemd's CGROUPS, FHANDLE, AUTOFS, ...).  The
# portable build's tinyconfig base could not boot NixOS.  NixOS does not check
# requiredKernelConfig for kernels built with buildLinux (they carry `features`), so the
# fragment is forced instead: generate-config.pl fails the build when an option does not end
# up with the value asked for (ignoreConfigErrors is false on x86_64).
#
# Rust: CONFIG_RUST=y in the fragment makes buildLinux add nixpkgs' rustc and rust-bindgen and
# set RUST_LIB_SRC = rustPlatform.rustLibSrc; the kernel's top Makefile exports
# RUSTC_BOOTSTRAP=1 itself, so the stable rustc needs no rebuild (see nix/rustc-nightly.nix for
# the same trick outside kbuild).
{ lib
, buildLinux
, sources ? import ./nix/sources.nix
, configFragment ? ./kernel/printerfact.config
}:

let
  inherit (sources.linux) version;

  toItem = value:
    if value == "y" then lib.kernel.yes
    else if value == "m" then lib.kernel.module
    else if value == "n" then lib.kernel.no
    else lib.kernel.freeform value;
in
buildLinux {
  inherit version;
  # `uname -r`: 6.12.64 (kernel.org tarballs have no localversion).
  modDirVersion = lib.versions.pad 3 version;
  src = sources.linux;

  # mkForce: where nixpkgs' common config sets one of these options to another value the
  # fragment wins (two different plain definitions would be a module-system conflict).
  structuredExtraConfig =
    lib.mapAttrs (_: value: lib.mkForce (toItem value)) (import ./nix/kconfig.nix configFragment);

  extraMeta.branch = lib.versions.majorMinor version;
}
