"""nixos-26.05's `test_driver.machine.ocr`: as nixpkgs without `enableOCR`."""

from printerfact.driver.ocr import perform_ocr_on_screenshot, perform_ocr_variants_on_screenshot

__all__ = ["perform_ocr_on_screenshot", "perform_ocr_variants_on_screenshot"]
