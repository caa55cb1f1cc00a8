"""OCR, as nixpkgs' `test_driver.machine.ocr` (26.05: c615d4bf) on a driver without
`enableOCR`: nixpkgs then puts no `tesseract` on the driver's PATH, so every OCR call raises
this MachineError.  The portable driver never offers OCR (its VMs have no display either), so
it raises it always, whatever the host has installed.
"""

from __future__ import annotations

from pathlib import Path

from printerfact.driver.errors import MachineError

TESSERACT_MISSING = "OCR requested but `tesseract` is not available"


def perform_ocr_on_screenshot(screenshot_path: Path) -> str:
    """Text on a screenshot; here, nixpkgs' error without tesseract."""
    return perform_ocr_variants_on_screenshot(screenshot_path, False)[0]


def perform_ocr_variants_on_screenshot(screenshot_path: Path, variants: bool = True) -> list[str]:
    """Texts of a screenshot and its processed variants; here, nixpkgs' error without
    tesseract (its first check, before any image processing)."""
    raise MachineError(TESSERACT_MISSING)
