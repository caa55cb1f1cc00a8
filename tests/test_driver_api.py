"""The driver's nixpkgs API pieces that need no VM: retry's two forms, the QMP session (against a
fake QEMU on a socketpair), OCR and unavailable names, the key table."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from printerfact.driver.errors import MachineError, RequestedAssertionFailed, Unavailable
from printerfact.driver.machine_helpers import CHAR_TO_KEY, key_for
from printerfact.driver.ocr import perform_ocr_on_screenshot, perform_ocr_variants_on_screenshot
from printerfact.driver.retry import retry
from printerfact.test_driver.machine import NspawnMachine, StartCommand
from printerfact.vm.qmp import QMPAPIError, QMPSession


def test_retry_timeout_counts_tries_as_nixos_25_05() -> None:
    calls: list[bool] = []

    def slow(last: bool) -> bool:
        calls.append(last)
        time.sleep(1.2)  # slower than the one-second pause: tries still count
        return False

    with pytest.raises(RequestedAssertionFailed, match="after 2 tries with one-second pause"):
        retry(slow, 2)
    assert calls == [False, False, True]


def test_retry_timeout_seconds_is_a_monotonic_budget_as_nixos_26_05() -> None:
    calls: list[bool] = []

    def slow(last: bool) -> bool:
        calls.append(last)
        time.sleep(1.2)
        return False

    t0 = time.monotonic()
    with pytest.raises(RequestedAssertionFailed, match=r"after 2\.\d\d seconds \(timeout=2\)"):
        retry(slow, timeout_seconds=2)
    # One try within the 2 s (1.2 s + the 1 s pause), then the last one.
    assert calls == [False, True]
    assert time.monotonic() - t0 < 5


def test_retry_returns_at_the_first_success() -> None:
    retry(lambda last: True, timeout_seconds=1)
    retry(lambda last: True, 1)


class FakeQemu:
    """QEMU's side of QMP on a socketpair: greeting, then answers each command in order."""

    def __init__(self, sock: socket.socket, events_after: dict[str, list[str]]) -> None:
        self.sock = sock
        self.events_after = events_after
        self.commands: list[str] = []
        self.sock.sendall(b'{"QMP": {"version": {}, "capabilities": []}}\n')
        threading.Thread(target=self._serve, daemon=True).start()

    def _send(self, message: dict[str, object]) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\r\n")

    def _serve(self) -> None:
        try:
            self._answer()
        except OSError:  # the session closed its end: QEMU would go on, the fake stops
            pass

    def _answer(self) -> None:
        for line in self.sock.makefile("rb"):
            cmd = json.loads(line)["execute"]
            self.commands.append(cmd)
            for event in self.events_after.get(cmd, []):
                self._send({"event": event, "timestamp": {"seconds": 0, "microseconds": 0}})
            if cmd == "bad":
                self._send({"error": {"class": "CommandNotFound", "desc": "no bad"}})
            else:
                self._send({"return": {"cmd": cmd}})


@pytest.fixture
def qmp() -> Iterator[tuple[QMPSession, FakeQemu]]:
    ours, theirs = socket.socketpair()
    fake = FakeQemu(theirs, {"qmp_capabilities": [], "stop": ["STOP"], "cont": ["RESUME"]})
    session = QMPSession(ours)
    yield session, fake
    session.close()
    theirs.close()


def test_qmp_negotiates_first_and_answers_commands(qmp: tuple[QMPSession, FakeQemu]) -> None:
    session, fake = qmp
    session.negotiated()
    assert fake.commands == ["qmp_capabilities"]
    assert session.send("query-status") == {"return": {"cmd": "query-status"}}
    with pytest.raises(QMPAPIError, match="CommandNotFound"):
        session.send("bad")


def test_qmp_events_come_in_order_also_when_read_while_waiting_for_a_reply(
    qmp: tuple[QMPSession, FakeQemu],
) -> None:
    session, _ = qmp
    session.send("stop")  # STOP arrives before the reply and is kept
    session.send("cont")
    assert [session.wait_for_event(5)["event"] for _ in range(2)] == ["STOP", "RESUME"]


def test_qmp_wait_for_event_gives_up_after_its_timeout(qmp: tuple[QMPSession, FakeQemu]) -> None:
    session, _ = qmp
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        session.wait_for_event(0.3)
    assert time.monotonic() - t0 < 2


def test_qmp_says_when_qemu_is_gone(qmp: tuple[QMPSession, FakeQemu]) -> None:
    session, fake = qmp
    fake.sock.shutdown(socket.SHUT_RDWR)
    with pytest.raises(ConnectionError):
        session.wait_for_event(5)


def test_ocr_raises_nixpkgs_error_without_tesseract(tmp_path: Path) -> None:
    message = "OCR requested but `tesseract` is not available"
    with pytest.raises(MachineError, match=message):
        perform_ocr_on_screenshot(tmp_path / "ppm")
    with pytest.raises(MachineError, match=message):
        perform_ocr_variants_on_screenshot(tmp_path / "ppm")


def test_a_class_nixpkgs_has_and_we_cannot_offer_raises_when_made() -> None:
    assert issubclass(Unavailable, MachineError)
    with pytest.raises(Unavailable, match="NspawnMachine is not available.*containers"):
        NspawnMachine("out", None, "run-c-nspawn", "tmp", None)
    with pytest.raises(Unavailable, match="StartCommand is not available.*start script"):
        StartCommand()


def test_the_key_table_is_nixpkgs() -> None:
    # A sample of nixpkgs' CHAR_TO_KEY (machine.py): letters, punctuation, shifted ones.
    sample = {"A": "shift-a", "-": "0x0C", "_": "shift-0x0C", "|": "shift-0x2B",
              "?": "shift-0x35", "!": "shift-0x02", ")": "shift-0x0B", " ": "spc", "\n": "ret",
              "'": "0x28"}  # fmt: skip
    assert {c: CHAR_TO_KEY[c] for c in sample} == sample
    assert len(CHAR_TO_KEY) == 26 + 22 + 10 + 2
    assert key_for("ctrl-alt-delete") == "ctrl-alt-delete" and key_for("a") == "a"
