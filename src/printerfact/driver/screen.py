"""Machine's screen, virtual terminals and X: nixpkgs' methods, doing what nixpkgs' do on a
NixOS VM without the feature behind them.

The VMs have no display (`-nodefaults -display none`): QEMU's `screendump` makes no picture
("There is no console to take a screendump from"), so `screenshot` raises nixpkgs'
"Cannot convert screenshot" MachineError; OCR is never enabled, so `get_screen_text*` and
`wait_for_text` raise nixpkgs' "OCR requested but `tesseract` is not available" after the
screenshot, as nixpkgs without `enableOCR`.  The virtual terminals exist (the kernel has VT),
but no getty runs on them: `get_tty_text` reads `/dev/vcs<n>` as nixpkgs does and gets a blank
screen.  There is no X server: `wait_for_x` waits its timeout, `get_window_names` fails on the
missing `xwininfo`.  The guest commands and log lines are nixpkgs'.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from printerfact.driver.errors import MachineError
from printerfact.driver.machine_base import MachineBase
from printerfact.driver.ocr import perform_ocr_on_screenshot, perform_ocr_variants_on_screenshot
from printerfact.driver.retry import retry

# The guest side of nixpkgs' checks, as its Machine runs them (their output is what a script
# sees): the text on a VT, the X server's readiness (both in order), the window titles.
_TTY_TEXT = "fold -w$(stty -F /dev/tty{tty} size | awk '{{print $2}}') /dev/vcs{tty}"
_X_READY = (
    'journalctl -b SYSLOG_IDENTIFIER=systemd | grep "Reached target Current graphical"',
    "[ -e /tmp/.X11-unix/X0 ]",
)
_WINDOW_NAMES = r"xwininfo -root -tree | sed 's/.*0x[0-9a-f]* \"\([^\"]*\)\".*/\1/; t; d'"


class ScreenMixin(MachineBase):
    def _poll(self, what: str, check: Callable[[bool], bool], timeout: int) -> None:
        with self.nested(what):
            retry(check, timeout)

    def get_tty_text(self, tty: str) -> str:
        """The text on virtual terminal `tty` (blank here: no getty runs on the VTs)."""
        return self.execute(_TTY_TEXT.format(tty=tty))[1]

    def wait_until_tty_matches(self, tty: str, regexp: str, timeout: int = 900) -> None:
        pattern = re.compile(regexp)

        def matches(last_try: bool) -> bool:
            text = self.get_tty_text(tty)
            if last_try:
                self.log(
                    f"Last chance to match /{regexp}/ on TTY{tty}, which currently contains: {text}"
                )
            return pattern.search(text) is not None

        self._poll(f"waiting for {regexp} to appear on tty {tty}", matches, timeout)

    def dump_tty_contents(self, tty: str) -> None:
        """Into the journal through `systemd-cat`, as nixpkgs; the image has none, so this
        logs nothing (and, as nixpkgs, does not say so)."""
        self.execute(f"fold -w 80 /dev/vcs{tty} | systemd-cat")

    @contextmanager
    def _screendump(self) -> Iterator[tuple[Path, str]]:
        """Ask QEMU for a screendump into a temporary file: (its path, QEMU's answer)."""
        with tempfile.TemporaryDirectory() as tmpdir:
            path = Path(tmpdir) / "ppm"
            yield path, self.send_monitor_command(f"screendump {path}")

    def screenshot(self, filename: str) -> None:
        name = filename if "." in filename else f"{filename}.png"
        target = name if "/" in name else os.path.join(self.out_dir, name)
        with self.nested(f"making screenshot {target}", {"image": os.path.basename(target)}):
            with self._screendump() as (_, answer):
                lines = answer.splitlines()  # the echo, QEMU's error, the prompt
                said = lines[-2].strip() if len(lines) >= 2 else answer.strip()
                raise MachineError(
                    f"Cannot convert screenshot (QEMU made none: {said!r}; the portable"
                    " driver's VMs have no display)"
                )

    def get_screen_text_variants(self) -> list[str]:
        with self._screendump() as (path, _):
            return perform_ocr_variants_on_screenshot(path)

    def get_screen_text(self) -> str:
        with self._screendump() as (path, _):
            return perform_ocr_on_screenshot(path)

    def wait_for_text(self, regex: str, timeout: int = 900) -> None:
        def on_screen(last_try: bool) -> bool:
            variants = self.get_screen_text_variants()  # raises here: no OCR
            found = any(re.search(regex, text) for text in variants)
            if last_try and not found:
                self.log(f"Last OCR attempt failed. Text was: {variants}")
            return found

        self._poll(f"waiting for {regex} to appear on screen", on_screen, timeout)

    def wait_for_x(self, timeout: int = 900) -> None:
        def ready(_last_try: bool) -> bool:
            return all(self.execute(command)[0] == 0 for command in _X_READY)

        self._poll("waiting for the X11 server", ready, timeout)

    def get_window_names(self) -> list[str]:
        return self.succeed(_WINDOW_NAMES).splitlines()  # no xwininfo: exit code 127

    def wait_for_window(self, regexp: str, timeout: int = 900) -> None:
        pattern = re.compile(regexp)

        def visible(last_try: bool) -> bool:
            names = self.get_window_names()
            if last_try:
                self.log(
                    f"Last chance to match {regexp} on the window list, which currently"
                    f" contains: {', '.join(names)}"
                )
            return any(pattern.search(name) for name in names)

        self._poll("waiting for a window to appear", visible, timeout)
