"""Export a validated series: CSV, and FIWARE WaterConsumptionObserved as NGSI-LD normalized JSON."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from core.units import litres_text as _litres
from vee.model import Series

NGSI_LD_CONTEXT = [
    "https://raw.githubusercontent.com/smart-data-models/dataModel.WaterConsumption/master/context.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
]
CSV_COLUMNS = [
    "point",
    "meter",
    "ts",
    "ts_s",
    "total_l",
    "consumption_l",
    "status",
    "segment",
    "flags",
    "source",
    "raw_total_l",
]


def _iso(ts_s: int) -> str:
    return datetime.fromtimestamp(ts_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _points(series: Series, start_s: int | None, stop_s: int | None):
    return [
        p
        for p in series.points
        if (start_s is None or p.ts_s > start_s) and (stop_s is None or p.ts_s <= stop_s)
    ]


def to_csv(series: Series, start_s: int | None = None, stop_s: int | None = None) -> str:
    """One row per validated point; litres with exactly 3 decimals (no float rounding)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for p in _points(series, start_s, stop_s):
        w.writerow(
            [
                series.point,
                p.meter,
                _iso(p.ts_s),
                p.ts_s,
                _litres(p.total_ml),
                _litres(p.cum_ml),
                p.status.value,
                p.segment,
                ";".join(p.flags),
                p.source.value if p.source else "",
                "" if p.raw_ml is None else _litres(p.raw_ml),
            ]
        )
    return buf.getvalue()


def to_ngsi_ld(series: Series, start_s: int | None = None, stop_s: int | None = None) -> dict:
    """The point as one WaterConsumptionObserved entity with the temporal evolution of `waterConsumption`.

    `waterConsumption` is the meter's register (cumulative litres, unitCode LTR) at `observedAt`,
    observed by the physical meter (`observedBy`). Estimated and edited instances carry an extra
    sub-property `validationStatus` (our extension) so consumers can tell them from actual reads.
    """
    instances = []
    for p in _points(series, start_s, stop_s):
        inst = {
            "type": "Property",
            "value": p.total_ml / 1000,
            "unitCode": "LTR",
            "observedAt": _iso(p.ts_s),
            "observedBy": {"type": "Relationship", "object": f"urn:ngsi-ld:Device:{p.meter}"},
        }
        if p.status.value != "actual":
            inst["validationStatus"] = {"type": "Property", "value": p.status.value}
        instances.append(inst)
    entity = {
        "id": f"urn:ngsi-ld:WaterConsumptionObserved:{series.point}",
        "type": "WaterConsumptionObserved",
        "waterConsumption": instances,
        "@context": NGSI_LD_CONTEXT,
    }
    return entity
