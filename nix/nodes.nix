# Node descriptions (testscripts/tests.toml) -> normalised test model.
#
# Builtins only, no nixpkgs: `nix-instantiate --eval --strict --json` evaluates it on any machine,
# and tests/nix/test_nix_files.py compares its output with printerfact.nodes.to_json_model, so
# the Nix path and the portable runner cannot drift apart.  nix/nixos-node.nix turns one node of
# this model into a NixOS configuration; test.nix passes the test-level options to runNixOSTest.
#
# Argument: the path of the TOML file, or its already parsed contents (an attrset).
# Result: { <test> = {
#   script = "<file name>";
#   nodes = { <node> = { module_at_boot, services, vlans, memory_mb, cpus, users, packages,
#                        addresses, hostname, python_name }; };
#   hosts = { <node> = "<address on its first VLAN>"; };
#   globalTimeout, skipTypeCheck, skipLint, extraPythonPackages,    # runNixOSTest's own names
#   sshBackdoor, enableDebugHook;                                   # (sshBackdoor.enable)
# }; }
#
# Node names are what nixpkgs accepts (nixos/lib/testing/): any attribute name, from which the
# driver derives the testScript variable (driver.nix, pythonizeName) and NixOS the host name
# (network.nix: networking.hostName = mkDefault virtualisation.test.nodeName, the attribute
# name).  So a name must be a valid networking.hostName (network-interfaces.nix: strMatching
# "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$", empty aside), or the node does not
# evaluate; and its pythonized form must be a Python identifier that is no keyword and no other
# node's, or the testScript cannot name it.  `a-b` is `a_b` in the script, `1x` is `_x`.
input:

