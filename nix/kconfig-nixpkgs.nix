# The merged config fragments -> what kernel.nix asks of nixpkgs' buildLinux.
#
# The fragments in kernel/ are the single source of truth for both build paths.  A few of their
# options cannot be honoured by nixpkgs' kernel build, and generate-config.pl (with
# ignoreConfigErrors false, as on x86_64) fails the build on an answer that ends up unused or
# with another value.  They are filtered here, never edited out of the fragments:
#   dropped   not asked for at all (the reason is kept for the docs and the tests);
#   optional  asked for, but generate-config.pl only warns when Kconfig does not offer it.
#
# Builtins only: tests/nix evaluates it without nixpkgs.
# Argument: the merged fragments as nix/kconfig.nix reads them ({ NAME = "y"; ... }).
# Result: { options = { NAME = value; }; dropped = { NAME = reason; }; optional = { NAME = reason; }; }
options:

let
  asks = name: value: (options.${name} or null) == value;

  isKasan = name: builtins.match "KASAN(_[A-Z0-9_]+)?" name != null;

  dropReason = name:
    if isKasan name && asks "RUST" "y" then
    # init/Kconfig: RUST depends on `!KASAN || CC_IS_CLANG`.  nixpkgs builds its kernels with
    # GCC, and a clang-built buildLinux kernel is not a working path at the pin (its config is
    # generated with GCC, so CC_IS_CLANG stays unset): KASAN would switch Rust off.
      "KASAN with Rust needs a clang-built kernel; nixpkgs builds kernels with GCC"
    else if name == "FRAME_POINTER" && !asks "UNWINDER_FRAME_POINTER" "y" then
    # arch/x86/Kconfig.debug: x86_64 defaults to the ORC unwinder; FRAME_POINTER is offered
    # only through UNWINDER_FRAME_POINTER.  ORC gives the same reliable stack traces.
      "x86_64 unwinds with ORC; FRAME_POINTER is only offered with UNWINDER_FRAME_POINTER"
    else null;

  optionalReasons = {
    # mm/Kconfig: SLUB_TINY depends on EXPERT.  Off by default on nixpkgs' defconfig base
    # (only tinyconfig picks it), so "not set" holds whether Kconfig offers it or not.
    SLUB_TINY = "offered only with EXPERT; off by default outside tinyconfig";
  };

  names = builtins.attrNames options;
  droppedNames = builtins.filter (name: dropReason name != null) names;
in
{
  options = removeAttrs options droppedNames;
  dropped = builtins.listToAttrs (map (name: { inherit name; value = dropReason name; }) droppedNames);
  optional = builtins.intersectAttrs (removeAttrs options droppedNames) optionalReasons;
}
