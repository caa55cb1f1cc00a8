# Kernel config fragment (kernel/printerfact.config, merge_config.sh format) -> attrset.
#
# Builtins only, so tests/test_nix.py evaluates it here and compares it with the fragment as
# Python reads it.  kernel.nix turns the values into lib.kernel items for buildLinux.
#
#   CONFIG_RUST=y              -> { RUST = "y"; }
#   CONFIG_NLS_DEFAULT="utf8"  -> { NLS_DEFAULT = "utf8"; }   (unquoted, as generate-config.pl wants it)
#   # CONFIG_FOO is not set    -> { FOO = "n"; }
#   other comments, blank lines   ignored; anything else is an error
file:

let
  lines = builtins.filter builtins.isString (builtins.split "\n" (builtins.readFile file));

  unquote = value:
    let quoted = builtins.match "\"(.*)\"" value; in
    if quoted == null then value else builtins.head quoted;

  parseLine = line:
    let
      set = builtins.match "CONFIG_([A-Za-z0-9_]+)=(.*)" line;
      unset = builtins.match "# CONFIG_([A-Za-z0-9_]+) is not set" line;
    in
    if set != null then [{ name = builtins.elemAt set 0; value = unquote (builtins.elemAt set 1); }]
    else if unset != null then [{ name = builtins.head unset; value = "n"; }]
    else if builtins.match "[[:space:]]*(#.*)?" line != null then [ ]
    else throw "${toString file}: cannot parse line: ${line}";

  entries = builtins.concatMap parseLine lines;
  names = map (e: e.name) entries;
  duplicates = builtins.attrNames (builtins.listToAttrs (map (name: { inherit name; value = null; })
    (builtins.filter (n: builtins.length (builtins.filter (m: m == n) names) > 1) names)));
in
if duplicates != [ ] then throw "${toString file}: options set twice: ${builtins.toJSON duplicates}"
else builtins.listToAttrs entries
