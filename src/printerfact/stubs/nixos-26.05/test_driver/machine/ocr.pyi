# nixpkgs nixos-26.05: nixos/lib/test-driver/src/test_driver/machine/ocr.py (c615d4bf)
from pathlib import Path

def perform_ocr_on_screenshot(screenshot_path: Path) -> str: ...
def perform_ocr_variants_on_screenshot(
    screenshot_path: Path, variants: bool = True
) -> list[str]: ...