let
  data = if builtins.isAttrs input then input else builtins.fromTOML (builtins.readFile input);

  testKeys = [
    "script"
    "nodes"
    "globalTimeout"
    "skipTypeCheck"
    "skipLint"
    "extraPythonPackages"
    "sshBackdoor"
    "enableDebugHook"
  ];
  nodeKeys = [ "module_at_boot" "services" "vlans" "memory_mb" "cpus" "users" "packages" ];
  # Extra commands a node may ask for: nix/nixos-node.nix puts nixpkgs' package of that name on
  # PATH (busybox: only bin/busybox); src/printerfact/image/packages.py knows the same names.
  knownPackages = [ "busybox" "stress-ng" "trinity" ];
  isName = s: builtins.isString s && builtins.match "[a-z][a-z0-9-]*" s != null;

  # nixos/modules/tasks/network-interfaces.nix, networking.hostName's type.
  isHostName = s: builtins.match "[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?" s != null;

  # nixos/lib/testing/driver.nix, pythonizeName: the first character is kept if it matches
  # [A-z_], the others if they match [A-z0-9_]; anything else becomes "_".  (The driver's own
  # pythonize_name, driver.py, is the same rule.)
  pythonize = name:
    let
      chars = builtins.genList (i: builtins.substring i 1 name) (builtins.stringLength name);
      keep = re: c: if builtins.match re c == null then "_" else c;
    in
    if chars == [ ] then "" else
    builtins.concatStringsSep "" (
      [ (keep "[A-z_]" (builtins.head chars)) ] ++ map (keep "[A-z0-9_]") (builtins.tail chars)
    );

  # Python 3's keywords (keyword.kwlist): no variable can have these names.
  pythonKeywords = [
    "False"
    "None"
    "True"
    "and"
    "as"
    "assert"
    "async"
    "await"
    "break"
    "class"
    "continue"
    "def"
    "del"
    "elif"
    "else"
    "except"
    "finally"
    "for"
    "from"
    "global"
    "if"
    "import"
    "in"
    "is"
    "lambda"
    "nonlocal"
    "not"
    "or"
    "pass"
    "raise"
    "return"
    "try"
    "while"
    "with"
    "yield"
  ];

  # PEP 508 project names (what extraPythonPackages lists; test.nix maps them to nixpkgs).
  isProjectName = s: builtins.isString s
    && builtins.match "[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?" s != null;
  all = pred: builtins.foldl' (acc: x: acc && pred x) true;
  subtract = xs: ys: builtins.filter (x: !builtins.elem x ys) xs;

  check = cond: message: value: if cond then value else throw "tests.toml: ${message}";

  strList = where: value:
    check (builtins.isList value && all builtins.isString value) "${where} must be a list of strings" value;

  intList = where: value:
    check (builtins.isList value && all builtins.isInt value) "${where} must be a list of integers" value;

  positiveInt = where: value:
    check (builtins.isInt value && value > 0) "${where} must be a positive integer" value;

  bool = where: value: check (builtins.isBool value) "${where} must be a boolean" value;

  # The NixOS test framework numbers nodes 1.. in alphabetical order over all nodes of a test
  # (nixos/lib/testing/network.nix); builtins.attrNames is already sorted.
  nodeNumbers = nodes:
    builtins.listToAttrs (builtins.genList
      (i: { name = builtins.elemAt (builtins.attrNames nodes) i; value = i + 1; })
      (builtins.length (builtins.attrNames nodes)));

  address = number: vlan: "192.168.${toString vlan}.${toString number}";

  mkNode = where: number: name: raw:
    let
      unknown = subtract (builtins.attrNames raw) nodeKeys;
      services = raw.services or { };
      packages = strList "${where}.packages" (raw.packages or [ ]);
      badPackages = subtract packages knownPackages;
      vlans = intList "${where}.vlans" (raw.vlans or [ 1 ]);
    in
    check (isHostName name) "${where}: node name \"${name}\" must be a host name (letters, digits, '-' and '_', 63 at most, starting and ending with a letter or digit): NixOS names the node after it"
      (check (!builtins.elem (pythonize name) pythonKeywords) "${where}: node name \"${name}\" is the Python keyword ${pythonize name}: the testScript could not name the node"
        (check (unknown == [ ]) "${where}: unknown keys ${builtins.toJSON unknown}"
          (check
            (builtins.isAttrs services
              && all isName (builtins.attrNames services)
              && all builtins.isString (builtins.attrValues services))
            "${where}: services must map names to command strings"
            (check (badPackages == [ ]) "${where}: unknown packages ${builtins.toJSON badPackages}; known: ${builtins.toJSON knownPackages}"
              (check (all (v: v >= 1 && v <= 254) vlans) "${where}: VLAN numbers must be 1..254"
                {
                  module_at_boot = check (builtins.isBool (raw.module_at_boot or true))
                    "${where}.module_at_boot must be a boolean"
                    (raw.module_at_boot or true);
                  inherit services packages vlans;
                  memory_mb = positiveInt "${where}.memory_mb" (raw.memory_mb or 1024);
                  cpus = positiveInt "${where}.cpus" (raw.cpus or 1);
                  users = strList "${where}.users" (raw.users or [ ]);
                  addresses = map (address number) vlans;
                  hostname = name;
                  python_name = pythonize name;
                })))));

  mkTest = testName: raw:
    let
      where = "tests.${testName}";
      unknown = subtract (builtins.attrNames raw) testKeys;
      rawNodes = check (builtins.isAttrs (raw.nodes or { })) "${where}.nodes must be a table of nodes" (raw.nodes or { });
      numbers = nodeNumbers rawNodes;
      nodes = builtins.mapAttrs (name: mkNode "${where}.nodes.${name}" numbers.${name} name) rawNodes;
      # Two nodes the testScript would know by the same name (`a-b` and `a_b`).
      pythonNames = map pythonize (builtins.attrNames rawNodes);
      clashes = builtins.filter (n: builtins.length (builtins.filter (m: m == n) pythonNames) > 1) pythonNames;
      extraPythonPackages = strList "${where}.extraPythonPackages" (raw.extraPythonPackages or [ ]);
      badProjects = builtins.filter (n: !isProjectName n) extraPythonPackages;
    in
    check (unknown == [ ]) "${where}: unknown keys ${builtins.toJSON unknown}; known: ${builtins.toJSON testKeys}"
      (check (clashes == [ ]) "${where}: nodes ${builtins.toJSON (builtins.filter (n: builtins.elem (pythonize n) clashes) (builtins.attrNames rawNodes))} are all ${builtins.head clashes} in the testScript"
        (check (badProjects == [ ]) "${where}.extraPythonPackages: ${builtins.toJSON badProjects} are not Python project names"
          {
            script = raw.script or "${testName}.py";
            inherit nodes extraPythonPackages;
            # name -> address on the node's first VLAN (the /etc/hosts entry the framework writes).
            hosts = builtins.mapAttrs (_: node: builtins.head node.addresses)
              (builtins.removeAttrs nodes (builtins.filter (n: nodes.${n}.vlans == [ ]) (builtins.attrNames nodes)));
            # runNixOSTest's options, with its defaults (nixos/lib/testing/driver.nix).
            globalTimeout = positiveInt "${where}.globalTimeout" (raw.globalTimeout or 3600);
            skipTypeCheck = bool "${where}.skipTypeCheck" (raw.skipTypeCheck or false);
            skipLint = bool "${where}.skipLint" (raw.skipLint or false);
            # nixpkgs' ways into a test: sshBackdoor.enable (nodes.nix), enableDebugHook.
            sshBackdoor = bool "${where}.sshBackdoor" (raw.sshBackdoor or false);
            enableDebugHook = bool "${where}.enableDebugHook" (raw.enableDebugHook or false);
          }));
in
builtins.mapAttrs mkTest (data.tests or { })
