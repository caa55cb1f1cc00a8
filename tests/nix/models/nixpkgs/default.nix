# Model of nixpkgs' top level, `import <nixpkgs> { system; config; overlays; }`
# (pkgs/top-level/default.nix, stage.nix, all-packages.nix, splice.nix): a fixed point of the
# packages and functions the project's Nix uses, each from the model of the nixpkgs file that
# defines it.  Overlays apply as in nixpkgs (lib.extends).  A plain package is a real, never
# built derivation with a name and a version.
{ system ? "x86_64-linux", config ? { }, overlays ? [ ] }:

let
  lib = import ../lib.nix;
  builders = import ../stdenv.nix { inherit lib system; };

  package = pname: version: extra: builders.mkDerivation ({ inherit pname version; } // extra);

  packages = self: {
    inherit lib system config;

    # splice.nix: callPackage = newScope { }; newScope = extra: callPackageWith (pkgs // extra)
    callPackage = lib.callPackageWith self;
    newScope = extra: lib.callPackageWith (self // extra);

    stdenv = {
      inherit (builders) mkDerivation;
      hostPlatform = {
        inherit system;
        isLinux = true;
        linuxArch = "x86_64";
        # lib/systems/platforms.nix: pc
        linux-kernel = { name = "pc"; baseConfig = "defconfig"; autoModules = true; target = "bzImage"; };
      };
      cc = { isClang = false; isGNU = true; };
    };
    inherit (builders) runCommand mkShell;
    makeWrapper = package "make-wrapper" "0" { };

    # pkgs/top-level/all-packages.nix: inherit (linuxKernel) buildLinux; linuxPackagesFor = linuxKernel.packagesFor
    linuxKernel = import ../linux-kernels.nix { inherit lib; pkgs = self; };
    inherit (self.linuxKernel) buildLinux;
    linuxPackagesFor = self.linuxKernel.packagesFor;
    linuxPackages_6_12 = self.linuxKernel.packages.linux_6_12;
    # The default kernel of nixos-26.05 (packageAliases.linux_default) is 6.18 (as reported for
    # release-26.05; its linux-kernels.nix was not readable here).
    linuxPackages_6_18 = self.linuxKernel.packages.linux_6_18;
    linuxPackages = self.linuxPackages_6_18;

    testers.runNixOSTest = import ../testers.nix { inherit lib; pkgs = self; };

    perl = package "perl" "5.40.0" { };
    pahole = package "pahole" "1.29" { };
    elfutils = package "elfutils" "0.192" { };
    zstd = package "zstd" "1.5.7" { };
    rustc = package "rustc-wrapper" "1.86.0" { meta = { license = [ "MIT" "Apache-2.0" ]; platforms = [ "x86_64-linux" ]; }; };
    rust-bindgen = package "rust-bindgen" "0.71.1" { };
    rustPlatform.rustLibSrc = package "rust-lib-src" "1.86.0" { };
    busybox = package "busybox" "1.36.1" { };
    mypy = package "mypy" "1.15.0" { };
    # pkgs/top-level/python-packages.nix: a few of the set, under nixpkgs' attribute names
    # (a missing attribute fails as it would in nixpkgs).
    python3Packages = {
      numpy = package "python3.13-numpy" "2.2.6" { };
      pyyaml = package "python3.13-pyyaml" "6.0.2" { };
      python-dateutil = package "python3.13-python-dateutil" "2.9.0.post0" { };
      requests = package "python3.13-requests" "2.32.4" { };
      typing-extensions = package "python3.13-typing-extensions" "4.14.1" { };
    };
    trinity = package "trinity" "1.9-unstable" { };
    stress-ng = package "stress-ng" "0.18.12" { };
    # pkgs/build-support/fetchurl/default.nix: a fixed-output derivation (flat sha256 of the
    # file), so it is fetched when built, never during evaluation, and its store path depends
    # only on name and hash.  (Mirrors, curl options, `hash` in SRI form: left out.)
    fetchurl = { url, sha256, name ? baseNameOf url }:
      derivation
        {
          inherit name system;
          builder = "/bin/sh";
          args = [ "-c" "echo this is a model of nixpkgs' fetchurl; exit 1" ];
          urls = [ url ];
          outputHashMode = "flat";
          outputHashAlgo = "sha256";
          outputHash = sha256;
        } // { inherit url; };
    fetchzip = { url, sha256 ? "", hash ? "", name ? "source" }:
      builders.mkDerivation { inherit name url sha256 hash; };
  };
in
lib.fix' (builtins.foldl' (f: overlay: lib.extends overlay f) packages overlays)
