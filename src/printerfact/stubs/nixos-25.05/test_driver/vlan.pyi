from nixpkgs_common.vlan import VLan as VLan
