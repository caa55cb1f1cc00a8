# Model of pkgs/top-level/linux-kernels.nix (nixos-26.05): buildLinux, the 6.12 and 6.18
# kernel, and `packagesFor` (pkgs.linuxPackagesFor), a lib.makeExtensible set, so `extend`
# re-fixes it: a package called with `self.callPackage` sees the final `kernel`.
{ lib, pkgs }:

let
  packagesFor = kernel_: lib.makeExtensible (self:
    let callPackage = pkgs.newScope self; in
    {
      inherit callPackage;
      kernel = kernel_;
      # in particular, use the same compiler by default
      inherit (self.kernel) stdenv;
      inherit (self.kernel) kernelOlder kernelAtLeast;
      kernelModuleMakeFlags = self.kernel.commonMakeFlags ++ [
        "KBUILD_OUTPUT=${self.kernel.dev}/lib/modules/${self.kernel.modDirVersion}/build"
      ];
    });

  buildLinux = pkgs.callPackage ./kernel/generic.nix { };

  # pkgs/os-specific/linux/kernel/patches.nix (callPackage'd here as `kernelPatches`): the two
  # every mainline kernel gets.  The real patches turn the helper paths /sbin/bridge-stp and
  # /sbin/request-key into /run/current-system/sw/bin/...; the model's files only stand in.
  kernelPatches = {
    bridge_stp_helper = { name = "bridge-stp-helper"; patch = builtins.toFile "bridge-stp-helper.patch" "model"; };
    request_key_helper = { name = "request-key-helper"; patch = builtins.toFile "request-key-helper.patch" "model"; };
  };

  mainline = branch: pkgs.callPackage ./kernel/mainline.nix {
    inherit buildLinux branch;
    kernelPatches = [ kernelPatches.bridge_stp_helper kernelPatches.request_key_helper ];
  };
  kernels = {
    linux_6_12 = mainline "6.12";
    linux_6_18 = mainline "6.18";
  };
in
{
  inherit buildLinux packagesFor kernelPatches kernels;
  packages = builtins.mapAttrs (_: k: lib.recurseIntoAttrs (packagesFor k)) kernels;
}
