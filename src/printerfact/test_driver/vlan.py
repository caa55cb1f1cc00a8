"""nixpkgs' `test_driver.vlan`: the VLANs of the driver's own hub."""

from printerfact.driver.network import VLan

__all__ = ["VLan"]
