# Hydra jobset: the kernel, the module (on our kernel and on nixpkgs' prebuilt 6.12) and every
# NixOS test with a JUnit report.
#
# nixpkgs' test driver writes JUnit itself (`nixos-test-driver --junit-xml FILE`, relative to
# its -o directory; nixos/lib/test-driver/src/test_driver/__init__.py), also when the test
# fails.  A failing test still yields an output so Hydra can show the report: the job records
# the driver's exit status in nix-support/failed, which Hydra reads as "failed with output".
{ sources ? import ./nix/sources.nix
, system ? "x86_64-linux"
}:

let
  project = import ./default.nix { inherit sources system; };
  inherit (project) pkgs;

  withJunit = name: test: pkgs.runCommand "printerfact-test-${name}-junit"
    {
      # What the plain test derivation asks for (nixos/lib/testing/run.nix).
      requiredSystemFeatures = [ "nixos-test" "kvm" ];
      inherit (test) meta;
    }
    ''
      mkdir -p $out/nix-support
      export LOGFILE=/dev/null  # mute the XML log, as nixos/lib/testing/run.nix does
      status=0
      ${test.driver}/bin/nixos-test-driver -o $out --junit-xml junit.xml || status=$?
      echo "file junit $out/junit.xml" >> $out/nix-support/hydra-build-products
      if [ "$status" -ne 0 ]; then
        echo "$status" > $out/nix-support/failed
      fi
    '';
in
{
  inherit (project) kernel printerfact rustcNightly;
  prebuilt-printerfact = project.prebuilt.printerfact;
  tests = pkgs.lib.recurseIntoAttrs (builtins.mapAttrs withJunit project.tests);
}
