# Model of what generate-config.pl (pkgs/os-specific/linux/kernel/generate-config.pl) reports
# after Kconfig has answered nixpkgs' questions on x86_64 (defconfig base, GCC).
#
# Kconfig is not run here: the model knows the few Linux 6.12 dependencies that decide
# whether the project's fragments can be honoured on that base, each checked against the
# real Kconfig (Linux 6.12.117, and 6.12.118 with the lockup detectors: `make defconfig` with
# GCC, the fragments merged, `make olddefconfig`; see docs/nix-api.md).  Every other answer is
# taken as given.
#
# generate-config.pl: an answer whose option is not in the final .config is an "unused
# option", one with another value is "not set correctly"; both are errors for a required
# answer (not lib.kernel.option) unless ignoreConfigErrors, warnings otherwise.
{ lib }:

{ settings, version, ccIsClang ? false, ignoreConfigErrors ? false }:

let
  answer = name:
    let s = settings.${name} or { }; in
    if s.tristate or null != null then s.tristate else s.freeform or null;
  asked = name: value: answer name == value;

  # init/Kconfig: RUST depends on `!KASAN || CC_IS_CLANG` since "rust: kasan: KASAN+RUST
  # requires clang" (6.12.y: a stable backport of July 2026); KASAN is offered first.  Read in
  # 6.12.117 and 6.12.118, absent in 6.12.64: the model takes 6.12.117 as the first version
  # with it (the true first one, between 6.12.65 and 6.12.117, was not established).  Before
  # it, Kconfig keeps RUST beside GCC KASAN (and the build mixes GCC and LLVM KASAN).
  kasanNeedsClang = lib.versionAtLeast version "6.12.117";
  rustOff = asked "KASAN" "y" && !ccIsClang && kasanNeedsClang;
  # arch/x86/Kconfig.debug, lib/Kconfig.debug: x86_64 unwinds with ORC by default;
  # FRAME_POINTER depends on ARCH_WANT_FRAME_POINTERS, selected by UNWINDER_FRAME_POINTER.
  framePointerOff = !asked "UNWINDER_FRAME_POINTER" "y";
  # mm/Kconfig: SLUB_TINY depends on EXPERT.
  slubTinyOff = !asked "EXPERT" "y";
  # lib/Kconfig.debug: LOCKUP_DETECTOR has no prompt; SOFTLOCKUP_DETECTOR and
  # HARDLOCKUP_DETECTOR select it.  Unselected, it is not in the .config at all.
  lockupDetectorOff = !asked "SOFTLOCKUP_DETECTOR" "y" && !asked "HARDLOCKUP_DETECTOR" "y";

  absent = name:
    (rustOff && (name == "RUST" || lib.hasPrefix "RUST_" name))
    || (framePointerOff && name == "FRAME_POINTER")
    || (slubTinyOff && name == "SLUB_TINY")
    || (lockupDetectorOff && name == "LOCKUP_DETECTOR");

  answered = builtins.filter (name: answer name != null) (builtins.attrNames settings);
  problems = builtins.concatMap
    (name: lib.optional (absent name) {
      inherit name;
      required = !(settings.${name}.optional or false) && !ignoreConfigErrors;
      message = "unused option: ${name}";
    })
    answered;
in
{
  errors = map (p: p.message) (builtins.filter (p: p.required) problems);
  warnings = map (p: p.message) (builtins.filter (p: !p.required) problems);
  # CONFIG_RUST in the final .config, which is what buildLinux's withRust would read there.
  rust = asked "RUST" "y" && !rustOff;
}
