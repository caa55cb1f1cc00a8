# Loader for nix/sources.json, which niv maintains (`niv update linux -v 6.12.N`,
# `niv update nixpkgs -r <rev>`).  It behaves like the sources.nix that `niv init` generates:
#
#   import ./nix/sources.nix                  -> { nixpkgs = spec // { outPath }; linux = ...; }
#   import ./nix/sources.nix { sourcesFile = ./other.json; system = "x86_64-linux"; pkgs = ...; }
#
# - types "file" and "tarball" use builtins.fetchurl / builtins.fetchTarball with the pinned
#   sha256 (or pkgs.fetchurl / pkgs.fetchzip when the spec says `"builtin": false`), "git" uses
#   builtins.fetchGit, "local" takes `path` as is;
# - NIV_OVERRIDE_<name> (non-alphanumerics in <name> become "_") replaces a source by a local
#   path, absolute or relative to $PWD, without fetching it:
#     NIV_OVERRIDE_linux=$HOME/src/linux nix-build -A kernel
#
# One difference from niv's template: a "file" is stored under its URL's file name (as older niv
# templates did) instead of "<name>-src", so stdenv's unpackPhase recognises linux-*.tar.xz.
# Written by hand rather than copied from niv (so `niv init` would replace it; `niv update` and
# `niv add` edit only sources.json).  The hashes were not verified where this was written.
let
  inherit (builtins) getEnv hasAttr mapAttrs match substring toJSON;

  sanitizeName = name:
    builtins.concatStringsSep "-" (builtins.filter builtins.isString
      (builtins.split "[^[:alnum:]+._?=-]+" (builtins.head (match "\\.*(.*)" name))));

  fetchFileSpec = pkgs: spec:
    let name = sanitizeName (baseNameOf spec.url); in
    if spec.builtin or true
    then builtins.fetchurl { inherit name; inherit (spec) url sha256; }
    else pkgs.fetchurl { inherit name; inherit (spec) url sha256; };

  fetchTarballSpec = pkgs: name: spec:
    let name' = sanitizeName name + "-src"; in
    if spec.builtin or true
    then builtins.fetchTarball { name = name'; inherit (spec) url sha256; }
    else pkgs.fetchzip { name = name'; inherit (spec) url sha256; };

  fetchGitSpec = name: spec:
    let
      ref = spec.ref or (
        if spec ? branch then "refs/heads/${spec.branch}"
        else if spec ? tag then "refs/tags/${spec.tag}"
        else abort "In git source '${name}': Please specify `ref`, `tag` or `branch`!"
      );
    in
    builtins.fetchGit {
      url = spec.repo;
      inherit (spec) rev;
      inherit ref;
      submodules = spec.submodules or false;
    };

  fetch = pkgs: name: spec:
    if !hasAttr "type" spec then abort "ERROR: niv spec ${name} does not have a 'type' attribute"
    else if spec.type == "file" then fetchFileSpec pkgs spec
    else if spec.type == "tarball" then fetchTarballSpec pkgs name spec
    else if spec.type == "git" then fetchGitSpec name spec
    else if spec.type == "local" then spec.path
    else abort "ERROR: niv spec ${name} has unknown type ${toJSON spec.type}";

  # NIV_OVERRIDE_<name>: a local path instead of the pinned source.
  replace = name: fetched:
    let
      saneName = builtins.concatStringsSep ""
        (map (c: if match "[a-zA-Z0-9]" c == null then "_" else c)
          (builtins.genList (i: substring i 1 name) (builtins.stringLength name)));
      ersatz = getEnv "NIV_OVERRIDE_${saneName}";
    in
    if ersatz == "" then fetched
    else if substring 0 1 ersatz == "/" then /. + ersatz
    else /. + getEnv "PWD" + "/${ersatz}";

  mkSources = config:
    mapAttrs
      (name: spec:
        if hasAttr "outPath" spec
        then abort "The values in sources.json should not have an 'outPath' attribute"
        else spec // { outPath = replace name (fetch config.pkgs name spec); })
      config.sources;

  mkConfig =
    { sourcesFile ? ./sources.json
    , sources ? builtins.fromJSON (builtins.readFile sourcesFile)
    , system ? builtins.currentSystem
      # Only needed for specs with `"builtin": false`.
    , pkgs ? import (builtins.fetchTarball { inherit (sources.nixpkgs) url sha256; }) { inherit system; }
    }: { inherit sources pkgs; };
in
mkSources (mkConfig { }) // { __functor = _: settings: mkSources (mkConfig settings); }
