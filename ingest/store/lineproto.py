"""InfluxDB line protocol for readings (schema: docs/schema.md)."""

from __future__ import annotations

from ingest.model import Reading, Rejection

MEASUREMENT = "reading"
REJECT_MEASUREMENT = "rejected"
FLOW_FIELD = "flow_lpm"
# Hourly roll-up of `reading` (docs/schema.md): one point per meter and hour (H, H+3600],
# stamped H+1 so the same right-closed GROUP BY time(..., offset) puts it where its readings go.
ROLLUP_MEASUREMENT = "usage_1h"
ROLLUP_META = "rollup_meta"  # present once every hour of `reading` has its roll-up
HOUR_S = 3600


def hour_of(ts_s: int) -> int:
    """H for the hour (H, H+3600] that holds a reading stamped ts_s."""
    return (ts_s - 1) // HOUR_S * HOUR_S


def _litres(total_ml: int) -> str:
    return f"{total_ml // 1000}.{total_ml % 1000:03d}"


def flow_lpm(prev_ts_s: int, prev_total_ml: int, ts_s: int, total_ml: int) -> float:
    """Litres per minute since the previous reading (negative across a reset)."""
    return (total_ml - prev_total_ml) / 1000 / ((ts_s - prev_ts_s) / 60)


def _flow(value: float) -> str:
    return f"{value:.6f}"


def reading_line(r: Reading, flow: float | None = None) -> str:
    """One point; meter ids are [A-Za-z0-9_-] so tags need no escaping.

    `flow` (L/min since the meter's previous reading) is stored as `flow_lpm` so peak flow is a
    plain max() in InfluxDB; None for a meter's first reading.
    """
    extra = "" if flow is None else f",{FLOW_FIELD}={_flow(flow)}"
    return (
        f"{MEASUREMENT},meter={r.meter} total_l={_litres(r.total_ml)},seq={r.seq}i,boot={r.boot}i,"
        f'source="{r.source}"{extra} {r.ts_s}'
    )


def flow_line(meter: str, ts_s: int, flow: float) -> str:
    """Only the flow field of a stored point (its predecessor changed): InfluxDB merges the fields."""
    return f"{MEASUREMENT},meter={meter} {FLOW_FIELD}={_flow(flow)} {ts_s}"


def rollup_line(meter: str, hour_s: int, last_total_ml: int, peak_lpm: float | None, n: int) -> str:
    """The hour (hour_s, hour_s+3600]: last register total, highest flow_lpm, readings in it."""
    peak = "" if peak_lpm is None else f",peak_flow_lpm={_flow(peak_lpm)}"
    return f"{ROLLUP_MEASUREMENT},meter={meter} total_l={_litres(last_total_ml)},n={n}i{peak} {hour_s + 1}"


def _field_str(text: str) -> str:
    """Quoted string field; control characters become spaces (a newline would end the line)."""
    clean = "".join(" " if ord(ch) < 32 else ch for ch in text)
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rejection_line(rej: Rejection, time_ns: int | None = None) -> str:
    """Dead-letter point, at receive time in ns (or time_ns, which the caller keeps distinct)."""
    payload = rej.payload[:1024].decode("utf-8", errors="replace")
    return (
        f"{REJECT_MEASUREMENT},reason={rej.reason} topic={_field_str(rej.topic[:256])},"
        f"detail={_field_str(rej.detail[:512])},payload={_field_str(payload)} "
        f"{int(rej.received_s * 1e9) if time_ns is None else time_ns}"
    )
