# Model of evaluating one node of a NixOS test (nixos/lib/eval-config.nix, lib/modules.nix)
# for the options the project's node module (nix/nixos-node.nix) sets or reads:
#
# - module evaluation as lib/modules.nix does it: a module is an attrset or a function of
#   { config, lib, pkgs, name, ... }; a definition of an option nobody declared is an error
#   ("The option `x' does not exist."); definitions are checked against the option's type and
#   merged by priority (mkForce 50, plain 100, mkDefault 1000, option default 1500) and type
#   (lists concatenate, lines join, attrsOf merges by name, a unique value must be defined
#   once, others must agree); `apply` transforms the merged value; a readOnly option cannot
#   be defined beside its default.
# - the NixOS modules that give these options their meaning, cited where they are declared:
#     nixos/modules/system/boot/kernel.nix       boot.kernelPackages: default pkgs.linuxPackages
#                                                and the `apply` that overrides its kernel
#     nixos/modules/virtualisation/qemu-vm.nix   vlans, memorySize, cores; interfaces eth1, eth2, ...
#     nixos/lib/testing/network.nix              nodeNumber, addresses, hostName default
#     nixos/modules/system/activation/top-level.nix   failed assertions stop the build
#   and, for their option types only: system/etc/etc.nix, config/users-groups.nix,
#   system/boot/systemd.nix, config/system-path.nix, services/networking/firewall.nix,
#   tasks/network-interfaces.nix, misc/assertions.nix.
{ lib, pkgs }:

{ modules, nodeName, nodeNumber }:

