# The systemd targets of a NixOS test VM.  rc.sh and systemctl source this file, each with its
# own `target UNIT STEP DESCRIPTION` (shell code, not a table read line by line: busybox sh's
# `read` costs a system call per byte, sourcing reads the file at once).  STEP: when rc.sh's boot
# reaches it ("-": loaded, no part of the boot, active once started); DESCRIPTION: systemd's
# (units/*.target).  Within a step, reached in this order.  sysinit: file systems mounted, /var
# made, module loaded, host name set (where systemd reaches local-fs.target and sysinit.target);
# basic: right after; network: the VLAN addresses are set; multiuser: the services started.
# network-online.target: since NixOS 25.05 nothing in a test VM pulls it in (no default
# gateway), so it waits for `systemctl start`.
target slices.target sysinit "Slice Units"
target swap.target sysinit "Swaps"
target local-fs-pre.target sysinit "Preparation for Local File Systems"
target local-fs.target sysinit "Local File Systems"
target sysinit.target sysinit "System Initialization"
target sockets.target basic "Socket Units"
target timers.target basic "Timer Units"
target paths.target basic "Path Units"
target basic.target basic "Basic System"
target network.target network "Network"
target remote-fs.target multiuser "Remote File Systems"
target nss-lookup.target multiuser "Host and Network Name Lookups"
target nss-user-lookup.target multiuser "User and Group Name Lookups"
target getty.target multiuser "Login Prompts"
target multi-user.target multiuser "Multi-User System"
target network-online.target - "Network is Online"
