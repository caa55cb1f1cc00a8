# A model of the part of nixpkgs' `lib` the project's Nix (and the other models) use.
#
# Each function behaves as its nixpkgs definition (nixos-26.05; checked against nixpkgs' real lib
# of 2026, evaluated with the same probes, see docs/nix-api.md), cited by
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
            overrideDerivation = fdrv: overrideResult (x: lib.overrideDerivation x fdrv);
            ${if result ? overrideAttrs then "overrideAttrs" else null} =
              fdrv: overrideResult (x: x.overrideAttrs fdrv);
          }
        else if lib.isFunction result then
          lib.setFunctionArgs result (lib.functionArgs result) // { override = overrideArgs; }
        else result);
    # overrideDerivation: a derivation from the old one's attributes updated by `f`, keeping
    # `meta` (smaller than nixpkgs': no passthru, no warning).  Nothing here calls it; it is
    # there because the real makeOverridable offers it, so attribute names match.
    overrideDerivation = drv: f: derivation (drv.drvAttrs // f drv) // { meta = drv.meta or { }; };

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
    reverseList = xs: let l = builtins.length xs; in builtins.genList (n: builtins.elemAt xs (l - n - 1)) l;

    # --- lib/strings.nix --------------------------------------------------------------------
    inherit (builtins) concatStringsSep;
    hasPrefix = pref: str: builtins.substring 0 (builtins.stringLength pref) str == pref;
    hasSuffix = suffix: content:
      let lenContent = builtins.stringLength content; lenSuffix = builtins.stringLength suffix;
      in lenContent >= lenSuffix && builtins.substring (lenContent - lenSuffix) lenContent content == suffix;
    concatMapStrings = f: list: builtins.concatStringsSep "" (map f list);
    lowerChars = lib.stringToCharacters "abcdefghijklmnopqrstuvwxyz";
    upperChars = lib.stringToCharacters "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    stringToCharacters = s: builtins.genList (p: builtins.substring p 1 s) (builtins.stringLength s);
    toLower = builtins.replaceStrings lib.upperChars lib.lowerChars;

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
    # A file set is modelled as { _type = "fileset"; contains = pathString: type: bool; bases },
    # `bases` the directories it can hold files in (a path's own directory, or its parent for a
    # file, as lib/fileset/internal.nix's base path).  toSource imports `root` filtered to the
    # set with builtins.path, named "source", as the real toSource does: files in the set, and
    # the directories on the way to them, no empty directories, so the store path (hence the
    # hash) depends only on the files in the set.  Checked against the real lib (2026): the same
    # store paths, and the error messages below are the real ones.  Left out: file sets that
    # cross filesystem roots, `difference`, `intersection`, `maybeMissing`, and more.
    fileset =
      let
        inside = base: p: p == base || lib.hasPrefix (base + "/") p;
        coerce = where: element: x:
          if x._type or null == "fileset" then x
          else if builtins.isPath x then
            (if builtins.pathExists x then
              let
                s = toString x;
                isDir = builtins.pathExists (s + "/.");
              in
              {
                _type = "fileset";
                bases = [ (if isDir then s else dirOf s) ];
                contains = p: _: inside s p;
              }
            else throw "lib.fileset.${where}: ${element} (${toString x}) is a path that does not exist.")
          else throw "lib.fileset.${where}: ${element} is of type ${builtins.typeOf x}, but it should be a file set or a path instead.";
      in
      {
        unions = list:
          let sets = lib.imap0 (i: lib.fileset.coerceTo "unions" "Element ${toString i}") list; in
          {
            _type = "fileset";
            bases = builtins.concatMap (s: s.bases) sets;
            contains = p: t: builtins.any (s: s.contains p t) sets;
          };
        fileFilter = predicate: path:
          assert lib.assertMsg (builtins.isPath path) "lib.fileset.fileFilter: Second argument is of type ${builtins.typeOf path}, but it should be a path instead.";
          {
            _type = "fileset";
            bases = [ (toString path) ];
            contains = p: t:
              inside (toString path) p && t != "directory"
              && predicate {
                name = baseNameOf p;
                type = t;
                hasExt = ext: lib.hasSuffix ".${ext}" (baseNameOf p);
              };
          };
        toSource = { root, fileset }:
          let
            set = coerce "toSource" "`fileset`" fileset;
            rootStr = toString root;
            outside = builtins.filter (b: !inside rootStr b) set.bases;
            # A directory is kept when it holds a file of the set (recursively).
            holds = dir: builtins.any
              (name:
                let p = "${dir}/${name}"; t = (builtins.readDir dir).${name}; in
                if t == "directory" then holds p else set.contains p t)
              (builtins.attrNames (builtins.readDir dir));
          in
          assert lib.assertMsg (builtins.isPath root) "lib.fileset.toSource: `root` (${toString root}) is a ${if builtins.isString root then "string-like value" else builtins.typeOf root}, but it should be a path instead.";
          assert lib.assertMsg (outside == [ ]) "lib.fileset.toSource: `fileset` could contain files in ${builtins.head outside}, which is not under the `root` (${rootStr}). Potential solutions:";
          builtins.path {
            name = "source";
            path = root;
            filter = p: t: if t == "directory" then holds p else set.contains p t;
          };
        coerceTo = coerce;
      };
  };
in
lib
