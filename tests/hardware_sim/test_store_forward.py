"""Store and forward: a full flash ring drops its oldest readings and says how many."""

from __future__ import annotations

from hardware_sim.faults import outage
from hardware_sim.fleet import run_boards
from tests.conftest import wait_for
from tests.hardware_sim.conftest import ScriptedFlow, StatusLog, make_board, sim_start

H = 3600


def test_full_ring_drops_oldest_and_reports_count(mosquitto, pipeline, tmp_path):
    status = StatusLog(mosquitto.port)
    start = sim_start(days_ago=1)
    # A 120-reading ring and a 3-hour Wi-Fi outage: 180 readings for 120 slots.
    board = make_board(
        tmp_path,
        "ring-1",
        mosquitto.port,
        start,
        6 * H,
        extra={"buffer_max": 120},
        faults=outage(1 * H, 3 * H, "wifi"),
        household=ScriptedFlow([(0, 6 * H)], 30.0),
    )
    run_boards([board], 6 * H + 900)
    stop = start + 6 * H + 900
    wait_for(
        lambda: pipeline.store.last_at_or_before("ring-1", stop) == board.expected_ml,
        timeout_s=30,
        what="final total",
    )
    assert board.expected_ml == board.pulses.registered_ml > 0

    seqs = [seq for _ts, seq, _b, _ml in pipeline.readings("ring-1")]
    missing = sorted(set(range(1, max(seqs) + 1)) - set(seqs))
    # 180 readings for 120 slots, plus those taken while the reconnect backoff (up to 300 s and
    # 25 % random jitter, so not the same every run) keeps the ring full after the link returns.
    assert 55 <= len(missing) <= 70, f"about 60 readings beyond the ring: {len(missing)}"
    assert missing == list(range(missing[0], missing[0] + len(missing))), "one block, no holes elsewhere"
    assert missing[0] <= 62, "the oldest readings of the outage are the ones dropped"

    def reported():
        counts = [d["dropped"] for t, d in status.messages if t.endswith("ring-1/status") and "dropped" in d]
        return counts and counts[-1]

    assert wait_for(reported, timeout_s=10, what="dropped on status") == len(missing)
    status.close()


def test_day_long_outage_loses_nothing(mosquitto, pipeline, tmp_path):
    start = sim_start(days_ago=2)
    board = make_board(
        tmp_path,
        "ring-2",
        mosquitto.port,
        start,
        26 * H,
        faults=outage(1 * H, 24 * H, "wifi"),
        household=ScriptedFlow([(0, 26 * H)], 5.0),
    )
    run_boards([board], 26 * H + 900)
    stop = start + 26 * H + 900
    wait_for(
        lambda: pipeline.store.last_at_or_before("ring-2", stop) == board.expected_ml,
        timeout_s=30,
        what="final total",
    )
    seqs = [seq for _ts, seq, _b, _ml in pipeline.readings("ring-2")]
    assert seqs == list(range(1, len(seqs) + 1)), "every reading of the 24 h outage arrived, once"
    assert len(seqs) >= (26 * H + 900) // 60
