# One node of the test model (nix/nodes.nix) -> a NixOS module giving the guest contract the
# testscripts rely on, as the portable image does (docs/architecture.md, "Guest contract").
{ linuxPackages
, factsFile
}:

node:

{ config, lib, pkgs, ... }:

let
  # Only bin/busybox: the whole busybox package would shadow coreutils, util-linux, ...
  busybox = pkgs.runCommand "busybox-only-${pkgs.busybox.version}" { } ''
    mkdir -p $out/bin
    ln -s ${lib.getExe' pkgs.busybox "busybox"} $out/bin/busybox
  '';
  # A name in the node's `packages` (nix/nodes.nix accepts only known ones): nixpkgs' package
  # of that name (trinity, stress-ng, ...), except busybox.
  package = name: if name == "busybox" then busybox else pkgs.${name};
  extraPackages = map package node.packages;
in
{
  boot = {
    kernelPackages = linuxPackages;
    # From the set NixOS boots, not from `linuxPackages`: NixOS overrides the kernel of
    # boot.kernelPackages (boot.kernelPatches, features), and `printerfact` was added with
    # `extend`, so this one is built against the kernel that boots.
    extraModulePackages = [ config.boot.kernelPackages.printerfact ];
    # Installed on every node (`modprobe printerfact`), loaded during boot only when asked.
    kernelModules = lib.optional node.module_at_boot "printerfact";
    # The kernel-log guard (testscripts/kernel_log_guard.py) reads dmesg: a run full of reports
    # must not push the first ones out of the default 128 KiB ring (the portable runner boots
    # with the same argument).
    kernelParams = [ "log_buf_len=4M" ];
  };

  environment = {
    etc."printerfact/facts.txt".source = factsFile;
    systemPackages = extraPackages;
  };

  networking = {
    hostName = node.hostname;
    # The network test's service listens on TCP 8000; the portable image has no firewall either.
    firewall.enable = false;
  };

  virtualisation = {
    inherit (node) vlans;
    memorySize = node.memory_mb;
    cores = node.cpus;
  };

  users.users = lib.listToAttrs (lib.imap0
    (i: name: lib.nameValuePair name {
      isNormalUser = true;
      uid = 1000 + i;
    })
    node.users);

  systemd.services = lib.mapAttrs
    (_: command: {
      wantedBy = [ "multi-user.target" ];
      path = extraPackages;
      script = command;
    })
    node.services;

  # The framework assigns the addresses (nixos/lib/testing/network.nix); the model predicts them
  # for the portable runner.  Fail the evaluation if the two ever disagree.
  assertions = [{
    assertion = map (vlan: "192.168.${toString vlan}.${toString config.virtualisation.test.nodeNumber}") node.vlans
      == node.addresses;
    message = "printerfact: addresses of ${node.hostname} differ from nix/nodes.nix: ${toString node.addresses}";
  }];
}
