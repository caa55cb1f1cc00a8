# Hydra jobset: the kernel, the module (on our kernel and on nixpkgs' prebuilt 6.12), every
# NixOS test with a JUnit report, and the same for the debug kernel flavour.
#
# One jobset input besides `src` (.hydra/spec.json; Hydra passes it as the argument of that
# name).  Its default is the niv pin, which nix/sources.nix fetches at evaluation time, and
# Hydra's restricted evaluation refuses that fetch: give `nixpkgs` as an input.
#   nixpkgs  git: https://github.com/NixOS/nixpkgs nixos-26.05
#
# Linux is not an input: its source is the pin in nix/sources.json as a fixed-output
# derivation (pkgs.fetchurl with the pinned hash), fetched when the kernel is built, never
# during evaluation, and kept by the store under its hash, so Hydra downloads the ~140 MB
# tarball once per version.  (A `path` input pointing at the URL, as before, is fetched again
# with nix-prefetch-url at every evaluation: Hydra's PathInput.pm caches it for 30 s,
# `path_input_cache_validity_seconds`.)  The trade-off: Hydra does not watch kernel.org; a new
# kernel is a commit to nix/sources.json (`niv update linux -v 6.12.N`), which Hydra sees as a
# change of `src`.  `linux` (a path, or { outPath; }) and `linuxVersion` still override it:
#   nix-build release.nix -A kernel --arg linux ~/src/linux --argstr linuxVersion 6.12.N
#
# nixpkgs' test driver writes JUnit itself (`nixos-test-driver --junit-xml FILE`, relative to
# its -o directory; nixos/lib/test-driver/src/test_driver/__init__.py), also when the test
# fails.  A failing test still yields an output so Hydra can show the report: the job records
# the driver's exit status in nix-support/failed, which Hydra reads as "failed with output".
let
  pins = import ./nix/sources.nix;
in
{ nixpkgs ? pins.nixpkgs
, linux ? null
, linuxVersion ? pins.linux.version
, system ? "x86_64-linux"
}:

let
  pkgs = import nixpkgs { inherit system; config = { }; overlays = [ ]; };

  linuxSource =
    if linux == null then pkgs.fetchurl { inherit (pins.linux) url sha256; }
    # Hydra passes a path input as { outPath = <store path>; ... }; `--arg linux ./x` a path.
    else if builtins.isAttrs linux then linux
    else { outPath = linux; };

  sources = pins // {
    inherit nixpkgs;
    linux = linuxSource // { version = linuxVersion; };
  };

  project = import ./default.nix { inherit sources system pkgs; };
  shell = import ./shell.nix { inherit sources system pkgs; inherit (project) kernel; };

  # The driver writes its JUnit report from an atexit handler (logger.py, JunitXMLLogger),
  # which does not run when the global timeout ends it with SIGTERM (driver.py,
  # terminate_test).  Then this job writes a report that says so, and Hydra is only ever
  # pointed at a file that exists.
  withJunit = _: test: pkgs.runCommand "${test.config.name}-junit"
    {
      # What the plain test derivation asks for (nixos/lib/testing/run.nix).
      requiredSystemFeatures = [ "nixos-test" "kvm" ];
      inherit (test) meta;
      testName = test.config.name;
      globalTimeout = toString test.config.globalTimeout;
    }
    ''
      mkdir -p $out/nix-support
      export LOGFILE=/dev/null  # mute the XML log, as nixos/lib/testing/run.nix does
      status=0
      ${test.driver}/bin/nixos-test-driver -o $out --junit-xml junit.xml || status=$?
      if [ ! -f $out/junit.xml ]; then
        if [ "$status" -eq 143 ]; then
          reason="timed out: the driver's global timeout ($globalTimeout s) ended it with SIGTERM before it wrote its JUnit report"
        else
          reason="nixos-test-driver exited with status $status without writing its JUnit report"
        fi
        cat > $out/junit.xml <<EOF
      <?xml version="1.0" encoding="utf-8"?>
      <testsuites disabled="0" errors="1" failures="0" tests="1" time="0.0">
        <testsuite name="NixOS integration test" tests="1" errors="1" failures="0">
          <testcase name="$testName">
            <error type="driver" message="$reason"/>
          </testcase>
        </testsuite>
      </testsuites>
      EOF
      fi
      echo "file junit $out/junit.xml" >> $out/nix-support/hydra-build-products
      if [ "$status" -ne 0 ]; then
        echo "$status" > $out/nix-support/failed
      fi
    '';

  testJobs = tests: pkgs.lib.recurseIntoAttrs (builtins.mapAttrs withJunit tests);
in
{
  inherit (project) kernel printerfact;
  inherit (shell) rustcNightly;
  prebuilt-printerfact = project.prebuilt.printerfact;
  tests = testJobs project.tests;

  debug = pkgs.lib.recurseIntoAttrs {
    inherit (project.debug) kernel printerfact;
    tests = testJobs project.debug.tests;
  };
}
