"""The channel watchdog on a real guest: a command channel that goes quiet fails the command
with evidence from both ends, long before the command's own timeout."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from printerfact.driver.errors import ChannelStalledError

pytestmark = pytest.mark.vm


def test_a_stalled_channel_fails_the_command_with_evidence(driver_for: Any, tmp_path: Path) -> None:
    with driver_for(tmp_path) as d:
        m = d.machines[0]
        m.succeed("true")
        m._require_session().channel.stall_after = 4.0
        # Stop the agent itself (the command's grandparent): no keepalive, no reply.
        stop_agent = (
            "read -r _ _ _ agent _ </proc/$PPID/stat;"
            " (sleep 0.5; kill -STOP $agent) >/dev/null 2>&1 & sleep 100"
        )
        t0 = time.monotonic()
        with pytest.raises(ChannelStalledError) as caught:
            m.succeed(stop_agent, timeout=300)
        assert time.monotonic() - t0 < 60
        report = str(caught.value)
        assert "no byte from the guest agent" in report and "keepalive" in report
        assert "unread by QEMU" in report  # the host end of the socket
        assert "virtqueues" in report and "last_avail_idx" in report  # QEMU's view
        # The guest's task states: the stopped agent is among them.
        assert "SysRq" in report and "agent.sh" in report, report[-4000:]
