"""`python -m ingest.rollup --store URL`: build the hourly span roll-ups of readings already stored.

The ingest keeps `usage_1h` current for everything it writes (docs/schema.md). A database that
already held readings when (version 2, span) roll-ups were introduced needs this once; it ends by
writing the marker that lets the usage API read roll-ups instead of raw readings. Safe to rerun, and
to run while the ingest writes (both compute an hour from the readings stored).
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from storage.readings.influx import InfluxStore

WINDOW_S = 7 * 86_400  # one statement per meter and week: at most 10,080 minute readings each
METERS_PER_STEP = 10


def backfill(store: InfluxStore, progress: bool = True) -> int:
    """Roll up every stored hour of every meter, then write the marker; returns the meters done."""
    spans = store.reading_spans()
    work = [
        (meter, lo, min(lo + WINDOW_S - 1, hi))
        for meter, first, hi in spans
        for lo in range(first, hi + 1, WINDOW_S)
    ]
    with tqdm(total=len(work), unit="meter-week", disable=not progress, desc="roll-ups") as bar:
        for i in range(0, len(work), METERS_PER_STEP):
            chunk = work[i : i + METERS_PER_STEP]
            store.rebuild_rollups(chunk)
            bar.update(len(chunk))
    store.write_marker()
    return len(spans)


def main(argv: list[str] | None = None) -> int:
    """Run the backfill against one InfluxDB store."""
    p = argparse.ArgumentParser(prog="python -m ingest.rollup", description=__doc__)
    p.add_argument("--store", required=True, help="influx://HOST:PORT/DB (the ingest's store URL)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if not args.store.startswith("influx"):
        print("roll-ups exist only on InfluxDB stores", file=sys.stderr)
        return 2
    store = InfluxStore.from_url(args.store)
    try:
        meters = backfill(store, progress=not args.quiet)
    finally:
        store.close()
    print(f"hourly roll-ups built for {meters} meters; the usage API now reads them")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
