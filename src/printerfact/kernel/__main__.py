"""`python -m printerfact.kernel`: build (or take from the cache) kernel, module and image."""

from __future__ import annotations

import argparse
import sys
import time

from . import flavour
from .artifacts import BUILD_ERRORS, ensure_artifacts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m printerfact.kernel", description=__doc__)
    parser.add_argument(
        "-j", "--jobs", type=int, help="parallel kernel build jobs (default: cores+1)"
    )
    parser.add_argument(
        "--flavour",
        choices=sorted(flavour.FLAVOURS),
        default=None,
        help=f"kernel flavour (default: ${flavour.ENV} or {flavour.DEFAULT})",
    )
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        art = ensure_artifacts(args.flavour, args.jobs)
    except BUILD_ERRORS as e:
        print(f"build failed: {e}", file=sys.stderr)
        return 2
    print(f"kernel  {art.kernel_image} ({art.kernel_release}, {art.flavour})")
    print(f"kbuild  {art.kbuild_dir}")
    print(f"module  {art.module_ko}")
    print(f"image   {art.initrd}")
    print(f"build: ready in {time.monotonic() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
