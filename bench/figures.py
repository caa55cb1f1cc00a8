"""Printing and saving benchmark figures: one line per figure with its goal, and JSON."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path


def report(
    figures: Mapping[str, float],
    goals: Mapping[str, float],
    floors: Collection[str] = (),
) -> None:
    """A goal is a ceiling (times) unless the figure is named in `floors` (ratios)."""
    for name, value in figures.items():
        goal = goals.get(name)
        note = ""
        if goal is not None:
            floor = name in floors
            met = value >= goal if floor else value <= goal
            note = f"  (goal {'>=' if floor else '<='} {goal:g}: {'met' if met else 'missed'})"
        print(f"{name:34s} {value:14.3f}{note}")


def write_json(figures: Mapping[str, float], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
