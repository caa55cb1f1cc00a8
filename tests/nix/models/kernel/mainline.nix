# Model of pkgs/os-specific/linux/kernel/mainline.nix: a kernel.org stable branch through
# buildLinux, extra arguments passed on (`...`), as nixpkgs' linux_6_12 is made.  The version
# is a stand-in: the model does not know which 6.12.y the pin carries.
{ lib, buildLinux, branch, ... }@args:

let version = "${branch}.60"; in
buildLinux (removeAttrs args [ "lib" "buildLinux" "branch" ] // {
  inherit version;
  modDirVersion = lib.versions.pad 3 version;
  src = builtins.toFile "linux-${version}.tar.xz" "model of a kernel.org tarball";
  extraMeta.branch = branch;
})
