"""`python -m ocr_reader IMAGE...`: one JSON object per image (bad files get an "error" field)."""

from __future__ import annotations

import argparse
import json
import sys

from ocr_reader.api import ENGINES, BadImage, read_photo

MAX_BYTES = 10_000_000


def read_file(path: str, engine: str, max_bytes: int = MAX_BYTES) -> dict:
    """Read one image file into a JSON-ready dict; errors become {"file", "error", "reason"}."""
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)  # never hold more than the limit in memory
        result = read_photo(data, max_bytes=max_bytes, engine=engine)
    except BadImage as err:
        return {"file": path, "error": str(err), "reason": err.reason}
    except OSError as err:
        return {"file": path, "error": f"cannot read file: {err.strerror or err}", "reason": "unreadable"}
    return {"file": path, **result.as_dict()}


def main(argv: list[str] | None = None) -> int:
    """Print one JSON line per image; exit 1 when any image could not be read."""
    ap = argparse.ArgumentParser(prog="python -m ocr_reader", description=__doc__)
    ap.add_argument("images", nargs="+", metavar="IMAGE")
    ap.add_argument("--engine", choices=ENGINES, default="auto")
    ap.add_argument("--max-bytes", type=int, default=MAX_BYTES)
    args = ap.parse_args(argv)
    failed = False
    for path in args.images:
        out = read_file(path, args.engine, args.max_bytes)
        failed |= "error" in out
        print(json.dumps(out), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
