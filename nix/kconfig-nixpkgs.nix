# The merged config fragments -> what kernel.nix asks of nixpkgs' buildLinux.
#
# The fragments in kernel/ are the single source of truth for both build paths.  A few of their
# options cannot be honoured by nixpkgs' kernel build, and generate-config.pl (with
# ignoreConfigErrors false, as on x86_64) fails the build on an answer that ends up unused or
# with another value.  They are filtered here, never edited out of the fragments:
#   dropped    not asked for at all (the reason is kept for the docs and the tests);
#   optional   asked for, but generate-config.pl only warns when Kconfig does not offer it;
#   withdrawn  not in the fragments: an answer of nixpkgs' common config that the fragments
#              make impossible, taken back (kernel.nix sets it to lib.kernel.unset).
#
# Builtins only: tests/nix evaluates it without nixpkgs.
# Arguments: { version } of the kernel (some reasons depend on its Kconfig), then the merged
# fragments as nix/kconfig.nix reads them ({ NAME = "y"; ... }).
# Result: { options = { NAME = value; }; dropped, optional, withdrawn = { NAME = reason; }; }
{ version }:
options:

let
  asks = name: value: (options.${name} or null) == value;

  isKasan = name: builtins.match "KASAN(_[A-Z0-9_]+)?" name != null;

  # "rust: kasan: KASAN+RUST requires clang" (mainline 5b271543d0f0, April 2026; 6.12.y by a
  # stable backport posted 2026-07-09) added `depends on !KASAN || CC_IS_CLANG` to RUST in
  # init/Kconfig.  Read in 6.12.117 and 6.12.118; 6.12.64 predates it.  The first 6.12.y with
  # it lies between 6.12.65 and 6.12.117 and was not established here.
  kconfigRefusesGccKasanRust = builtins.compareVersions version "6.12.117" >= 0;

  # Either way KASAN stays off on the Nix path: nixpkgs builds its kernels with GCC, and a
  # clang-built buildLinux kernel is not a working path at the pin (its config is generated
  # with GCC, so CC_IS_CLANG stays unset).
  kasanReason =
    if kconfigRefusesGccKasanRust then
      "init/Kconfig of Linux ${version}: RUST depends on `!KASAN || CC_IS_CLANG` (rust: kasan: KASAN+RUST requires clang); nixpkgs builds kernels with GCC, so KASAN would switch Rust and the module off"
    else
      "Linux ${version} predates (or may predate) `depends on !KASAN || CC_IS_CLANG` for RUST: its Kconfig accepts GCC KASAN with Rust, which instruments C with GCC's KASAN and Rust with LLVM's, a mix upstream calls unsafe (rust: kasan: KASAN+RUST requires clang); nixpkgs builds kernels with GCC";

  dropReason = name:
    if isKasan name && asks "RUST" "y" then kasanReason
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

  # pkgs/os-specific/linux/kernel/common-config.nix (`debug`) answers LOCKUP_DETECTOR = yes
  # beside SOFTLOCKUP_DETECTOR and HARDLOCKUP_DETECTOR.  LOCKUP_DETECTOR has no prompt
  # (lib/Kconfig.debug: only those two select it), so with both off it is not in the .config
  # and generate-config.pl would fail on the answer ("unused option").
  withdrawnReasons = {
    LOCKUP_DETECTOR =
      if asks "SOFTLOCKUP_DETECTOR" "n" && asks "HARDLOCKUP_DETECTOR" "n" then
        "no prompt of its own, selected only by SOFTLOCKUP_DETECTOR and HARDLOCKUP_DETECTOR, which the fragments turn off"
      else null;
  };

  names = builtins.attrNames options;
  droppedNames = builtins.filter (name: dropReason name != null) names;
in
{
  options = removeAttrs options droppedNames;
  dropped = builtins.listToAttrs (map (name: { inherit name; value = dropReason name; }) droppedNames);
  optional = builtins.intersectAttrs (removeAttrs options droppedNames) optionalReasons;
  withdrawn = removeAttrs withdrawnReasons
    (builtins.filter (name: withdrawnReasons.${name} == null || options ? ${name}) (builtins.attrNames withdrawnReasons));
}
