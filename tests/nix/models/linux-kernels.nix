# Model of pkgs/top-level/linux-kernels.nix (nixpkgs of mid-2025): buildLinux, the 6.12
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

  kernelPatches = {
    bridge_stp_helper = { name = "bridge-stp-helper"; patch = builtins.toFile "bridge-stp-helper.patch" "model"; };
    request_key_helper = { name = "request-key-helper"; patch = builtins.toFile "request-key-helper.patch" "model"; };
  };

  kernels.linux_6_12 = pkgs.callPackage ./kernel/mainline.nix {
    inherit buildLinux;
    branch = "6.12";
    kernelPatches = [ kernelPatches.bridge_stp_helper kernelPatches.request_key_helper ];
  };
in
{
  inherit buildLinux packagesFor kernelPatches kernels;
  packages.linux_6_12 = lib.recurseIntoAttrs (packagesFor kernels.linux_6_12);
}
