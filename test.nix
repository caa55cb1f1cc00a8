# One NixOS test per testscript, nodes generated from testscripts/tests.toml (nix/nodes.nix).
#   nix-build test.nix                                   all tests
#   nix-build test.nix -A network                        one test
#   nix-build test.nix -A network.driverInteractive      REPL: ./result/bin/nixos-test-driver
# The driver type-checks (mypy) and lints (pyflakes) each testScript before any VM starts.
{ sources ? import ./nix/sources.nix
, system ? builtins.currentSystem
, pkgs ? import sources.nixpkgs { inherit system; config = { }; overlays = [ ]; }
, linuxPackages ? (import ./default.nix { inherit sources system pkgs; }).linuxPackages
, testsFile ? ./testscripts/tests.toml
}:

let
  inherit (pkgs) lib;

  mkNode = import ./nix/nixos-node.nix {
    inherit linuxPackages;
    factsFile = ./module/facts.txt;
  };

  mkTest = name: test: pkgs.testers.runNixOSTest {
    name = "printerfact-${name}";
    nodes = lib.mapAttrs (_: mkNode) test.nodes;
    testScript = builtins.readFile (dirOf testsFile + "/${test.script}");
  };
in
lib.mapAttrs mkTest (import ./nix/nodes.nix testsFile)
