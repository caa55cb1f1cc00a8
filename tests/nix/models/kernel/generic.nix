# Model of nixpkgs' buildLinux (arguments as in generic.nix of 2024-2026; the nixos-26.05 copy was
# not readable here; its config merge checked against the real lib.evalModules over
# kernel_config.nix's item type):
#   pkgs/os-specific/linux/kernel/generic.nix        the function: its arguments (with `...`:
#                                                    unknown ones are accepted and ignored),
#                                                    features, the config merge, withRust,
#                                                    passthru
#   nixos/modules/system/boot/kernel_config.nix      how config definitions merge
#   pkgs/os-specific/linux/kernel/manual-config.nix  the kernel derivation (arguments without
#                                                    `...`), outputs out/dev, passthru
#   pkgs/os-specific/linux/kernel/common-flags.nix   commonMakeFlags
# Called with callPackage, as pkgs/top-level/linux-kernels.nix does
# (`buildLinux = callPackage ./kernel/generic.nix { }`), so `buildLinux` is overridable and its
# result carries generic.nix's own `.override`.
{ lib, stdenv, perl, pahole, elfutils, zstd, rustc, rust-bindgen, rustPlatform }@args':

let
  # kernel_config.nix: `settings.<name>` is a submodule with `tristate` and `freeform`
  # (mergeEqualOption: definitions must agree) and `optional` (true only if every definition
  # says so).  Priorities as in lib/modules.nix: mkForce (50) beats a plain definition (100).
  mergeSettings = defsList:
    let
      priority = d: if d._type or null == "override" then d.priority else 100;
      content = d: if d._type or null == "override" then content d.content else d;
      names = builtins.attrNames (builtins.foldl' (acc: d: acc // d) { } defsList);
      unique = builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];
      merge = name:
        let
          defs = builtins.concatMap (d: lib.optional (d ? ${name}) d.${name}) defsList;
          best = builtins.foldl' (a: b: if a < b then a else b) 1500 (map priority defs);
          top = map content (builtins.filter (d: priority d == best) defs);
          equal = field:
            let values = unique (builtins.concatMap (d: lib.optional (d.${field} or null != null) d.${field}) top); in
            if builtins.length values > 1
            then throw "The option `settings.${name}.${field}' has conflicting definition values: ${builtins.toJSON values}"
            else if values == [ ] then null else builtins.head values;
        in
        {
          tristate = equal "tristate";
          freeform = equal "freeform";
          optional = builtins.all (d: d.optional or false) top;
        };
    in
    lib.listToAttrs (map (name: lib.nameValuePair name (merge name)) names);

  # manual-config.nix's function: no `...`, so generic.nix may pass only these.  (Its `lib`
  # and `stdenv` arguments are left out: generic.nix gives those to callPackage instead.)
  manualConfig =
    { version
    , pos ? null
    , extraMakeFlags ? [ ]
    , modDirVersion ? lib.versions.pad 3 version
    , src
    , kernelPatches ? [ ]
    , configfile
    , config ? { }
    , randstructSeed ? ""
    , extraMeta ? { }
    , isZen ? false
    , isLibre ? false
    , isHardened ? false
    , allowImportFromDerivation ? false
    , features ? null
    }:
    let
      withRust = config.CONFIG_RUST or "n" == "y";
      moduleBuildDependencies = [ pahole perl elfutils zstd ] ++ lib.optionals withRust [ rustc rust-bindgen ];
      commonMakeFlags = [ "ARCH=${stdenv.hostPlatform.linuxArch}" "CROSS_COMPILE=" ] ++ extraMakeFlags;
      baseVersion = builtins.head (builtins.match "([^-]*)(-rc.*)?" version);
    in
    stdenv.mkDerivation {
      pname = "linux";
      inherit version src configfile randstructSeed;
      outputs = [ "out" "dev" ];
      patches = map (p: p.patch) (builtins.filter (p: p.patch or null != null) kernelPatches);
      nativeBuildInputs = [ perl ] ++ lib.optionals withRust [ rustc rust-bindgen ];
      RUST_LIB_SRC = if withRust then rustPlatform.rustLibSrc else "";
      makeFlags = commonMakeFlags;
      passthru = {
        inherit version modDirVersion kernelPatches configfile moduleBuildDependencies stdenv
          isZen isHardened isLibre withRust commonMakeFlags baseVersion;
        config = config // { isYes = name: (config."CONFIG_${name}" or null) == "y"; };
        kernelOlder = lib.versionOlder baseVersion;
        kernelAtLeast = lib.versionAtLeast baseVersion;
      };
      meta = { description = "The Linux kernel"; license = lib.licenses.gpl2Only; } // extraMeta;
    };

  buildLinux =
    { src
    , version
    , defconfig ? null
    , extraConfig ? ""
    , extraMakeFlags ? [ ]
    , enableCommonConfig ? true
    , structuredExtraConfig ? { }
    , modDirVersion ? null
    , features ? { }
    , randstructSeed ? ""
    , kernelPatches ? [ ]
    , ignoreConfigErrors ? !lib.elem stdenv.hostPlatform.linux-kernel.name [ "aarch64-multiplatform" "pc" ]
    , extraMeta ? { }
    , isZen ? false
    , isLibre ? false
    , isHardened ? false
    , autoModules ? stdenv.hostPlatform.linux-kernel.autoModules
    , preferBuiltin ? stdenv.hostPlatform.linux-kernel.preferBuiltin or false
    , kernelArch ? stdenv.hostPlatform.linuxArch
    , kernelTests ? { }
    , stdenv ? args'.stdenv
    , ...
    }@args:
    let
      # Combine the `features` of all kernel patches over these defaults.
      kernelFeatures = lib.foldr (x: y: (x.features or { }) // y)
        ({ efiBootStub = true; netfilterRPFilter = true; ia32Emulation = true; } // features)
        kernelPatches;

      commonStructuredConfig = import ./common-config.nix { inherit lib version; features = kernelFeatures; };

      settings = mergeSettings (
        lib.optional enableCommonConfig commonStructuredConfig
        ++ [ structuredExtraConfig ]
        ++ map (p: p.extraStructuredConfig or { }) kernelPatches
      );

      generated = import ./kconfig-x86_64.nix { inherit lib; } {
        inherit settings ignoreConfigErrors version;
        ccIsClang = stdenv.cc.isClang;
      };

      # The answers generate-config.pl gets ("NAME value" lines); a build that would stop in
      # generate-config.pl throws when the config file is instantiated.
      kernelConfig =
        if generated.errors != [ ] then
          throw "generate-config.pl (model): error: ${builtins.concatStringsSep "; " generated.errors}"
        else
          builtins.concatStringsSep "\n" (map
            (name: let s = settings.${name}; in "${name} ${if s.tristate != null then s.tristate else s.freeform}")
            (builtins.filter (name: settings.${name}.tristate != null || settings.${name}.freeform != null)
              (builtins.attrNames settings)));

      configfile = stdenv.mkDerivation {
        pname = "linux-config";
        inherit version kernelConfig ignoreConfigErrors autoModules preferBuiltin kernelArch;
        passAsFile = [ "kernelConfig" ];
        kernelBaseConfig = if defconfig != null then defconfig else stdenv.hostPlatform.linux-kernel.baseConfig;
        passthru = {
          structuredConfig = settings;
          modelGenerateConfig = generated;
        };
      };

      withRust = (settings.RUST or { }).tristate or null == "y";

      # generic.nix passes `basicArgs` (version and src of its own arguments) and these.
      kernel = manualConfig (builtins.intersectAttrs { version = 0; src = 0; } args // {
        inherit kernelPatches randstructSeed extraMakeFlags extraMeta configfile;
        # (The model fills in the default here; manual-config.nix pads the version the same way.)
        modDirVersion = if modDirVersion == null then lib.versions.pad 3 version else modDirVersion;
        config = {
          CONFIG_MODULES = "y";
          CONFIG_FW_LOADER = "y";
          CONFIG_RUST = if withRust then "y" else "n";
        };
      });
    in
    kernel // {
      features = kernelFeatures;
      inherit commonStructuredConfig structuredExtraConfig extraMakeFlags kernelTests isZen isLibre isHardened;
      # Not in nixpkgs: what this model saw, for the contract tests.  buildLinux has `...`, so
      # a misspelt argument would be ignored without a word.
      modelIgnoredArgs = builtins.attrNames (removeAttrs args (builtins.attrNames (builtins.functionArgs buildLinux)));
      modelArgs = args;
    };
in
lib.makeOverridable buildLinux
