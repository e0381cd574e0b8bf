"""Per-meter state: gaps, late fills, resets, boots, anomalies; and its durable log (snapshot + appends)."""

from __future__ import annotations

import os
from collections import Counter

from core.consumption import Mark, Rule, Span
from core.readings import Reading
from ingest.state import MeterState, advance, fill, first
from ingest.statelog import StateLog
from storage.readings.stream import OpenHour

T0 = 1_764_000_000


def rd(seq: int, minute: int, total_ml: int, boot: int = 1, meter: str = "m") -> Reading:
    return Reading(meter, T0 + 60 * minute, total_ml, seq, boot)


def run(readings: list[Reading], max_flow_lpm: float = 1000.0):
    """New readings (newer than the newest) through advance; older ones through fill."""
    rule = Rule(max_flow_lpm=max_flow_lpm)
    state: MeterState | None = None
    events: Counter[str] = Counter()
    for r in readings:
        if state is None:
            state = first(r)
            events["new"] += 1
        elif r.ts_s > state.ts_s:
            evs: list[str] = []
            advance(state, r, rule, evs)
            events.update(evs)
        else:
            fill(state, r)
            events["late"] += 1
    return state, events


def test_steady_stream_is_all_new():
    state, events = run([rd(i, i, 1000 * i) for i in range(10)])
    assert events == Counter(new=10)
    assert (state.seq, state.total_ml, state.readings, state.missing) == (9, 9000, 10, 0)


def test_gap_reported_then_filled_by_late_out_of_order_replay():
    # seqs 0,1 then 5,6 arrive; 2,3,4 come later, newest first (a replay out of order)
    state, events = run([rd(0, 0, 0), rd(1, 1, 10), rd(5, 5, 50), rd(6, 6, 60), rd(4, 4, 40), rd(2, 2, 20)])
    assert events == Counter(new=4, gap=1, late=2)
    assert (state.gaps, state.missing, state.open_gaps, state.late) == (1, 1, [[3, 3]], 2)
    assert fill(state, rd(3, 3, 30)) and state.missing == 0 and state.open_gaps == []
    assert not fill(state, rd(9, 0, 30))  # late but in no known gap: counted, no gap changes


def test_register_set_is_new_boot_and_reset_not_an_anomaly():
    state, events = run([rd(0, 0, 5000), rd(1, 1, 6000), rd(2, 2, 100, boot=2), rd(3, 3, 200, boot=2)])
    assert events == Counter(new=4, new_boot=1, reset=1)
    assert (state.boot, state.resets, state.boots, state.anomalies) == (2, 1, 1, 0)


def test_total_decrease_within_a_boot_is_an_anomaly():
    # a 1 L drop on one boot: held by the consumption rule (no reset), flagged as a protocol violation
    _, events = run([rd(0, 0, 5000), rd(1, 1, 4000)])
    assert events == Counter(new=2, total_decrease=1)
    # beyond the reverse-flow limit (50 L) the same drop is also a reset (a new segment)
    _, events = run([rd(0, 0, 500_000), rd(1, 1, 400_000)])
    assert events == Counter(new=2, reset=1, total_decrease=1)


def test_upward_register_set_on_a_new_boot_is_a_reset_not_impossible_flow():
    """set_total_l starts a new boot (protocol v1): a rise no meter could pass is a new segment."""
    state, events = run([rd(0, 0, 5000), rd(1, 1, 5_000_000_000, boot=2)])
    assert events == Counter(new=2, new_boot=1, reset=1)
    assert state.anomalies == 0


def test_board_replaced_restarts_sequence_without_a_gap():
    state, events = run([rd(500, 0, 5000, boot=9), rd(0, 1, 0, boot=0), rd(1, 2, 10, boot=0)])
    assert events == Counter(new=3, new_boot=1, seq_restart=1, reset=1)
    assert state.missing == 0 and state.seq == 1


def test_impossible_flow():
    # 1000 L/min limit: 1000 L in a minute is fine, 1000.001 L is not
    _, events = run([rd(0, 0, 0), rd(1, 1, 1_000_000), rd(2, 2, 2_000_001)])
    assert events == Counter(new=3, impossible_flow=1)


def test_open_gaps_are_bounded():
    readings = [rd(2 * i, 2 * i, i) for i in range(100)]  # every other seq missing
    state, events = run(readings)
    assert events["gap"] == 99 and state.missing == 99
    assert len(state.open_gaps) == 16


