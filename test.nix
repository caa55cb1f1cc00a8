# One NixOS test per testscript, nodes generated from testscripts/tests.toml (nix/nodes.nix):
# a new entry there is a new test here, with no Nix code of its own.
#   nix-build test.nix                                   all tests
#   nix-build test.nix -A network                        one test
#   nix-build test.nix -A network.driverInteractive      REPL: ./result/bin/nixos-test-driver
# The driver type-checks (mypy) and lints (pyflakes) each testScript before any VM starts,
# unless tests.toml says skipTypeCheck / skipLint for that test.
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

  # A PyPI project name -> its attribute in nixpkgs' Python package set: the name normalised as
  # PEP 503 does (lower case, runs of "-", "_", "." become "-"), which is how nixpkgs mostly
  # names them (PyYAML -> pyyaml, typing_extensions -> typing-extensions).
  pythonPackageAttr = project:
    lib.concatStringsSep "-" (builtins.filter builtins.isString (builtins.split "[-_.]+" (lib.toLower project)));

  mkTest = name: test: pkgs.testers.runNixOSTest {
    name = if flavour == "default" then "printerfact-${name}" else "printerfact-${flavour}-${name}";
    nodes = lib.mapAttrs (_: mkNode) test.nodes;
    testScript = joinScripts (map builtins.readFile ([ (dirOf testsFile + "/${test.script}") ] ++ postScripts));
    # tests.toml's test-level options, under runNixOSTest's own names (nixos/lib/testing/driver.nix).
    inherit (test) globalTimeout skipTypeCheck skipLint enableDebugHook;
    sshBackdoor.enable = test.sshBackdoor;
    extraPythonPackages = p: map (project: p.${pythonPackageAttr project}) test.extraPythonPackages;
  };
in
lib.mapAttrs mkTest (import ./nix/nodes.nix testsFile)
