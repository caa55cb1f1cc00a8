"""The kernel config fragment: parse it, and check that a finished .config honours it."""

from __future__ import annotations

import re
from pathlib import Path

_SET = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


def parse_config(text: str) -> dict[str, str]:
    """CONFIG_X -> value ("y", "m", "64", '"str"'), with "n" for `# CONFIG_X is not set`."""
    options: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if m := _SET.match(line):
            options[m[1]] = m[2]
        elif m := _UNSET.match(line):
            options[m[1]] = "n"
    return options


def unmet_options(fragment: Path, dot_config: Path) -> dict[str, tuple[str, str]]:
    """Options of the fragment whose value did not survive olddefconfig: name -> (want, got)."""
    want = parse_config(fragment.read_text())
    got = parse_config(dot_config.read_text())
    return {k: (v, got.get(k, "n")) for k, v in want.items() if got.get(k, "n") != v}