let
  inherit (builtins) all attrNames concatMap elem filter foldl' head isAttrs isBool isInt
    isList isString length match toJSON;

  showLoc = loc: builtins.concatStringsSep "." loc;
  uniqueList = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];

  # --- types (lib/types.nix) -----------------------------------------------------------------
  mergeEqual = loc: defs:
    let first = (head defs).value; in
    if all (d: d.value == first) defs then first
    else throw "The option `${showLoc loc}' has conflicting definition values: ${toJSON (map (d: d.value) defs)}";
  mergeOne = loc: defs:
    if length defs == 1 then (head defs).value
    else throw "The option `${showLoc loc}' is defined multiple times while it's expected to be unique.";
  mkType = name: check: merge: { inherit name check merge; };
  types = rec {
    bool = mkType "boolean" isBool mergeEqual;
    int = mkType "signed integer" isInt mergeEqual;
    unsigned = mkType "unsigned integer, meaning >=0" (x: isInt x && x >= 0) mergeEqual;
    positive = mkType "positive integer, meaning >0" (x: isInt x && x > 0) mergeEqual;
    str = mkType "string" isString mergeEqual;
    lines = mkType "strings concatenated with \"\\n\"" isString
      (_: defs: builtins.concatStringsSep "\n" (map (d: d.value) defs));
    strMatching = re: mkType "string matching the pattern ${re}" (x: isString x && match re x != null) mergeEqual;
    path = mkType "absolute path" (x: builtins.isPath x || (isString x && lib.hasPrefix "/" x) || lib.isDerivation x) mergeEqual;
    # types.package: a derivation (or store path), merged with mergeOneOption.
    package = mkType "package" lib.isDerivation mergeOne;
    raw = mkType "raw value" (_: true) mergeOne;
    attrs = mkType "attribute set" isAttrs (_: defs: foldl' (acc: d: acc // d.value) { } defs);
    nullOr = t: mkType "null or ${t.name}" (x: x == null || t.check x)
      (loc: defs: let set = filter (d: d.value != null) defs; in if set == [ ] then null else t.merge loc set);
    either = a: b: mkType "${a.name} or ${b.name}" (x: a.check x || b.check x)
      (loc: defs: if all (d: a.check d.value) defs then a.merge loc defs else mergeEqual loc defs);
    # An entry is named "[definition D-entry E]" (lib/types.nix, listOf), quoted by showOption.
    listOf = t: mkType "list of ${t.name}" isList (loc: defs:
      builtins.concatLists (lib.imap0
        (di: d: lib.imap0
          (i: x:
            if t.check x then x
            else throw "A definition for option `${showLoc loc}.\"[definition ${toString (di + 1)}-entry ${toString (i + 1)}]\"' is not of type `${t.name}'. Definition value: ${toJSON x}")
          d.value)
        defs));
  };

  # --- options ---------------------------------------------------------------------------------
  option = type: extra: { _option = true; inherit type; } // extra;
  attrsOfSubmodule = decls: { _attrsOf = decls; };

  declarations = {
    assertions = option (types.listOf types.attrs) { default = [ ]; };
    boot = {
      kernelPackages = option types.raw {
        default = pkgs.linuxPackages;
        apply = kernelPackages: kernelPackages.extend (_: super: {
          kernel = super.kernel.override (originalArgs: {
            inherit (config.boot.kernel) randstructSeed;
            kernelPatches = (originalArgs.kernelPatches or [ ]) ++ config.boot.kernelPatches;
            features = lib.recursiveUpdate super.kernel.features config.boot.kernel.features;
          });
        });
      };
      kernelPatches = option (types.listOf types.attrs) { default = [ ]; };
      kernel = {
        features = option types.attrs { default = { }; };
        randstructSeed = option types.str { default = ""; };
      };
      extraModulePackages = option (types.listOf types.package) { default = [ ]; };
      kernelModules = option (types.listOf types.str) { default = [ ]; };
      kernelParams = option (types.listOf types.str) { default = [ ]; };
    };
    environment = {
      etc = attrsOfSubmodule {
        source = option types.path { };
        mode = option types.str { default = "symlink"; };
      };
      systemPackages = option (types.listOf types.package) { default = [ ]; };
    };
    networking = {
      hostName = option (types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$") { default = "nixos"; };
      firewall.enable = option types.bool { default = true; };
      interfaces = option types.attrs { default = { }; };
      primaryIPAddress = option types.str { default = ""; };
    };
    virtualisation = {
      vlans = option (types.listOf types.unsigned) { default = [ 1 ]; };
      memorySize = option types.positive { default = 1024; };
      cores = option types.positive { default = 1; };
      test = {
        nodeName = option types.str { default = nodeName; };
        nodeNumber = option types.int { default = nodeNumber; readOnly = true; };
      };
    };
    users.users = attrsOfSubmodule {
      isNormalUser = option types.bool { default = false; };
      uid = option (types.nullOr types.int) { default = null; };
    };
    systemd.services = attrsOfSubmodule {
      wantedBy = option (types.listOf types.str) { default = [ ]; };
      path = option (types.listOf (types.either types.package types.str)) { default = [ ]; };
      script = option types.lines { default = ""; };
    };
  };

  # --- NixOS's own modules ---------------------------------------------------------------------
  # nixos/modules/virtualisation/qemu-vm.nix (allInterfaces) + nixos/lib/testing/network.nix
  # (networkModule): one interface per VLAN, eth1, eth2, ...; address 192.168.<vlan>.<node
  # number>; the primary address is that of the first interface by name.
  networkModule = { config, ... }:
    let
      interfaces = lib.zipListsWith
        (vlan: i: { name = "eth${toString i}"; inherit vlan; })
        config.virtualisation.vlans
        (lib.range 1 255);
      addressOf = i: "192.168.${toString i.vlan}.${toString config.virtualisation.test.nodeNumber}";
      byName = lib.listToAttrs (map (i: lib.nameValuePair i.name (addressOf i)) interfaces);
    in
    {
      networking.hostName = lib.mkDefault config.virtualisation.test.nodeName;
      networking.interfaces = byName;
      networking.primaryIPAddress = if interfaces == [ ] then "" else byName.${head (attrNames byName)};
    };

  # --- evaluation (lib/modules.nix) --------------------------------------------------------------
  moduleArgs = { inherit config lib pkgs; name = nodeName; options = { }; modulesPath = "<model>/nixos/modules"; };
  applyModule = m:
    if lib.isFunction m then m (builtins.intersectAttrs (lib.functionArgs m) moduleArgs) else m;
  # lib/modules.nix hands an option its definitions in the reverse of the modules' order (read
  # with the real lib.evalModules: list definitions [ 2 ] then [ 3 ] merge to [ 3 2 ]).
  definitions = lib.reverseList (map applyModule (modules ++ [ networkModule ]));

  unwrapIf = d: if d._type or null == "if" then (if d.condition then unwrapIf d.content else [ ]) else [ d ];
  priority = d: if d._type or null == "override" then d.priority else 100;
  strip = d: if d._type or null == "override" then strip d.content else d;

  evalOption = loc: opt: defs:
    let
      given = concatMap unwrapIf defs;
      all' = given ++ lib.optional (opt ? default) (lib.mkOptionDefault opt.default);
      best = foldl' (a: b: if a < b then a else b) 2000 (map priority all');
      top = map (d: { value = strip d; }) (filter (d: priority d == best) all');
      checked = map
        (d:
          if opt.type.check d.value then d
          else throw "A definition for option `${showLoc loc}' is not of type `${opt.type.name}'. Definition value: ${toJSON d.value}")
        top;
      merged =
        if all' == [ ] then throw "The option `${showLoc loc}' is used but not defined."
        else if opt.readOnly or false && length all' > 1 then throw "The option `${showLoc loc}' is read-only, but it's set multiple times."
        else opt.type.merge loc checked;
    in
    (opt.apply or (x: x)) merged;

  evalDecls = loc: decls: defs:
    let
      given = concatMap unwrapIf defs;
      undeclared = filter (n: !(decls ? ${n})) (uniqueList (concatMap attrNames given));
      sub = name: concatMap (d: lib.optional (d ? ${name}) d.${name}) given;
    in
    if undeclared != [ ] then throw "The option `${showLoc (loc ++ [ (head undeclared) ])}' does not exist."
    else
      builtins.mapAttrs
        (name: decl:
          if decl._option or false then evalOption (loc ++ [ name ]) decl (sub name)
          else if decl ? _attrsOf then
            let entries = concatMap unwrapIf (sub name); in
            lib.listToAttrs (map
              (entry: lib.nameValuePair entry
                (evalDecls (loc ++ [ name entry ]) decl._attrsOf
                  (concatMap (d: lib.optional (d ? ${entry}) d.${entry}) entries)))
              (uniqueList (concatMap attrNames entries)))
          else evalDecls (loc ++ [ name ]) decl (sub name))
        decls;

  config = evalDecls [ ] declarations definitions;

  # nixos/modules/system/activation/top-level.nix: the system is not built while an assertion
  # fails.  The toplevel stands in for the whole system (and for system.build.vm).
  failed = map (a: a.message) (filter (a: !a.assertion) config.assertions);
  toplevel =
    if failed != [ ] then
      throw "\nFailed assertions:\n${lib.concatMapStrings (m: "- ${m}\n") failed}"
    else
      pkgs.stdenv.mkDerivation {
        name = "nixos-system-${config.networking.hostName}";
        # nixos/modules/system/boot/kernel.nix: system.build.kernel and system.modulesTree.
        kernel = config.boot.kernelPackages.kernel;
        modulesTree = [ config.boot.kernelPackages.kernel ] ++ config.boot.extraModulePackages;
        kernelModules = config.boot.kernelModules;
        systemPackages = config.environment.systemPackages;
        etc = map (name: config.environment.etc.${name}.source) (attrNames config.environment.etc);
        servicePaths = concatMap (s: s.path) (builtins.attrValues config.systemd.services);
      };
in
{
  inherit config toplevel;
}
