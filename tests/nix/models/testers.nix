# Model of pkgs.testers.runNixOSTest (pkgs/build-support/testers/default.nix), which evaluates
# its argument as a test module with nixos/lib's runTest (nixos/lib/testing/*.nix):
#
#   options   the test module's top-level options; defining another one is an error, as in
#             the module system ("The option `x' does not exist."); name, nodes, testScript
#             and globalTimeout are type-checked (name.nix, nodes.nix, testScript.nix, driver.nix)
#   nodes     each evaluated as a NixOS node (./nixos.nix) with the host's pkgs
#             (runNixOSTest sets node.pkgs); numbered 1, 2, ... in the order of their names,
#             as network.nix's `nodeNumbers` does
#   driver    driver.nix: a derivation holding the testScript (config.testScriptString) and a
#             start script per node; passthru.driver
#   driverInteractive   interactive.nix: the same testScript with the REPL
#   test      run.nix: `vm-test-run-<name>`, requiredSystemFeatures nixos-test + kvm,
#             passthru { driver, driverInteractive, config } and meta
{ lib, pkgs }:

testModule:

let
  evalNode = import ./nixos.nix { inherit lib pkgs; };
  where = "the argument that was passed to pkgs.runNixOSTest";

  # Top-level options of a test (nixos/lib/testing/*.nix of the nixos-26.05 era: nodes.nix and
  # network.nix at 003d5816, driver.nix at 01fbdeef, driver-configuration.nix at 066e2231,
  # run.nix at 4c53d514, as docs/nix-api.md dates them).
  known = [
    "_file"
    "imports"
    "name"
    "nodes"
    "testScript"
    "globalTimeout"
    "meta"
    "passthru"
    "defaults"
    "extraBaseModules"
    "node"
    "hostPkgs"
    "interactive"
    "skipLint"
    "skipTypeCheck"
    "extraPythonPackages"
    "extraDriverArgs"
    "enableOCR"
    "qemu"
    "sshBackdoor"
    "includeTestScriptReferences"
    # nspawn containers and the rest of the 26.05 era
    "containers"
    "container"
    "containerDefaults"
    "nodeDefaults"
    "extraBaseNodeModules"
    "allMachines"
    "nodesCompat"
    "enableDebugHook"
    "logLevel"
    "pythonTestDriverPackage"
    "driverConfiguration"
    "driverConfigurationFile"
    "rawTestDerivation"
    "testScriptString"
    "driver"
    "test"
  ];
  test = if lib.isFunction testModule then testModule { inherit lib; hostPkgs = pkgs; } else testModule;
  unknown = builtins.filter (n: !builtins.elem n known) (builtins.attrNames test);
  check = cond: message: value: if cond then value else throw "${message} (in ${where})";

  name = check (builtins.isString (test.name or null)) "The option `name' is used but not defined, or is not a string" test.name;
  globalTimeout = check (builtins.isInt (test.globalTimeout or 3600)) "A definition for option `globalTimeout' is not of type `signed integer'" (test.globalTimeout or 3600);
  # driver.nix: skipTypeCheck, skipLint (types.bool, default false); extraPythonPackages
  # (types.functionTo (types.listOf types.package), default `ps: [ ]`), called with the host's
  # python3Packages by the driver package (its `extraPythonPackages python3Packages`).
  skipTypeCheck = check (builtins.isBool (test.skipTypeCheck or false)) "A definition for option `skipTypeCheck' is not of type `boolean'" (test.skipTypeCheck or false);
  skipLint = check (builtins.isBool (test.skipLint or false)) "A definition for option `skipLint' is not of type `boolean'" (test.skipLint or false);
  extraPythonPackages =
    let
      f = check (lib.isFunction (test.extraPythonPackages or (_: [ ]))) "A definition for option `extraPythonPackages' is not of type `function that evaluates to a(n) list of package'" (test.extraPythonPackages or (_: [ ]));
      packages = f pkgs.python3Packages;
    in
    check (builtins.isList packages && builtins.all lib.isDerivation packages)
      "A definition for option `extraPythonPackages' is not of type `function that evaluates to a(n) list of package'"
      packages;
  meta = test.meta or { };
  # nodes.nix: sshBackdoor.enable (types.bool, default false), vsockOffset (default 2);
  # driver.nix (26.05): enableDebugHook (types.bool, default false).
  sshBackdoor = {
    enable = check (builtins.isBool ((test.sshBackdoor or { }).enable or false)) "A definition for option `sshBackdoor.enable' is not of type `boolean'" ((test.sshBackdoor or { }).enable or false);
    vsockOffset = (test.sshBackdoor or { }).vsockOffset or 2;
  };
  enableDebugHook = check (builtins.isBool (test.enableDebugHook or false)) "A definition for option `enableDebugHook' is not of type `boolean'" (test.enableDebugHook or false);

  nodeModules = check (builtins.isAttrs (test.nodes or { }) && builtins.all (m: lib.isFunction m || builtins.isAttrs m) (builtins.attrValues (test.nodes or { })))
    "A definition for option `nodes' is not of type `lazy attribute set of module'"
    (test.nodes or { });
  nodeNames = builtins.attrNames nodeModules;
  # network.nix: nodeNumbers = listToAttrs (zipListsWith nameValuePair (attrNames nodes) (range 1 254))
  nodeNumbers = lib.listToAttrs (lib.zipListsWith lib.nameValuePair nodeNames (lib.range 1 254));
  nodes = builtins.mapAttrs
    (nodeName: module: evalNode {
      modules = [ module ] ++ lib.optional (test ? defaults) test.defaults;
      inherit nodeName;
      nodeNumber = nodeNumbers.${nodeName};
    })
    nodeModules;
  nodeConfigs = builtins.mapAttrs (_: n: n.config) nodes;

  # testScript.nix: a string, or a function of { nodes, ... } returning one.
  testScriptString =
    let s = test.testScript or (throw "The option `testScript' is used but not defined (in ${where})"); in
    if lib.isFunction s then s { nodes = nodeConfigs; }
    else check (builtins.isString s) "A definition for option `testScript' is not of type `string or function'" s;

  # driver.nix, pythonizeName: the first character stays if it matches [A-z_], the others if
  # they match [A-z0-9_]; anything else becomes "_".  theOnlyMachine: a test with exactly one
  # node also calls it `machine`, unless a machine's system.name (its host name) is "machine".
  pythonize = n:
    let
      chars = builtins.genList (i: builtins.substring i 1 n) (builtins.stringLength n);
      keep = re: c: if builtins.match re c == null then "_" else c;
    in
    builtins.concatStringsSep "" ([ (keep "[A-z_]" (builtins.head chars)) ] ++ map (keep "[A-z0-9_]") (builtins.tail chars));
  hostNames = map (n: n.config.networking.hostName) (builtins.attrValues nodes);
  machineNames = map pythonize (nodeNames ++ lib.optional (builtins.length nodeNames == 1 && !builtins.elem "machine" hostNames) "machine");
  vlans = builtins.foldl' (acc: v: if builtins.elem v acc then acc else acc ++ [ v ]) [ ]
    (builtins.concatMap (n: n.config.virtualisation.vlans) (builtins.attrValues nodes));

  mkDriver = interactive: pkgs.runCommand "nixos-test-driver-${name}"
    {
      # driver.nix: mypy only when type-checking; the driver package with the extra packages.
      nativeBuildInputs = [ pkgs.makeWrapper ] ++ lib.optionals (!skipTypeCheck) [ pkgs.mypy ];
      buildInputs = extraPythonPackages;
      lint = if skipLint then "" else "1";
      testScript = testScriptString;
      startScripts = map (n: n.toplevel) (builtins.attrValues nodes);
      vlans = map toString vlans;
      inherit globalTimeout;
      interactive = if interactive then "1" else "";
      machineNames = machineNames;
      passthru = { inherit testScriptString; };
    } "mkdir -p $out/bin";

  driver = mkDriver false;
  driverInteractive = mkDriver true;

  config = {
    inherit name globalTimeout meta driver testScriptString skipTypeCheck skipLint;
    inherit sshBackdoor enableDebugHook;
    extraPythonPackages = _: extraPythonPackages;
    nodes = nodeConfigs;
    nodesEvaluated = nodes;
    testScript = test.testScript;
  };
in
if unknown != [ ] then
  throw "The option `${builtins.head unknown}' does not exist. Definition values:\n- In `${where}'"
else
  pkgs.stdenv.mkDerivation {
    name = "vm-test-run-${name}";
    requiredSystemFeatures = [ "nixos-test" "kvm" ];
    buildCommand = ''
      mkdir -p $out
      export LOGFILE=/dev/null
      ${driver}/bin/nixos-test-driver -o $out
    '';
    passthru = { inherit driver driverInteractive config; };
    inherit meta;
  }
