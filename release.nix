# Hydra jobset: the kernel, the module (on our kernel and on nixpkgs' prebuilt 6.12), every
# NixOS test with a JUnit report, and the same for the debug kernel flavour.
#
# Jobset inputs (.hydra/spec.json declares them; Hydra passes each as the argument of that
# name).  The defaults are the niv pins, which nix/sources.nix fetches at evaluation time, and
# Hydra's restricted evaluation refuses those fetches unless their hosts are allowed: give
# `nixpkgs` and `linux` as inputs and nothing is fetched during evaluation.
#   nixpkgs       git:    https://github.com/NixOS/nixpkgs nixos-25.05
#   linux         path:   https://cdn.kernel.org/pub/linux/kernel/v6.x/linux-6.12.64.tar.xz
#   linuxVersion  string: 6.12.64 (change it with `linux`: it is the kernel's `uname -r`)
#
# nixpkgs' test driver writes JUnit itself (`nixos-test-driver --junit-xml FILE`, relative to
# its -o directory; nixos/lib/test-driver/src/test_driver/__init__.py), also when the test
# fails.  A failing test still yields an output so Hydra can show the report: the job records
# the driver's exit status in nix-support/failed, which Hydra reads as "failed with output".
let
  pins = import ./nix/sources.nix;
in
{ nixpkgs ? pins.nixpkgs
, linux ? pins.linux
, linuxVersion ? pins.linux.version
, system ? "x86_64-linux"
}:

let
  sources = pins // {
    inherit nixpkgs;
    # Hydra passes a path input as { outPath = <store path>; ... }; `--arg linux ./x` a path.
    linux = (if builtins.isAttrs linux then linux else { outPath = linux; }) // {
      version = linuxVersion;
    };
  };

  project = import ./default.nix { inherit sources system; };
  inherit (project) pkgs;

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
  inherit (project) kernel printerfact rustcNightly;
  prebuilt-printerfact = project.prebuilt.printerfact;
  tests = testJobs project.tests;

  debug = pkgs.lib.recurseIntoAttrs {
    inherit (project.debug) kernel printerfact;
    tests = testJobs project.debug.tests;
  };
}
