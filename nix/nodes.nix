# Node descriptions (testscripts/tests.toml) -> normalised test model.
#
# Builtins only, no nixpkgs: `nix-instantiate --eval --strict --json` evaluates it on any machine,
# and tests/test_nix.py compares its output with printerfact.nodes.to_json_model, so the Nix path
# and the portable runner cannot drift apart.  nix/nixos-node.nix turns one node of this model
# into a NixOS configuration.
#
# Argument: the path of the TOML file, or its already parsed contents (an attrset).
# Result: { <test> = { script = "<file name>"; nodes = { <node> = { ... }; }; hosts = { ... }; }; }
input:

let
  data = if builtins.isAttrs input then input else builtins.fromTOML (builtins.readFile input);

  nodeKeys = [ "module_at_boot" "services" "vlans" "memory_mb" "cpus" "users" "packages" ];
  # Extra commands a node may ask for: nix/nixos-node.nix puts nixpkgs' package of that name on
  # PATH (busybox: only bin/busybox); src/printerfact/build/packages.py knows the same names.
  knownPackages = [ "busybox" "stress-ng" "trinity" ];
  isName = s: builtins.isString s && builtins.match "[a-z][a-z0-9-]*" s != null;
  all = pred: builtins.foldl' (acc: x: acc && pred x) true;
  subtract = xs: ys: builtins.filter (x: !builtins.elem x ys) xs;

  check = cond: message: value: if cond then value else throw "tests.toml: ${message}";

  strList = where: value:
    check (builtins.isList value && all builtins.isString value) "${where} must be a list of strings" value;

  intList = where: value:
    check (builtins.isList value && all builtins.isInt value) "${where} must be a list of integers" value;

  positiveInt = where: value:
    check (builtins.isInt value && value > 0) "${where} must be a positive integer" value;

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
    check (isName name) "${where}: node name \"${name}\" must match [a-z][a-z0-9-]*"
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
              }))));

  mkTest = testName: raw:
    let
      where = "tests.${testName}";
      rawNodes = raw.nodes or { };
      numbers = nodeNumbers rawNodes;
      nodes = builtins.mapAttrs (name: mkNode "${where}.nodes.${name}" numbers.${name} name) rawNodes;
    in
    check (rawNodes != { }) "${where}: a test needs at least one node" {
      script = raw.script or "${testName}.py";
      inherit nodes;
      # name -> address on the node's first VLAN (the /etc/hosts entry the framework writes).
      hosts = builtins.mapAttrs (_: node: builtins.head node.addresses)
        (builtins.removeAttrs nodes (builtins.filter (n: nodes.${n}.vlans == [ ]) (builtins.attrNames nodes)));
    };
in
builtins.mapAttrs mkTest (data.tests or { })
