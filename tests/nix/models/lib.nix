# A model of the part of nixpkgs' `lib` the project's Nix (and the other models) use.
#
# Each function behaves as its nixpkgs definition (nixpkgs of mid-2025, nixos-25.05), cited by
# file and name; most are the nixpkgs logic restated, not simplified.  Where a model is
# smaller than the real thing the comment says what it leaves out.  Builtins only.
let
  lib = {
    # --- lib/trivial.nix --------------------------------------------------------------------
    # isFunction, functionArgs, setFunctionArgs, mirrorFunctionArgs, toFunction.
    isFunction = f: builtins.isFunction f || (f ? __functor && lib.isFunction (f.__functor f));
    functionArgs = f:
      if f ? __functor then f.__functionArgs or (lib.functionArgs (f.__functor f))
      else builtins.functionArgs f;
    setFunctionArgs = f: args: { __functor = _: f; __functionArgs = args; };
    mirrorFunctionArgs = f: let fArgs = lib.functionArgs f; in g: lib.setFunctionArgs g fArgs;
    toFunction = v: if lib.isFunction v then v else _: v;

    # --- lib/customisation.nix --------------------------------------------------------------
    # makeOverridable: `override` calls `f` again with the original arguments updated.  `f`
    # is applied to the arguments as they are, so Nix itself rejects an argument `f` does not
    # declare ("called with unexpected argument"), as with the real function.
    makeOverridable = f:
      let mirrorArgs = lib.mirrorFunctionArgs f; in
      mirrorArgs (origArgs:
        let
          result = f origArgs;
          overrideWith = newArgs: origArgs // (if lib.isFunction newArgs then newArgs origArgs else newArgs);
          overrideArgs = mirrorArgs (newArgs: lib.makeOverridable f (overrideWith newArgs));
          overrideResult = g: lib.makeOverridable (mirrorArgs (args: g (f args))) origArgs;
        in
        if builtins.isAttrs result then
          result // {
            override = overrideArgs;
            ${if result ? overrideAttrs then "overrideAttrs" else null} =
              fdrv: overrideResult (x: x.overrideAttrs fdrv);
          }
        else if lib.isFunction result then
          lib.setFunctionArgs result (lib.functionArgs result) // { override = overrideArgs; }
        else result);
    # (overrideDerivation is left out: nothing here uses it.)

    # callPackageWith: arguments the function declares are taken from autoArgs, explicit ones
    # win; a required argument found nowhere aborts with nixpkgs' message (without the
    # "did you mean" suggestions).
    callPackageWith = autoArgs: fn: args:
      let
        f = if lib.isFunction fn then fn else import fn;
        fargs = lib.functionArgs f;
        allArgs = builtins.intersectAttrs fargs autoArgs // args;
        missingArgs = lib.filterAttrs (_: hasDefault: !hasDefault) (removeAttrs fargs (builtins.attrNames allArgs));
        arg = builtins.head (builtins.attrNames missingArgs);
        loc = builtins.unsafeGetAttrPos arg fargs;
        where = if loc != null then "${loc.file}:${toString loc.line}" else "<unknown location>";
      in
      if missingArgs == { } then lib.makeOverridable f allArgs
      else abort "lib.customisation.callPackageWith: Function called without required argument \"${arg}\" at ${where}";

    # --- lib/fixed-points.nix ---------------------------------------------------------------
    fix' = f: let x = f x // { __unfix__ = f; }; in x;
    extends = overlay: f: (final: let prev = f final; in prev // overlay final prev);
    makeExtensibleWithCustomName = extenderName: rattrs:
      lib.fix' (self: (rattrs self) // {
        ${extenderName} = f: lib.makeExtensibleWithCustomName extenderName (lib.extends f rattrs);
      });
    makeExtensible = lib.makeExtensibleWithCustomName "extend";

    # --- lib/attrsets.nix -------------------------------------------------------------------
    inherit (builtins) mapAttrs listToAttrs attrNames attrValues intersectAttrs;
    nameValuePair = name: value: { inherit name value; };
    filterAttrs = pred: set:
      builtins.listToAttrs (builtins.concatMap
        (name: let v = set.${name}; in if pred name v then [{ inherit name; value = v; }] else [ ])
        (builtins.attrNames set));
    optionalAttrs = cond: as: if cond then as else { };
    recurseIntoAttrs = attrs: attrs // { recurseForDerivations = true; };
    isDerivation = value: value.type or null == "derivation";
    # recursiveUpdate = recursiveUpdateUntil (path: l: r: !(isAttrs l && isAttrs r)).
    recursiveUpdate = lhs: rhs:
      lhs // builtins.mapAttrs
        (name: r:
          if lhs ? ${name} && builtins.isAttrs lhs.${name} && builtins.isAttrs r
          then lib.recursiveUpdate lhs.${name} r
          else r)
        rhs;

    # --- lib/lists.nix ----------------------------------------------------------------------
    inherit (builtins) elem foldl' concatMap any all length head filter;
    optional = cond: elem: if cond then [ elem ] else [ ];
    optionals = cond: elems: if cond then elems else [ ];
    imap0 = f: list: builtins.genList (n: f n (builtins.elemAt list n)) (builtins.length list);
    range = first: last:
      if first > last then [ ] else builtins.genList (n: first + n) (last - first + 1);
    zipListsWith = f: fst: snd:
      builtins.genList (n: f (builtins.elemAt fst n) (builtins.elemAt snd n))
        (if builtins.length fst < builtins.length snd then builtins.length fst else builtins.length snd);
    foldr = op: nul: list:
      let len = builtins.length list; fold' = n: if n == len then nul else op (builtins.elemAt list n) (fold' (n + 1));
      in fold' 0;
    flatten = x: if builtins.isList x then builtins.concatMap lib.flatten x else [ x ];

    # --- lib/strings.nix --------------------------------------------------------------------
    inherit (builtins) concatStringsSep;
    hasPrefix = pref: str: builtins.substring 0 (builtins.stringLength pref) str == pref;
    hasSuffix = suffix: content:
      let lenContent = builtins.stringLength content; lenSuffix = builtins.stringLength suffix;
      in lenContent >= lenSuffix && builtins.substring (lenContent - lenSuffix) lenContent content == suffix;
    concatMapStrings = f: list: builtins.concatStringsSep "" (map f list);

    # --- lib/versions.nix -------------------------------------------------------------------
    versions = {
      splitVersion = builtins.splitVersion;
      major = v: builtins.elemAt (builtins.splitVersion v) 0;
      majorMinor = v:
        let p = builtins.splitVersion v; in "${builtins.elemAt p 0}.${builtins.elemAt p 1}";
      # "6.12" -> "6.12.0"; a "-rc1" suffix is kept.
      pad = n: version:
        let
          parts = builtins.match "([^-]*)(.*)" version;
          numericVersion = builtins.elemAt parts 0;
          versionSuffix = builtins.elemAt parts 1;
          components = builtins.splitVersion numericVersion;
          c = builtins.length components;
        in
        builtins.concatStringsSep "."
          (
            if c >= n then builtins.genList (i: builtins.elemAt components i) n
            else components ++ builtins.genList (_: "0") (n - c)
          ) + versionSuffix;
    };
    # lib/strings.nix
    versionOlder = v1: v2: builtins.compareVersions v2 v1 == 1;
    versionAtLeast = v1: v2: !lib.versionOlder v1 v2;

    # --- lib/meta.nix -----------------------------------------------------------------------
    # getExe': asserts a derivation and a plain program name, as nixpkgs does.
    getExe' = x: y:
      assert lib.assertMsg (lib.isDerivation x) "lib.meta.getExe': The first argument is of type ${builtins.typeOf x}, but it should be a derivation instead.";
      assert lib.assertMsg (builtins.isString y) "lib.meta.getExe': The second argument is of type ${builtins.typeOf y}, but it should be a string instead.";
      assert lib.assertMsg (builtins.match ".*/.*" y == null) "lib.meta.getExe': The second argument \"${y}\" is a nested path with a \"/\" character, but it should just be the name of the executable instead.";
      "${x.bin or x}/bin/${y}";
    # lib/asserts.nix
    assertMsg = pred: msg: pred || builtins.throw msg;

    # --- lib/kernel.nix ---------------------------------------------------------------------
    kernel = {
      option = x: x // { optional = true; };
      yes = { tristate = "y"; optional = false; };
      no = { tristate = "n"; optional = false; };
      module = { tristate = "m"; optional = false; };
      unset = { tristate = null; optional = false; };
      freeform = x: { freeform = x; optional = false; };
    };

    # --- lib/modules.nix --------------------------------------------------------------------
    mkOverride = priority: content: { _type = "override"; inherit priority content; };
    mkForce = lib.mkOverride 50;
    mkDefault = lib.mkOverride 1000;
    mkOptionDefault = lib.mkOverride 1500;
    mkIf = condition: content: { _type = "if"; inherit condition content; };

    # --- lib/licenses.nix (the one license used) ---------------------------------------------
    licenses.gpl2Only = { spdxId = "GPL-2.0-only"; fullName = "GNU General Public License v2.0 only"; free = true; };

    # --- lib/sources.nix --------------------------------------------------------------------
    # cleanSource = cleanSourceWith { filter = cleanSourceFilter; src }: drops VCS directories,
    # editor backups, *.o, *.so, result* symlinks; keeps everything else.
    cleanSourceFilter = name: type:
      let baseName = baseNameOf (toString name); in
        !((baseName == ".git" || type == "directory" && (baseName == ".svn" || baseName == "CVS" || baseName == ".hg"))
          || lib.hasSuffix "~" baseName
          || builtins.match "^\\.sw[a-z]$" baseName != null
          || builtins.match "^\\..*\\.sw[a-z]$" baseName != null
          || lib.hasSuffix ".o" baseName
          || lib.hasSuffix ".so" baseName
          || (type == "symlink" && lib.hasPrefix "result" baseName)
          || type == "unknown");
    cleanSource = src: builtins.path { name = "source"; path = src; filter = lib.cleanSourceFilter; };

    # --- lib/fileset --------------------------------------------------------------------------
    # A file set is modelled as { _type = "fileset"; contains = pathString: type: bool; roots }.
    # toSource imports `root` filtered to the set with builtins.path, named "source", as the
    # real toSource does, so the store path (hence the hash) depends only on the files in the
    # set.  Left out: the real checks of file sets that cross filesystem roots.
    fileset =
      let
        inside = base: p: p == base || lib.hasPrefix (base + "/") p;
        coerce = where: x:
          if x._type or null == "fileset" then x
          else if builtins.isPath x then
            (if builtins.pathExists x then {
              _type = "fileset";
              roots = [ (toString x) ];
              contains = p: _: inside (toString x) p;
            }
            else throw "lib.fileset.${where}: Element ${toString x} is a path that does not exist.")
          else throw "lib.fileset.${where}: Element is of type ${builtins.typeOf x}, but it should be a file set or a path instead.";
      in
      {
        unions = list:
          let sets = map (lib.fileset.coerceTo "unions") list; in
          {
            _type = "fileset";
            roots = builtins.concatMap (s: s.roots) sets;
            contains = p: t: builtins.any (s: s.contains p t) sets;
          };
        fileFilter = predicate: path:
          assert lib.assertMsg (builtins.isPath path) "lib.fileset.fileFilter: Second argument is of type ${builtins.typeOf path}, but it should be a path instead.";
          {
            _type = "fileset";
            roots = [ (toString path) ];
            contains = p: t:
              inside (toString path) p && t != "directory"
              && predicate {
                name = baseNameOf p;
                type = t;
                hasExt = ext: lib.hasSuffix ".${ext}" (baseNameOf p);
              };
          };
        toSource = { root, fileset }:
          let set = coerce "toSource" fileset; rootStr = toString root; in
          assert lib.assertMsg (builtins.isPath root) "lib.fileset.toSource: `root` is of type ${builtins.typeOf root}, but it should be a path instead.";
          assert lib.assertMsg (builtins.all (r: inside rootStr r) set.roots) "lib.fileset.toSource: `fileset` contains a file that cannot be added to the store, because it's not in the `root` ${rootStr}.";
          builtins.path {
            name = "source";
            path = root;
            # A directory is kept if it can hold a file of the set (no empty directories in
            # the model's tree would make a difference to kbuild).
            filter = p: t:
              if t == "directory" then builtins.any (r: inside p r || inside r p) set.roots
              else set.contains p t;
          };
        coerceTo = coerce;
      };
  };
in
lib
