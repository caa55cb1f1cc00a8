"""Two nodes on a VLAN through the driver's hub: addressing, names, TCP, block/unblock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from printerfact.nodes import NodeSpec

pytestmark = pytest.mark.vm


def test_vlan_traffic_and_block(driver_for: Any, tmp_path: Path) -> None:
    nodes = (NodeSpec("server"), NodeSpec("client-a"))
    with driver_for(tmp_path, nodes=nodes) as d:
        d.start_all()
        server, client = (d.test_symbols()[n] for n in ("server", "client_a"))
        # Alphabetical numbering: client-a is .1, server is .2 (nixpkgs' scheme).
        assert "192.168.1.2/24" in server.succeed("ip -4 addr show eth0")
        assert "52:54:00:12:01:01" in client.succeed("cat /sys/class/net/eth0/address")
        client.succeed("ping -c 1 -W 5 server")
        server.succeed("nc -ll -p 7001 -e echo over-the-vlan >/dev/null 2>&1 &")
        server.wait_for_open_port(7001, timeout=30)
        assert client.succeed("nc server 7001 </dev/null") == "over-the-vlan\n"

        client.block()
        client.fail("ping -c 1 -W 2 server")
        client.unblock()
        client.wait_until_succeeds("ping -c 1 -W 2 server", timeout=30)
        assert d.vlans[0].frames_forwarded > 0
