"""Fleet mode: firmware boards and light meters together, with leaks, into the real ingest and InfluxDB.

Every meter's stored total must equal its ground truth exactly, every minute must have
its one reading, and the leak ground truth must add up: the household's own use plus
the leaked litres is what was drawn, and the store shows each burst's litres.
"""

from __future__ import annotations

import json

import pytest

from hardware_sim.fleet import FleetSpec, run_fleet
from hardware_sim.household import Household
from tests.conftest import wait_for
from tests.hardware_sim.conftest import StatusLog, sim_start

H = 3600
DURATION_S = 5 * H
L_PER_PULSE = 0.5
PLAN = {  # virtual seconds from the start; both models get every kind
    "fl-0000": [{"kind": "burst", "start_s": 1 * H, "end_s": 1 * H + 1500, "flow_lph": 30 * 60}],
    "fl-0001": [{"kind": "toilet", "start_s": 600, "end_s": DURATION_S, "flow_lph": 12.0}],
    "fl-0002": [{"kind": "drip", "start_s": 0, "end_s": DURATION_S, "flow_lph": 1.0}],
    "fl-0003": [
        {"kind": "burst", "start_s": 2 * H, "end_s": 2 * H + 900, "flow_lph": 40 * 60},
        {"kind": "toilet", "start_s": 3 * H, "end_s": 10 * H, "flow_lph": 25.0},
    ],
    "fl-0017": [{"kind": "burst", "start_s": 4 * H + 120, "end_s": 4 * H + 1320, "flow_lph": 20 * 60}],
}


def _household_only_l(summary: dict, truth: dict) -> float:
    """Litres the same household draws in the run without its leaks (an independent redraw)."""
    house = Household(seed=truth["household_seed"], start_weekday=summary["household_start_weekday"])
    t0 = summary["household_offset_s"]
    return house.litres(t0, t0 + summary["duration_s"])


@pytest.mark.timeout(90)
def test_mixed_fleet_totals_and_leaks_match_ground_truth(mosquitto, pipeline, tmp_path):
    status = StatusLog(mosquitto.port)
    start = sim_start(days_ago=1)
    summary = run_fleet(
        FleetSpec(
            meters=32,
            firmware_meters=2,
            duration_s=DURATION_S,
            broker_host="127.0.0.1",
            broker_port=mosquitto.port,
            start_unix_s=start,
            seed=5,
            id_prefix="fl",
            state_dir=tmp_path / "boards",
            progress=False,
            l_per_pulse=L_PER_PULSE,
            leak_plan=PLAN,
        )
    )
    json.dumps(summary)  # the ground truth is plain JSON
    meters = summary["meters"]
    assert (summary["firmware_meters"], summary["light_meters"], summary["light_unsent"]) == (2, 30, 0)
    assert [m for m, t in meters.items() if t["model"] == "firmware"] == ["fl-0000", "fl-0001"]
    stop = start + DURATION_S + 75

    def stored_totals():
        return {m: pipeline.store.last_at_or_before(m, stop) for m in meters}

    truth = {m: round(t["expected_l"] * 1000) for m, t in meters.items()}
    wait_for(lambda: stored_totals() == truth, timeout_s=30, what="every meter's final total in InfluxDB")
    assert sum(1 for ml in truth.values() if ml > 0) >= 28, "households draw water"

    for meter, t in meters.items():
        assert t["expected_l"] == t["registered_l"] and t["resets"] == [], meter
        rows = pipeline.readings(meter)
        ts = [r[0] for r in rows]
        if t["model"] == "firmware":  # a board's reading at boot comes after its boot and Wi-Fi join
            assert start <= ts[0] < start + 60, f"{meter}: the reading at boot"
            ts = [start] + ts[1:]
        assert ts == list(range(start, stop, 60)), f"{meter}: one reading per minute, on the minute"
        seqs = [r[1] for r in rows]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"{meter}: seq gaps or repeats"
        assert rows[0][3] == 0 and [r[3] for r in rows] == sorted(r[3] for r in rows), meter

        # Leak ground truth: the plan, its litres, and drawn = household's own use + leaks.
        planned = PLAN.get(meter, [])
        got = [(lk["kind"], lk["flow_lph"]) for lk in t["leaks"]]
        assert got == [(p["kind"], p["flow_lph"]) for p in planned], meter
        expect_leaked = sum(
            p["flow_lph"] / 3600 * (min(p["end_s"], DURATION_S) - p["start_s"]) for p in planned
        )
        assert t["leaked_l"] == pytest.approx(expect_leaked, abs=0.002), meter
        for lk, p in zip(t["leaks"], planned, strict=True):
            assert lk["start_unix_s"] == start + p["start_s"]
            assert lk["end_unix_s"] == start + min(p["end_s"], DURATION_S)
        own_l = _household_only_l(summary, t)
        assert t["drawn_l"] == pytest.approx(own_l + t["leaked_l"], abs=0.003), meter
        assert t["drawn_l"] - L_PER_PULSE < t["registered_l"] <= t["drawn_l"], meter

        # Each burst shows in the stored totals: at least its litres between its start and end.
        by_ts = {r[0]: r[3] for r in rows}
        for lk in t["leaks"]:
            if lk["kind"] == "burst":
                a = lk["start_unix_s"] - lk["start_unix_s"] % 60
                b = lk["end_unix_s"] - lk["end_unix_s"] % 60 + 60
                used_l = (by_ts[b] - by_ts[a]) / 1000
                assert used_l >= lk["leaked_l"] - L_PER_PULSE, (meter, used_l, lk)

    # Light meters speak the status protocol too: retained birth, then a clean offline.
    def light_states():
        states = {}
        for topic, doc in status.messages:
            if topic.startswith("wm/v1/fl-") and int(topic.split("/")[2][3:]) >= 2:
                states.setdefault(topic.split("/")[2], []).append(doc["state"])
        return len(states) == 30 and all(s[0] == "online" and s[-1] == "offline" for s in states.values())

    wait_for(light_states, timeout_s=10, what="online then offline status of every light meter")
    births = [d for tp, d in status.messages if tp == "wm/v1/fl-0005/status" and d["state"] == "online"]
    assert births[0]["v"] == 1 and births[0]["boot"] == 1 and births[0]["interval_s"] == 60
    status.close()


