# printerfact.ko, built out of tree against a Rust-enabled kernel's dev output, the way nixpkgs
# packages Rust-for-Linux's rust-out-of-tree-module.  Call it from a kernel package set:
#   (pkgs.linuxPackagesFor kernel).callPackage ./nix/module.nix { }
# kbuild installs it as lib/modules/<modDirVersion>/updates/printerfact.ko(.xz) for
# boot.extraModulePackages.  No LLVM=1: module and kernel must use the same compiler, and
# nixpkgs builds its kernels with the stdenv's GCC (module/Makefile passes LLVM on only when
# asked to).
{ lib
, stdenv
, kernel
, kernelModuleMakeFlags
}:

stdenv.mkDerivation {
  pname = "printerfact";
  version = "0.1.0-${kernel.version}";

  # Only what kbuild reads, so that the leftovers of a local `make -C module` (*.ko, .*.cmd,
  # *.mod.c, Module.symvers, modules.order, ...) do not change the source or its hash.
  src = lib.fileset.toSource {
    root = ../module;
    fileset = lib.fileset.unions [
      ../module/Kbuild
      ../module/Makefile
      ../module/facts.txt # include_bytes! in facts.rs
      (lib.fileset.fileFilter (file: file.hasExt "rs") ../module)
    ];
  };

  # rustc and rust-bindgen come with a kernel that has CONFIG_RUST=y.
  nativeBuildInputs = kernel.moduleBuildDependencies;
  makeFlags = kernelModuleMakeFlags ++ [
    "KDIR=${kernel.dev}/lib/modules/${kernel.modDirVersion}/build"
  ];

  installFlags = [ "INSTALL_MOD_PATH=${placeholder "out"}" ];
  installTargets = [ "modules_install" ];

  meta = {
    description = "Character device /dev/printerfact: one random printer fact per read";
    license = lib.licenses.gpl2Only;
    platforms = [ "x86_64-linux" ];
    broken = !kernel.withRust;
  };
}
