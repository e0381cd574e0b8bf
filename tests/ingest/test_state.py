"""Per-meter state: gaps, late replays, duplicates, resets, boots; kept across StateDB instances."""

from __future__ import annotations

from collections import Counter

from core.readings import Reading
from ingest.state import StateDB, classify

T0 = 1_764_000_000


def rd(seq: int, minute: int, total_ml: int, boot: int = 1, meter: str = "m") -> Reading:
    return Reading(meter, T0 + 60 * minute, total_ml, seq, boot)


def run(readings: list[Reading], max_flow_lpm: float = 1000.0):
    state = None
    events: Counter[str] = Counter()
    for r in readings:
        state, evs = classify(state, r, max_flow_lpm)
        events.update(evs)
    return state, events


def test_steady_stream_is_all_new():
    state, events = run([rd(i, i, 1000 * i) for i in range(10)])
    assert events == Counter(new=10)
    assert (state.seq, state.total_ml, state.readings, state.missing) == (9, 9000, 10, 0)


def test_redelivered_readings_are_duplicates_and_change_nothing():
    readings = [rd(i, i, 1000 * i) for i in range(5)]
    state, events = run(readings + readings[2:] + readings[:1])
    assert events == Counter(new=5, duplicate=4)
    assert (state.seq, state.duplicates, state.readings) == (4, 4, 5)


def test_gap_reported_then_filled_by_late_out_of_order_replay():
    # seqs 0,1 then 5,6 arrive; 2,3,4 come later, newest first (a replay out of order)
    state, events = run([rd(0, 0, 0), rd(1, 1, 10), rd(5, 5, 50), rd(6, 6, 60), rd(4, 4, 40), rd(2, 2, 20)])
    assert events == Counter(new=4, gap=1, late=2)
    assert (state.gaps, state.missing, state.open_gaps, state.late) == (1, 1, [[3, 3]], 2)
    state, evs = classify(state, rd(3, 3, 30), 1000)
    assert evs == ["late"] and state.missing == 0 and state.open_gaps == []
    state, evs = classify(state, rd(3, 3, 30), 1000)  # the same late reading again
    assert evs == ["duplicate"]


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


def test_state_survives_a_new_connection_and_two_writers_interleave(tmp_path):
    path = str(tmp_path / "state.db")
    a, b = StateDB(path), StateDB(path)
    assert a.apply([rd(0, 0, 0), rd(1, 1, 10)]) == Counter(new=2)
    # worker b continues the same meter (e.g. the $share group gave it the next message)
    assert b.apply([rd(2, 2, 20), rd(1, 1, 10)]) == Counter(new=1, duplicate=1)
    a.close()
    b.close()
    c = StateDB(path)  # a restarted worker
    assert c.apply([rd(4, 4, 40)]) == Counter(new=1, gap=1)
    st = c.get("m")
    assert (st.seq, st.readings, st.duplicates, st.missing, st.open_gaps) == (4, 4, 1, 1, [[3, 3]])
    assert c.get("nobody") is None
    c.close()
