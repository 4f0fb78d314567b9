"""Save PNGs of every main screen (each tab and sub-tab of the main window) at the sizes of an office's
screens, to look at what gets cut or crushed.

    python scripts/screenshots_sizes.py [--out /tmp/cmdesk-sizes] [--sizes 1024x768,1366x768,1920x1080]
    QT_SCALE_FACTOR=1.5 python scripts/screenshots_sizes.py --sizes 1920x1080

A size is the screen's, in device pixels: at `QT_SCALE_FACTOR=1.5` the window gets 1920/1.5 × 1080/1.5
logical pixels, as on the usual Windows laptop at 150 %. Each PNG is
`<out>/<size>[@<scale>x]/main-<tab>[-<sub-tab>].png`. Runs offscreen against the embedded default in a
temporary CMDESK_HOME, as `scripts/screenshots.py` does.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from screens_kit import Shots, run

DEFAULT_SIZES = "1024x768,1366x768,1920x1080"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default=DEFAULT_SIZES)
    args, rest = parser.parse_known_args(argv)
    sizes = [tuple(int(n) for n in size.split("x")) for size in args.sizes.split(",") if size]

    def shoot(out: Path, home: Path) -> int:
        return _shoot(out, [(w, h) for w, h in sizes])

    return run(__doc__, Path("/tmp/cmdesk-sizes"), "cmdesk-shots-sizes-", shoot, rest)


def _shoot(out: Path, sizes: list[tuple[int, int]]) -> int:
    scale = float(os.environ.get("QT_SCALE_FACTOR") or 1)
    kit = Shots(out, settle=0.3)
    window = kit.main_window()
    for width, height in sizes:
        folder = f"{width}x{height}" + (f"@{scale:g}x" if scale != 1 else "")
        (out / folder).mkdir(parents=True, exist_ok=True)
        kit.name_prefix = f"{folder}/"
        # The window fills the screen, less the taskbar (40 device pixels) and the title bar (30).
        window.resize(round(width / scale), round((height - 70) / scale))
        kit.pump(0.5)
        kit.every_tab(window)
    return kit.finish(window)


if __name__ == "__main__":
    sys.exit(main())
