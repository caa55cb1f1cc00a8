"""Two nodes on a VLAN through the driver's hub: addressing, names, TCP, block/unblock."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from printerfact.driver.network import Hub
from printerfact.nodes import NodeSpec

pytestmark = pytest.mark.vm


def test_vlan_traffic_and_block(driver_for: Any, tmp_path: Path) -> None:
    nodes = (NodeSpec("server"), NodeSpec("client-a"))
    with driver_for(tmp_path, nodes=nodes) as d:
        d.start_all()
        server, client = (d.test_symbols()[n] for n in ("server", "client_a"))
        # Alphabetical numbering: client-a is .1, server is .2 (nixpkgs' scheme).
        assert "192.168.1.2/24" in server.succeed("ip -4 addr show eth1")
        assert "52:54:00:12:01:01" in client.succeed("cat /sys/class/net/eth1/address")
        client.succeed("ping -c 1 -W 5 server")
        server.succeed("nc -ll -p 7001 -e echo over-the-vlan >/dev/null 2>&1 &")
        server.wait_for_open_port(7001, timeout=30)
        assert client.succeed("nc server 7001 </dev/null") == "over-the-vlan\n"

        client.block()
        client.fail("ping -c 1 -W 2 server")
        client.unblock()
        client.wait_until_succeeds("ping -c 1 -W 2 server", timeout=30)
        assert d.vlans[0].frames_forwarded > 0


def test_hub_keeps_forwarding_past_a_broken_member_and_says_so(tmp_path: Path) -> None:
    """No VM: real unix sockets.  One member's socket is of the wrong type (EPROTOTYPE on
    every send); the others must still get every frame, and the log must name the problem."""
    logged: list[str] = []
    hub = Hub(tmp_path, [1], log=logged.append)
    vlan = hub.vlan(1)
    socks: list[socket.socket] = []
    try:
        sender, broken, receiver = (vlan.member_socket(n) for n in ("a", "b", "c"))
        for path, kind in ((sender, socket.SOCK_DGRAM), (broken, socket.SOCK_STREAM),
                           (receiver, socket.SOCK_DGRAM)):  # fmt: skip
            s = socket.socket(socket.AF_UNIX, kind)
            s.bind(str(path))
            socks.append(s)
        a, _, c = socks
        c.settimeout(5)
        for i in range(3):
            a.sendto(f"frame-{i}".encode(), str(vlan.hub_socket))
            assert c.recv(100) == f"frame-{i}".encode()
        assert vlan.frames_dropped == 3 and hub.error is None
        assert len(logged) == 1 and "vlan1.b" in logged[0]  # once, not per frame
    finally:
        hub.stop()
        for s in socks:
            s.close()
