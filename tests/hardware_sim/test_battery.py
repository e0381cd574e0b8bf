"""Battery mode: deep sleep, the ULP counting and keeping minute totals, hourly uploads, the energy budget."""

from __future__ import annotations

from hardware_sim.faults import outage
from hardware_sim.fleet import run_boards
from tests.conftest import wait_for
from tests.hardware_sim.conftest import ScriptedFlow, make_board, sim_start

H = 3600
D = 86400


def test_battery_meter_sleeps_counts_every_minute_and_lasts_ten_years(mosquitto, pipeline, tmp_path):
    start = sim_start(days_ago=2)
    # Water in the morning and evening; the Wi-Fi is gone for one upload (readings wait for the next).
    flow = ScriptedFlow([(1 * H, 2 * H), (12 * H, 12.5 * H), (20 * H, 21 * H)], 45.0)
    board = make_board(
        tmp_path,
        "bat-1",
        mosquitto.port,
        start,
        D,
        l_per_pulse=1.0,
        household=flow,
        extra={"mode": "battery", "upload_min": 60},
        faults=outage(5.5 * H, 1.2 * H),
        drain_s=2 * H,
    )
    run_boards([board], D + 2 * H)
    stop = start + D + 2 * H
    assert board.resets == [] and board.repl_at_ms == [], list(board.log)[-5:]
    wait_for(
        lambda: pipeline.store.last_at_or_before("bat-1", stop) == board.pulses.registered_ml,
        timeout_s=30,
        what="the battery meter's final total",
    )
    assert board.pulses.registered_ml >= 100_000
    rows = pipeline.readings("bat-1")
    minutes = {ts // 60 for ts, *_x in rows}
    first = rows[0][0] // 60
    missing = [m for m in range(first, (start + D) // 60) if m not in minutes]
    assert missing == [], f"minute readings missing while asleep: {len(missing)}, e.g. {missing[:3]}"
    wakes = sum(1 for line in board.log if line.startswith("battery: sleeping"))
    assert 24 <= wakes <= 30, wakes
    budget = board.power.per_day()
    assert budget["awake_s_per_day"] < 400, budget
    years = budget["years"]["Li-SOCl2 D cell (19 Ah, e.g. Tadiran TL-5930)"]
    assert years >= 10, budget