@pytest.mark.timeout(60)
def test_light_meters_take_remote_config_like_the_firmware(mosquitto, pipeline):
    """A retained set_total_l reaches a light meter on connect; a bad request is refused with a reason."""
    from tests.hardware_sim.conftest import publish

    publish(mosquitto.port, "wm/v1/cfg-0001/config", '{"v": 1, "id": "c-7", "set_total_l": "7000.125"}')
    publish(mosquitto.port, "wm/v1/cfg-0002/config", '{"v": 1, "id": "c-8", "l_per_pulse": 0}')
    status = StatusLog(mosquitto.port)
    start = sim_start(days_ago=1)
    summary = run_fleet(
        FleetSpec(
            meters=3,
            firmware_meters=0,
            duration_s=2 * H,
            broker_host="127.0.0.1",
            broker_port=mosquitto.port,
            start_unix_s=start,
            seed=8,
            id_prefix="cfg",
            progress=False,
            speed=3600.0,
        )
    )
    meters = summary["meters"]
    stop = start + 2 * H + 75
    for meter, t in meters.items():
        want_ml = round(t["expected_l"] * 1000)
        wait_for(
            lambda m=meter, ml=want_ml: pipeline.store.last_at_or_before(m, stop) == ml,
            timeout_s=20,
            what=f"{meter} final register",
        )
    set_meter = meters["cfg-0001"]
    assert set_meter["expected_l"] >= 7000.125 and set_meter["expected_l"] != set_meter["registered_l"]
    boots = {r[2] for r in pipeline.readings("cfg-0001")}
    assert boots == {1, 2}, "a register set shows as a new boot"
    assert meters["cfg-0002"]["expected_l"] == meters["cfg-0002"]["registered_l"]

    def results():
        return {tp.split("/")[2]: d["config"] for tp, d in status.messages if "config" in d}

    got = wait_for(lambda: len(results()) == 2 and results(), timeout_s=10, what="config results")
    assert got["cfg-0001"] == {"id": "c-7", "ok": True}
    assert got["cfg-0002"] == {"id": "c-8", "ok": False, "error": "l_per_pulse must be 0.001..1000 L"}
    status.close()
