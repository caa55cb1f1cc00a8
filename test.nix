# One NixOS test per testscript, nodes generated from testscripts/tests.toml (nix/nodes.nix):
# a new entry there is a new test here, with no Nix code of its own.
#   nix-build test.nix                                   all tests
#   nix-build test.nix -A network                        one test
#   nix-build test.nix -A network.driverInteractive      REPL: ./result/bin/nixos-test-driver
# The driver type-checks (mypy) and lints (pyflakes) each testScript before any VM starts.
{ sources ? import ./nix/sources.nix
, system ? builtins.currentSystem
, pkgs ? import sources.nixpkgs { inherit system; config = { }; overlays = [ ]; }
, linuxPackages ? (import ./default.nix { inherit sources system pkgs; }).linuxPackages
, testsFile ? ./testscripts/tests.toml
  # Run after every test's own script, in the same testScript, so also by driverInteractive's
  # test_script(): the kernel-log guard fails a test on kernel reports in any node's log.
, postScripts ? [ ./testscripts/kernel_log_guard.py ]
  # Kernel flavour, in the test names (default.nix: "default", "debug", "prebuilt").
, flavour ? "default"
}:

let
  inherit (pkgs) lib;

  mkNode = import ./nix/nixos-node.nix {
    inherit linuxPackages;
    factsFile = ./module/facts.txt;
  };

  # The parts one newline apart, as the portable runner joins them (TestSpec.full_script).
  joinScripts = builtins.foldl'
    (text: part: if text == "" || lib.hasSuffix "\n" text then text + part else text + "\n" + part)
    "";

  mkTest = name: test: pkgs.testers.runNixOSTest {
    name = if flavour == "default" then "printerfact-${name}" else "printerfact-${flavour}-${name}";
    nodes = lib.mapAttrs (_: mkNode) test.nodes;
    testScript = joinScripts (map builtins.readFile ([ (dirOf testsFile + "/${test.script}") ] ++ postScripts));
  };
in
lib.mapAttrs mkTest (import ./nix/nodes.nix testsFile)
