"""NixOS's base file system on a test VM: the directories and links its stage-2 init
(nixos/modules/system/boot/stage-2-init.sh), activation (`D /var/empty 0555 root root -`,
`h /var/empty - - - - +i`) and systemd-tmpfiles (tmp.conf, var.conf, home.conf, systemd.conf,
x11.conf, NixOS's 00-nixos.conf) make, all owned by root:root.

The image holds them (image/base.py: a node without a disk lives on them), and so does every
new node disk (vm/disk.py), with /var/empty immutable there.
"""

from __future__ import annotations

# Path -> mode, parents first.  /etc, /opt: mount points of the node's disk (guest/fstab.persist;
# NixOS makes no /opt).
DIRS: dict[str, int] = {
    "etc": 0o755,
    "root": 0o700,
    "home": 0o755,
    "srv": 0o755,
    "opt": 0o755,
    "tmp": 0o1777,
    **dict.fromkeys(("tmp/.X11-unix", "tmp/.ICE-unix", "tmp/.XIM-unix", "tmp/.font-unix"), 0o1777),
    "var": 0o755,
    "var/tmp": 0o1777,
    "var/empty": 0o555,
    **dict.fromkeys(("var/lib", "var/log", "var/cache", "var/spool", "var/db"), 0o755),
    **dict.fromkeys(("var/lib/private", "var/log/private", "var/cache/private"), 0o700),
    "var/lib/systemd": 0o755,
    "var/lib/systemd/coredump": 0o755,
}
# Link -> target: stage-2-init.sh's /var/run and /var/lock, tmpfiles.nix's /etc/mtab.
LINKS: dict[str, str] = {"var/run": "/run", "var/lock": "/run/lock", "etc/mtab": "/proc/mounts"}
IMMUTABLE = ("var/empty",)  # chattr +i: NixOS's activation
