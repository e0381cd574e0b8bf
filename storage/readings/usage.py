"""Use per interval from a store: the grid of one meter fetched through the Store contract, then the
one consumption rule (core.usage / core.consumption). Every caller goes through here or flows.py."""

from __future__ import annotations

from core.consumption import DEFAULT_RULE, Rule, Span, mark
from core.timegrid import common_step_s
from core.units import HOUR_S
from core.usage import MeterGrid, Usage, check_grid, usage_from_grid
from storage.readings.base import Store


def store_grid(store: Store, meter: str, b0: int, bn: int, step_s: int) -> MeterGrid:
    """The grid from the Store contract: the anchor reading and the spans of each step."""
    anchor = store.last_reading(meter, b0)
    triples = store.step_spans(meter, b0, bn, step_s)
    peaks = {s: p for s, _span, p in triples if p is not None and p >= 0}
    return MeterGrid(
        [(s, span) for s, span, _p in triples], None if anchor is None else Span.of(mark(anchor)), peaks
    )


def usage_on_grid(
    store: Store, meter: str, bounds: list[int], step_s: int, rule: Rule = DEFAULT_RULE
) -> Usage:
    """Use in each (bounds[i], bounds[i+1]], read from the store in whole steps of step_s.

    Every boundary must lie on bounds[0] + k·step_s, which lets calendar buckets (local days, months
    across DST) be built from one uniform store query.
    """
    check_grid(bounds, step_s)
    return usage_from_grid(store_grid(store, meter, bounds[0], bounds[-1], step_s), bounds, step_s, rule)


def usage(
    store: Store, meter: str, start_s: int, stop_s: int, every_s: int, rule: Rule = DEFAULT_RULE
) -> Usage:
    """Use in (start+k·every, start+(k+1)·every], the last interval cut at stop.

    The anchor is the last reading at or before `start`; with none, the first reading in the range
    (water before a meter's first reading is unknown, not zero). Steps are at most an hour whatever
    `every` is, but any step gives the same litres: the rule is exact at every resolution.
    """
    bounds = [*range(start_s, stop_s, every_s), stop_s]
    return usage_on_grid(store, meter, bounds, common_step_s(bounds, HOUR_S), rule)
