"""InfluxDB line protocol for readings, roll-ups and rejections (schema: docs/schema.md)."""

from __future__ import annotations

from core.consumption import Mark, Span
from core.ids import METER_ID_RE
from core.readings import Reading, Rejection, Source
from core.units import HOUR_S, litres_text

MEASUREMENT = "reading"
REJECT_MEASUREMENT = "rejected"
REJECT_FROM = f'"{REJECT_MEASUREMENT}"'  # qualified by its retention policy when one is set
FLOW_FIELD = "flow_lpm"
# Hourly roll-up of `reading` (docs/schema.md): one point per meter and hour (H, H+3600], stamped H+1
# so the same right-closed GROUP BY time(..., offset) puts it where its readings go. Its fields are the
# hour's `Span` (core.consumption), so usage from roll-ups equals usage from readings across resets.
ROLLUP_MEASUREMENT = "usage_1h"
ROLLUP_META = "rollup_meta"  # present once every hour of `reading` has its roll-up
ROLLUP_VERSION = 2  # 2: the roll-ups carry spans (version 1 had only the last total: not enough)
# A span is one string field, its 11 numbers joined by ":" (first ts, ml, boot; last ts, ml, boot; first
# segment's max; use after it; last segment's max; segments; readings; an absent boot is empty): the
# usage API reads one field per hour instead of eleven (a 30-day query 1.3x faster here).
SPAN_FIELD = "span"


def hour_of(ts_s: int) -> int:
    """H for the hour (H, H+3600] that holds a reading stamped ts_s."""
    return (ts_s - 1) // HOUR_S * HOUR_S


def _flow(value: float) -> str:
    # A drop must stay negative when rounded (-0.000000 would read as no drop): the sign is data.
    text = f"{value:.6f}"
    if value > 0:  # the common reading: no sign to keep
        return text
    return "-0.000001" if text == "-0.000000" else text


def reading_line(r: Reading, flow: float | None = None) -> str:
    """One point; meter ids are [A-Za-z0-9_-] so tags need no escaping.

    `flow` (L/min since the meter's previous reading) is stored as `flow_lpm` so peak flow is a
    plain max() in InfluxDB; None for a meter's first reading.
    """
    extra = "" if flow is None else f",{FLOW_FIELD}={_flow(flow)}"
    conf = "" if r.confidence is None else f",confidence={r.confidence!r}"
    return (
        f"{MEASUREMENT},meter={r.meter} total_l={litres_text(r.total_ml)},seq={r.seq}i,boot={r.boot}i,"
        f"{_SOURCE_FIELD[r.source]}{conf}{extra} {r.ts_s}"
    )


_SOURCE_FIELD = {s: f'source="{s.value}"' for s in Source}  # the enum's .value is a slow property


def flow_line(meter: str, ts_s: int, flow: float) -> str:
    """Only the flow field of a stored point (its predecessor changed): InfluxDB merges the fields."""
    return f"{MEASUREMENT},meter={meter} {FLOW_FIELD}={_flow(flow)} {ts_s}"


def span_text(span: Span) -> str:
    """The span as the roll-up's `span` field."""
    f, last = span.first, span.last
    return ":".join(
        "" if v is None else str(v)
        for v in (
            f.ts_s, f.total_ml, f.boot, last.ts_s, last.total_ml, last.boot,
            span.head_max_ml, span.tail_used_ml, span.tail_max_ml, span.segments, span.n,
        )
    )  # fmt: skip


def span_of_text(text: str | None) -> Span | None:
    """The span of a roll-up's `span` field; None when absent or malformed (a version-1 roll-up)."""
    if not text:
        return None
    p = text.split(":")
    if len(p) != 11:
        return None
    try:
        return Span(
            Mark(int(p[0]), int(p[1]), int(p[2]) if p[2] else None),
            Mark(int(p[3]), int(p[4]), int(p[5]) if p[5] else None),
            int(p[6]),
            int(p[7]),
            int(p[8]),
            int(p[9]),
            int(p[10]),
        )
    except ValueError:
        return None


def rollup_line(meter: str, hour_s: int, span: Span, peak_lpm: float | None) -> str:
    """The hour (hour_s, hour_s+3600]: its span, last total and count (for dashboards), top flow_lpm."""
    peak = "" if peak_lpm is None else f",peak_flow_lpm={_flow(peak_lpm)}"
    return (
        f"{ROLLUP_MEASUREMENT},meter={meter} total_l={litres_text(span.last.total_ml)},n={span.n}i,"
        f'{SPAN_FIELD}="{span_text(span)}"{peak} {hour_s + 1}'
    )


# The roll-up fields the read side asks for, in this order: rows are [time, span, peak].
ROLLUP_FIELDS = f'"{SPAN_FIELD}","peak_flow_lpm"'


def marker_line(now_s: int) -> str:
    """The point that says every hour has its (version 2) roll-up."""
    return f"{ROLLUP_META} complete=true,version={ROLLUP_VERSION}i {now_s}"


def _field_str(text: str) -> str:
    """Quoted string field; control characters become spaces (a newline would end the line)."""
    clean = "".join(" " if ord(ch) < 32 else ch for ch in text)
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


def meter_of_topic(topic: str) -> str:
    """The meter id a device topic names (`…/<meter_id>/readings`), else "" (the dead letter's meter)."""
    parts = topic.rsplit("/", 2)
    return parts[1] if len(parts) == 3 and parts[2] == "readings" and METER_ID_RE.fullmatch(parts[1]) else ""


def rejection_line(rej: Rejection, time_ns: int | None = None) -> str:
    """Dead-letter point, at receive time in ns (or time_ns, which the caller keeps distinct).

    `reason` is a tag (a few values); `meter` a field (a tag would let a flood of bad ids make series).
    """
    payload = rej.payload[:1024].decode("utf-8", errors="replace")
    return (
        f"{REJECT_MEASUREMENT},reason={rej.reason} topic={_field_str(rej.topic[:256])},"
        f"meter={_field_str(meter_of_topic(rej.topic))},"
        f"detail={_field_str(rej.detail[:512])},payload={_field_str(payload)} "
        f"{int(rej.received_s * 1e9) if time_ns is None else time_ns}"
    )
