# The kernel of the Nix path: Linux from `sources.linux`, configured with the same fragments as
# the portable build (kernel/printerfact.config, plus kernel/debug.config for the debug
# flavour), on top of nixpkgs' platform defconfig and common config.
#
# The common config stays on (buildLinux's enableCommonConfig defaults to true): it is what
# gives a NixOS test VM its requirements (qemu-vm.nix's system.requiredKernelConfig: VIRTIO_BLK,
# 9P_FS, NET_9P_VIRTIO, EXT4_FS, OVERLAY_FS, ...; systemd's CGROUPS, FHANDLE, AUTOFS, ...).  The
# portable build's tinyconfig base could not boot NixOS.  NixOS does not check
# requiredKernelConfig for kernels built with buildLinux (they carry `features`), so the
# fragment is forced instead: generate-config.pl fails the build when an option does not end
# up with the value asked for (ignoreConfigErrors is false on x86_64).  The few fragment
# options nixpkgs' build cannot honour are filtered by nix/kconfig-nixpkgs.nix, which also
# names the answers of the common config that the fragments make impossible (withdrawn: set to
# lib.kernel.unset, so generate-config.pl is not asked for them).
#
# Rust: CONFIG_RUST=y in the fragment makes buildLinux add nixpkgs' rustc and rust-bindgen and
# set RUST_LIB_SRC = rustPlatform.rustLibSrc; the kernel's top Makefile exports
# RUSTC_BOOTSTRAP=1 itself, so the stable rustc needs no rebuild (see nix/rustc-nightly.nix for
# the same trick outside kbuild).
{ lib
, buildLinux
, sources ? import ./nix/sources.nix
  # Merged in order, a later fragment overriding an earlier one (as merge_config.sh does).
, configFragments ? [ ./kernel/printerfact.config ]
  # Everything else goes to buildLinux (default.nix passes `kernelPatches`: nixpkgs' two
  # standard ones, as linux-kernels.nix does for its own kernels).  NixOS applies
  #   kernel.override (old: { kernelPatches = ...; features = ...; randstructSeed = ...; })
  # to every boot.kernelPackages (nixos/modules/system/boot/kernel.nix), and callPackage's
  # `.override` calls this file again with those arguments: they must reach buildLinux, or
  # boot.kernelPatches and features would be lost.
, ...
}@args:

let
  inherit (sources.linux) version;

  fragment = builtins.foldl' (acc: file: acc // import ./nix/kconfig.nix file) { } configFragments;
  asked = import ./nix/kconfig-nixpkgs.nix { inherit version; } fragment;

  toItem = value:
    if value == "y" then lib.kernel.yes
    else if value == "m" then lib.kernel.module
    else if value == "n" then lib.kernel.no
    else lib.kernel.freeform value;

  # mkForce: where nixpkgs' common config sets one of these options to another value the
  # fragment wins (two different plain definitions would be a module-system conflict).
  # lib.kernel.option: generate-config.pl only warns if Kconfig does not offer the option.
  toConfig = name: value: lib.mkForce
    (if asked.optional ? ${name} then lib.kernel.option (toItem value) else toItem value);

  passed = removeAttrs args [ "lib" "buildLinux" "sources" "configFragments" ];
in
buildLinux (passed // {
  inherit version;
  # `uname -r`: 6.12.118 (kernel.org tarballs have no localversion).
  modDirVersion = lib.versions.pad 3 version;
  src = sources.linux;

  structuredExtraConfig = lib.mapAttrs toConfig asked.options
    // lib.mapAttrs (_: _: lib.mkForce lib.kernel.unset) asked.withdrawn
    // passed.structuredExtraConfig or { };

  extraMeta = { branch = lib.versions.majorMinor version; } // passed.extraMeta or { };
})