def _state(seq: int) -> MeterState:
    span = Span(Mark(T0, 1000, 1), Mark(T0 + 60 * seq, 1000 + seq, 1), 1000 + seq, 0, 1000 + seq, 1, seq + 1)
    st = MeterState(1, seq, T0 + 60 * seq, 1000 + seq, OpenHour(T0 - 1, span, 1.5), readings=seq + 1)
    st.open_gaps = [[2, 3]] if seq % 2 else None
    return st


def test_state_log_keeps_every_appended_batch_across_restarts(tmp_path):
    log = StateLog(tmp_path, 3)
    assert log.load(lambda: True) == {} and log.authoritative  # a new partition on an empty store
    log.append({"a": _state(1), "b": _state(2)})
    log.append({"a": _state(5)})
    log.close()
    again = StateLog(tmp_path, 3)
    states = again.load(lambda: False)  # not asked again: the partition's header says authoritative
    assert again.authoritative
    assert states == {"a": _state(5), "b": _state(2)}
    again.compact(states)
    again.append({"c": _state(7)})
    again.close()
    third = StateLog(tmp_path, 3)
    assert third.load(lambda: False) == {"a": _state(5), "b": _state(2), "c": _state(7)}
    third.close()


def _v1_record(meter: str, s: MeterState) -> tuple:
    """A state as format 1 wrote it (the release before the flat records): the hour nested."""
    h = s.hour
    hour = None
    if h is not None:
        sp = h.span
        hour = (h.hour_s, tuple(sp.first), tuple(sp.last), *sp[2:], h.peak_lpm)
    gaps = tuple(tuple(g) for g in s.open_gaps) if s.open_gaps else None
    return (meter, s.boot, s.seq, s.ts_s, s.total_ml, hour, s.readings, s.duplicates, s.conflicts, s.late,
            s.gaps, s.missing, s.resets, s.boots, s.anomalies, gaps)  # fmt: skip


def test_a_state_written_by_the_previous_format_is_read_and_kept(tmp_path):
    """An upgrade: the snapshot and log of format 1 load as they were; new appends (format 2) join them."""
    from ingest.statelog import _VERSION, frame

    hourless = MeterState(1, 9, T0 + 540, 1009, None, readings=10, conflicts=2)
    (tmp_path / "p0.snap").write_bytes(
        frame({"format": 1, "python": _VERSION, "authoritative": True})
        + frame([_v1_record("a", _state(1)), _v1_record("h", hourless)])
    )
    (tmp_path / "p0.log").write_bytes(frame([_v1_record("b", _state(2))]))
    log = StateLog(tmp_path, 0)
    assert log.load(lambda: False) == {"a": _state(1), "b": _state(2), "h": hourless}
    assert log.authoritative
    log.append({"a": _state(3), "h": hourless})
    log.close()
    again = StateLog(tmp_path, 0)
    states = again.load(lambda: False)
    assert states == {"a": _state(3), "b": _state(2), "h": hourless}
    again.compact(states)  # rewritten in format 2
    again.close()
    assert StateLog(tmp_path, 0).load(lambda: False) == states


def test_a_torn_last_frame_is_dropped(tmp_path):
    """A crash mid-append: that batch was never acknowledged, so its state is dropped, the rest kept."""
    log = StateLog(tmp_path, 0)
    log.load(lambda: True)
    log.append({"a": _state(1)})
    log.append({"a": _state(2)})
    log.close()
    path = tmp_path / "p0.log"
    size = path.stat().st_size
    os.truncate(path, size - 5)
    again = StateLog(tmp_path, 0)
    assert again.load(lambda: True) == {"a": _state(1)}
    again.append({"b": _state(3)})  # appends go after the good prefix
    again.close()
    assert StateLog(tmp_path, 0).load(lambda: True) == {"a": _state(1), "b": _state(3)}


def test_a_partition_new_on_a_store_with_readings_is_not_authoritative(tmp_path):
    log = StateLog(tmp_path, 1)
    log.load(lambda: False)
    assert not log.authoritative


def test_clone_copies_every_field_and_the_gap_list():
    """The undo copy of a batch (ingest.pipeline): equal field by field, its gap list not shared."""
    from core.consumption import Mark, Span
    from ingest.state import FIELDS, MeterState
    from storage.readings.stream import OpenHour

    values = {f: i + 1 for i, f in enumerate(FIELDS)}
    values["hour"] = OpenHour(3600, Span.of(Mark(3000, 5, 1)), 1.5)
    values["open_gaps"] = [[3, 5], [9, 9]]
    st = MeterState(**values)
    dup = st.clone()
    assert dup == st and dup is not st
    dup.open_gaps[0][1] = 4  # type: ignore[index]
    dup.seq += 1
    assert st.open_gaps == [[3, 5], [9, 9]] and st.seq == values["seq"]
