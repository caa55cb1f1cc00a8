"""The guest image: the base initramfs (base.py: busybox, bash, the guest scripts of guest/,
the module), each node's archive appended to it (node.py), the Debian packages a node asks for
(packages.py), NixOS's base file system (basefs.py), the cpio writer, and the guest contract
(contract.py: the paths and variable names the Python side and the guest scripts share).

Standard library only, like printerfact.host.
"""
