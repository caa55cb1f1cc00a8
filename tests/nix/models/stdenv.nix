# Models of nixpkgs' derivation builders, as far as the project's Nix uses them:
#   stdenv.mkDerivation  pkgs/stdenv/generic/make-derivation.nix
#   runCommand           pkgs/build-support/trivial-builders/default.nix (runCommandWith)
#   mkShell              pkgs/build-support/mkshell/default.nix
#
# They make real (never built) derivations with builtins.derivation, so a value that cannot
# be a derivation attribute fails as it would in nixpkgs, outputs have their own paths, and
# a changed input changes the store path of everything built from it.  `meta` and `passthru`
# stay out of the derivation and are added to the result, as in make-derivation.nix.
{ lib, system }:

let
  mkDerivation = attrs:
    let
      name = attrs.name or "${attrs.pname}-${attrs.version}";
      drv = derivation (removeAttrs attrs [ "meta" "passthru" ] // {
        inherit name system;
        builder = "/bin/sh";
        args = [ "-c" "echo this is a model of a nixpkgs derivation; exit 1" ];
      });
    in
    drv // attrs.passthru or { } // {
      meta = attrs.meta or { };
      overrideAttrs = f: mkDerivation (attrs // lib.toFunction f attrs);
    };
in
{
  inherit mkDerivation;

  # runCommandWith { name; derivationArgs = env; } buildCommand
  runCommand = name: env: buildCommand: mkDerivation ({
    enableParallelBuilding = true;
    inherit name buildCommand;
    passAsFile = [ "buildCommand" ] ++ env.passAsFile or [ ];
  } // removeAttrs env [ "passAsFile" ]);

  mkShell = attrs: mkDerivation (removeAttrs attrs [ "packages" "inputsFrom" ] // {
    name = attrs.name or "nix-shell";
    nativeBuildInputs = attrs.packages or [ ] ++ attrs.nativeBuildInputs or [ ];
  });
}
