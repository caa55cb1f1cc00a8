# Model of pkgs/os-specific/linux/kernel/common-config.nix: only the entries the project's
# fragments and tests meet.  The real file sets hundreds of options; none of the others is
# modelled, which is why kernel.nix forces every fragment option (lib.mkForce) rather than
# relying on what common-config happens to set.
{ lib, version, rustAvailable ? true, features ? { } }:

let
  inherit (lib.kernel) yes;
  # Rust on by default from 6.12 where rustc is available (x86_64), or forced by the
  # `rust` feature (boot.kernelPatches' features.rust).
  withRust = (features.rust or false || lib.versionAtLeast version "6.12") && rustAvailable;
in
{
  # `debug` (read in a 2026 version of common-config.nix): lockup detection on; HARDLOCKUP_DETECTOR
  # is `lib.mkIf (isPower || isx86 || versionAtLeast version "6.5")`, true on x86_64.
  DEBUG_KERNEL = yes;
  DETECT_HUNG_TASK = yes;
  LOCKUP_DETECTOR = yes;
  SOFTLOCKUP_DETECTOR = yes;
  HARDLOCKUP_DETECTOR = yes;
  MODULES = yes;
}
  // lib.optionalAttrs withRust { RUST = yes; }
