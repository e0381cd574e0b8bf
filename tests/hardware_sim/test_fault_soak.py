"""Fault soak: the real firmware through every fault, repeatedly, into the real ingest and InfluxDB.

The litres stored must equal the ground truth exactly, except what each power loss or
watchdog reset lost, which must stay inside the bound of docs/firmware.md; no reading
may be stored twice and no reading may be lost to an outage.
"""

from __future__ import annotations

import pytest

from hardware_sim.clock import VirtualClock
from hardware_sim.faults import Fault, outage, random_plan
from hardware_sim.fleet import run_boards
from hardware_sim.household import Leak
from tests.conftest import wait_for
from tests.hardware_sim.conftest import make_board, sim_start

DURATION_S = 2 * 86400
COMMIT_ML = 2000  # firmware default commit_l
POLL_S = 5  # firmware default counter_poll_s
MAX_FLOW_LPM = 40.0  # the strongest burst the households below draw, alone
BOOT_S = 1.2  # hardware_sim.device.COLD_BOOT_MS
SEG = 16  # firmware store.SEG: unsent readings reach flash 16 at a time


def _broker_faults(mosquitto) -> list[Fault]:
    return [
        Fault(4 * 3600, "call", lambda _b: mosquitto.stop()),  # broker down for 24 hours
        Fault(28 * 3600, "call", lambda _b: mosquitto.start()),
        Fault(36 * 3600, "call", lambda _b: (mosquitto.stop(), mosquitto.start())),  # broker restart
    ]


def _plans(mosquitto) -> dict[str, dict]:
    resets = ("power_loss", "watchdog")
    others = ("clock_jump", "bounce_on", "bounce_off")
    return {
        "soak-a": dict(
            seed=11,
            faults=random_plan(101, DURATION_S, 5400, resets)
            + random_plan(102, DURATION_S, 7200, others)
            + [Fault(20 * 3600, "bounce_on", 3), Fault(26 * 3600, "bounce_off")]
            # resets while a burst runs, when the most is in flight
            + random_plan(103, 13 * 3600 + 1800, 240, resets, start_s=13 * 3600),
            leaks=[Leak("burst", 13 * 3600, 13 * 3600 + 1800, MAX_FLOW_LPM * 60)],
        ),
        "soak-b": dict(
            seed=12,
            ntp_up=False,  # starts with an unsynced clock
            faults=[Fault(2400, "ntp_up")]
            + outage(3 * 3600, 25 * 3600, "wifi")
            + random_plan(201, DURATION_S, 7200, resets + ("wifi_down", "wifi_up", "clock_jump"))
            + [Fault(DURATION_S - 600, "wifi_up")],
            leaks=[Leak("toilet", 0, DURATION_S, 6.0)],
        ),
        "soak-c": dict(
            seed=13,
            faults=_broker_faults(mosquitto) + random_plan(301, DURATION_S, 4000, resets),
            leaks=[Leak("drip", 0, DURATION_S, 1.0)],
        ),
    }


@pytest.mark.timeout(240)
def test_litres_survive_every_fault(mosquitto, pipeline, tmp_path):
    """Two simulated days of three boards in a 64 KiB heap, with every fault many times."""
    start = sim_start(days_ago=3)
    # One virtual clock: soak-c's broker outage is everyone's, at the same virtual time.
    clock = VirtualClock(slack_ms=120_000)
    boards = [
        make_board(tmp_path, meter, mosquitto.port, start, DURATION_S, heap="80k", clock=clock, **kw)
        for meter, kw in _plans(mosquitto).items()
    ]
    run_boards(boards, DURATION_S + 900)
    stop = start + DURATION_S + 900

    for b in boards:
        kinds = {r["kind"] for r in b.resets}
        assert kinds == {"power_loss", "watchdog"}, f"{b.meter_id} should see both resets: {b.resets}"
        try:
            wait_for(
                lambda b=b: pipeline.store.last_at_or_before(b.meter_id, stop) == b.expected_ml,
                timeout_s=60,
                what=f"{b.meter_id} final total {b.expected_ml} ml",
            )
        except BaseException as err:  # say what was stored, for a failure seen once in CI (soak-b)
            state = pipeline.worker.state_of(b.meter_id)
            raise AssertionError(
                f"{b.meter_id}: stored last {pipeline.store.last_at_or_before(b.meter_id, stop)} ml of "
                f"{b.expected_ml}; {len(pipeline.readings(b.meter_id))} readings; ingest state "
                f"{state.as_dict(b.meter_id) if state else None}; resets {b.resets}; worker events "
                f"{dict(pipeline.worker.events)}, rejected {pipeline.worker.rejected}, health "
                f"{pipeline.worker.health()}; board's last lines {list(b.log)[-25:]}"
            ) from err

        for r in b.resets:
            assert r["lost_ml"] is not None, f"{b.meter_id}: reset without a boot line: {r}"
            assert r["lost_ml"] >= 0, f"{b.meter_id} counted water that never flowed: {r}"
            boot = r.get("boot_lost_ml", 0)  # pulses while the board boots (1.2 s) are not counted
            assert boot <= MAX_FLOW_LPM / 60 * BOOT_S * 1000 + 1000, r
            if r["kind"] == "watchdog":  # RTC memory kept: only pulses not yet taken are lost
                assert r["lost_ml"] <= r["in_flight_ml"] + boot, r
            else:  # flash only: less than commit_l plus what arrived since the last poll
                assert r["lost_ml"] < COMMIT_ML + r["in_flight_ml"] + boot, r
                assert r["lost_ml"] < COMMIT_ML + MAX_FLOW_LPM / 60 * (POLL_S * 3 + BOOT_S) * 1000, r
        assert b.expected_ml > b.pulses.registered_ml * 0.9, "losses must stay small against the total"

        rows = pipeline.readings(b.meter_id)
        seqs = [seq for _ts, seq, _boot, _ml in rows]
        assert len(seqs) == len(set(seqs)), f"{b.meter_id}: a reading stored twice"
        assert seqs == sorted(seqs), f"{b.meter_id}: seq order differs from time order"
        totals = [ml for *_x, ml in rows]
        assert totals == sorted(totals), f"{b.meter_id}: the stored total went down"
        assert all(start <= ts <= stop for ts, *_x in rows), f"{b.meter_id}: reading outside the run"

        # Every minute has its reading (outages lose nothing). A reset may cost the minute it hit, a
        # power loss also the unsent readings RTC memory held (fewer than 16), and a boot that ended
        # before it ever knew the time could not stamp its readings (docs/firmware.md). Readings taken
        # before the clock was known carry their exact, unaligned time.
        covered = {ts // 60 for ts, *_x in rows}
        minutes = range(start // 60 + 1, (start + DURATION_S) // 60)
        missing = [m * 60 for m in minutes if m not in covered]
        cuts = sum(1 for r in b.resets if r["kind"] == "power_loss")
        allowed = len(b.resets) * 2 + cuts * (SEG - 1) + b.clockless_s() / 60
        events = [(round(t / 3600, 2), k) for t, k in b.events]
        assert len(missing) <= allowed, f"{b.meter_id}: {len(missing)} missing: {missing[:5]}; {events}"
    # soak-b was unsynced for 40 min: its early readings were stamped later, exactly.
    early = [ts for ts, *_x in pipeline.readings("soak-b") if ts < start + 2400]
    assert early and start < early[0] < start + 60, early[:3]  # the reading at boot, after boot and Wi-Fi
