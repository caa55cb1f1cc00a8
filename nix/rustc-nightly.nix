# nixpkgs' stable rustc with nightly features unlocked, without rebuilding it: the wrappers set
# RUSTC_BOOTSTRAP=1, which is what the kernel's Makefile does for its own rustc calls.  For
# work on the module outside kbuild (`nix-shell`, shell.nix: rustc -Z ..., rustdoc on the
# kernel crate).
{ runCommand
, makeWrapper
, rustc
}:

runCommand "rustc-nightly-${rustc.version}"
{
  nativeBuildInputs = [ makeWrapper ];
  passthru = {
    inherit (rustc) version;
    unwrapped = rustc;
  };
  meta = {
    description = "rustc and rustdoc from nixpkgs with RUSTC_BOOTSTRAP=1 (nightly features)";
    inherit (rustc.meta) license platforms;
    mainProgram = "rustc";
  };
}
  ''
    mkdir -p $out/bin
    for prog in rustc rustdoc; do
      makeWrapper ${rustc}/bin/$prog $out/bin/$prog --set RUSTC_BOOTSTRAP 1
    done

    # Fails unless nightly features are really unlocked: -Z flags are refused by a stable rustc.
    $out/bin/rustc -Z unstable-options --print target-spec-json > /dev/null
  ''
