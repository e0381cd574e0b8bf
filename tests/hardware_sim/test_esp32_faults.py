"""The faults of issue 14, each on the simulated ESP32 with the real firmware, ingest and InfluxDB.

Every test here failed on the firmware of f5208de (see the commit that added it) and
states the behaviour the firmware must have instead.
"""

from __future__ import annotations

import json
import time

from hardware_sim.faults import Fault, outage
from hardware_sim.fleet import run_boards
from tests.conftest import wait_for
from tests.hardware_sim.conftest import ScriptedFlow, StatusLog, make_board, publish, sim_start

H = 3600


def _aligned_minutes(rows, t0: int, t1: int) -> list[int]:
    """Minutes in [t0, t1) that have no reading on the minute."""
    have = {ts for ts, *_x in rows if ts % 60 == 0}
    return [m for m in range(t0 - t0 % 60 + 60, t1, 60) if m not in have]


def _final_total(pipeline, board, stop: int) -> None:
    wait_for(
        lambda: pipeline.store.last_at_or_before(board.meter_id, stop) == board.expected_ml,
        timeout_s=30,
        what=f"{board.meter_id} final total {board.expected_ml} ml",
    )


# -- fault 1: a Wi-Fi outage must not kill the main loop -------------------------------------------


def test_wifi_outage_does_not_kill_the_loop_and_loses_no_reading(mosquitto, pipeline, tmp_path):
    start = sim_start(days_ago=1)
    board = make_board(
        tmp_path,
        "wifi-1",
        mosquitto.port,
        start,
        3 * H,
        l_per_pulse=1.0,
        household=ScriptedFlow([(0, 3 * H)], 60.0),
        faults=outage(H, 1800),
    )
    run_boards([board], 3 * H + 900)
    stop = start + 3 * H + 900
    assert board.repl_at_ms == [], "the board fell out of main.py to the REPL"
    assert board.resets == [], f"no reset is needed to ride out an outage: {board.resets}"
    _final_total(pipeline, board, stop)
    assert board.expected_ml == board.pulses.registered_ml > 0
    missing = _aligned_minutes(pipeline.readings("wifi-1"), start + 120, start + 3 * H)
    assert missing == [], f"minutes without a reading: {missing[:5]}"
    connects = [ln for ln in board.log if ln.startswith("wifi:")]
    assert len(connects) < 20, "the station is asked to connect once, not once per retry"


# -- fault 2: TLS verified against the provisioned CA and the broker's name --------------------------


def _tls_broker(tmp_path, name: str, hostnames: list[str]):
    from devservices.mosquitto import Mosquitto
    from devservices.provision import ensure_tls

    tls = ensure_tls(tmp_path / name, hostnames)
    (tmp_path / f"{name}-run").mkdir()
    broker = Mosquitto(tmp_path / f"{name}-run", tls_dir=tls)
    broker.start()
    return broker, (tls / "ca.crt").read_bytes()


def test_tls_verifies_the_broker_and_refuses_a_wrong_ca_or_name(tmp_path):
    broker, ca = _tls_broker(tmp_path, "good", ["localhost"])
    _other, other_ca = _tls_broker(tmp_path, "other", ["localhost"])
    _other.cleanup()
    named, named_ca = _tls_broker(tmp_path, "named", ["mqtt.example"])
    try:
        readings = StatusLog(broker.port, "wm/v1/+/readings")
        readings_named = StatusLog(named.port, "wm/v1/+/readings")
        start = sim_start(days_ago=1)
        flow = ScriptedFlow([(0, 2 * H)], 30.0)
        tls = {"mqtt_tls": True, "mqtt_ca": "ca.crt"}
        boards = [
            make_board(
                tmp_path,
                "tls-ok",
                broker.tls_port,
                start,
                2 * H,
                broker_host="localhost",
                extra=tls,
                files={"ca.crt": ca},
                household=flow,
                drain_s=300,
            ),
            make_board(
                tmp_path,
                "tls-wrong-ca",
                broker.tls_port,
                start,
                2 * H,
                broker_host="localhost",
                extra=tls,
                files={"ca.crt": other_ca},
                household=flow,
                drain_s=300,
            ),
            make_board(
                tmp_path,
                "tls-wrong-name",
                named.tls_port,
                start,
                2 * H,
                broker_host="localhost",
                extra=tls,
                files={"ca.crt": named_ca},
                household=flow,
                drain_s=300,
            ),
        ]
        run_boards(boards, 2 * H + 300)
        time.sleep(0.5)
        ok_batches = [d for t, d in readings.messages if t == "wm/v1/tls-ok/readings"]
        assert ok_batches, "the verified board delivers its readings over TLS"
        assert ok_batches[-1]["r"][-1]["total_l"] == boards[0].pulses.registered_ml / 1000
        for b in boards:
            assert b.repl_at_ms == [] and b.resets == [], f"{b.meter_id} must not crash: {list(b.log)[-5:]}"
        for refused, log in ((boards[1], readings), (boards[2], readings_named)):
            assert not [t for t, _d in log.messages if refused.meter_id in t], (
                f"{refused.meter_id} must not talk to a broker it cannot verify"
            )
            said = [ln for ln in refused.log if "tls" in ln.lower() or "verify" in ln.lower()]
            assert said, list(refused.log)[-5:]
        readings.close()
        readings_named.close()
    finally:
        broker.cleanup()
        named.cleanup()


# -- fault 3: flash wear, measured as erases ----------------------------------------------------------


def test_flash_wear_is_at_most_one_erase_per_16_readings(mosquitto, pipeline, tmp_path):
    start = sim_start(days_ago=1)
    board = make_board(
        tmp_path,
        "wear-1",
        mosquitto.port,
        start,
        8 * H,
        l_per_pulse=1.0,
        household=ScriptedFlow([(0, 8 * H)], 20.0),
        faults=outage(3 * H, H),
    )
    marks = {}
    board.faults.extend(
        [
            Fault(H, "call", lambda b: marks.__setitem__("t1", sum(b.flash_wear()))),
            Fault(8 * H, "call", lambda b: marks.__setitem__("t8", sum(b.flash_wear()))),
        ]
    )
    board.faults.sort(key=lambda f: f.at_s)
    run_boards([board], 8 * H + 600)
    readings = 7 * 60
    per_reading = (marks["t8"] - marks["t1"]) / readings
    assert per_reading <= 1 / 16, f"{per_reading:.3f} erases per reading (target <= 0.0625)"
    _final_total(pipeline, board, start + 8 * H + 600)


def test_a_brownout_loop_does_not_write_flash_and_is_reported_as_brownout(mosquitto, tmp_path):
    status = StatusLog(mosquitto.port)
    start = sim_start(days_ago=1)
    # Ten brown-outs 3 s apart right after power-on (a weak supply sagging at every Wi-Fi TX burst).
    faults = [Fault(60 + 3 * i, "brownout") for i in range(10)]
    board = make_board(
        tmp_path,
        "bo-1",
        mosquitto.port,
        start,
        600,
        household=ScriptedFlow([], 0.0),
        faults=faults,
        drain_s=60,
    )
    marks = {}
    board.faults.extend(
        [
            Fault(59, "call", lambda b: marks.__setitem__("before", sum(b.flash_wear()))),
            Fault(91, "call", lambda b: marks.__setitem__("after", sum(b.flash_wear()))),
        ]
    )
    board.faults.sort(key=lambda f: f.at_s)
    run_boards([board], 660)
    assert [r["kind"] for r in board.resets] == ["brownout"] * 10
    assert marks["after"] - marks["before"] <= 1, "ten boots without readings must not erase flash"
    wait_for(
        lambda: [d for _t, d in status.messages if d.get("reset_cause") == "brownout"],
        timeout_s=10,
        what="a birth with reset_cause brownout",
    )
    status.close()


# -- fault 4: counting a bouncing reed switch with soft interrupts that run late ---------------------


def test_reed_switch_counts_exactly_under_latency_bounce_and_stalls(mosquitto, pipeline, tmp_path):
    start = sim_start(days_ago=1)
    flow = ScriptedFlow([(0, 40 * 60), (H, H + 1800), (2 * H, 4 * H)], 480.0)  # 8 L/min, 1 L/pulse
    faults = [Fault(0, "bounce_on", 3)] + outage(2 * H + 600, 1200)
    board = make_board(
        tmp_path,
        "reed-1",
        mosquitto.port,
        start,
        4 * H,
        l_per_pulse=1.0,
        household=flow,
        faults=faults,
        sensor="reed",
    )
    run_boards([board], 4 * H + 900)
    stop = start + 4 * H + 900
    wait_for(lambda: pipeline.store.last_at_or_before("reed-1", stop), timeout_s=30, what="a final total")
    stored = pipeline.store.last_at_or_before("reed-1", stop)
    error = (stored - board.pulses.registered_ml) / board.pulses.registered_ml
    assert board.pulses.pulses > 1000
    assert stored == board.pulses.registered_ml, f"count error {error:+.2%} ({board.pulses.pulses} pulses)"


def test_no_pulse_counter_on_old_firmware_is_reported_not_silent(mosquitto, tmp_path):
    status = StatusLog(mosquitto.port)
    start = sim_start(days_ago=1)
    board = make_board(
        tmp_path,
        "hall-125",
        mosquitto.port,
        start,
        600,
        sensor="hall",
        mp_version="1.25",
        extra={"sensor": "hall"},
        household=ScriptedFlow([(0, 600)], 60.0),
        drain_s=60,
    )
    run_boards([board], 660)
    births = [d for t, d in status.messages if t.endswith("hall-125/status") and d.get("state") == "online"]
    assert births, "the board came online"
    assert births[-1].get("counter") != "pcnt"
    assert births[-1].get("counter_fallback"), "the status says why the hardware counter is not used"
    assert any("counter" in ln and "fallback" in ln for ln in board.log)
    status.close()


# -- fault 5: the first NTP answer is checked ----------------------------------------------------------


def test_a_bogus_first_ntp_answer_does_not_silence_the_meter(mosquitto, pipeline, tmp_path):
    start = sim_start(days_ago=1)
    faults = [Fault(0, "ntp_bogus"), Fault(1800, "ntp_short"), Fault(2400, "ntp_up")]
    board = make_board(
        tmp_path,
        "ntp-1",
        mosquitto.port,
        start,
        3 * H,
        l_per_pulse=1.0,
        household=ScriptedFlow([(0, 3 * H)], 30.0),
        faults=faults,
    )
    run_boards([board], 3 * H + 900)
    stop = start + 3 * H + 900
    assert board.repl_at_ms == [] and board.resets == [], list(board.log)[-8:]
    _final_total(pipeline, board, stop)
    rows = pipeline.readings("ntp-1")
    assert all(start <= ts <= stop for ts, *_x in rows), "no reading stamped in 2036"
    assert _aligned_minutes(rows, start + 2400 + 120, start + 3 * H) == []


# -- fault 6: boot, messages, site file -----------------------------------------------------------------


def test_an_oversized_mqtt_message_is_dropped_without_allocating_it(mosquitto, pipeline, tmp_path):
    start = sim_start(days_ago=1)

    def big(_board):
        # 60 KB: within mosquitto's 64 KiB packet limit, far beyond what a board can allocate at once
        publish(mosquitto.port, "wm/v1/big-1/config", json.dumps({"v": 1, "id": "x" * 60000}))
        time.sleep(0.2)

    board = make_board(
        tmp_path,
        "big-1",
        mosquitto.port,
        start,
        2 * H,
        l_per_pulse=1.0,
        heap="80k",
        household=ScriptedFlow([(0, 2 * H)], 30.0),
        faults=[Fault(1800, "call", big)],
    )
    run_boards([board], 2 * H + 900)
    assert board.repl_at_ms == [] and board.resets == [], list(board.log)[-8:]
    _final_total(pipeline, board, start + 2 * H + 900)
    assert any("too large" in ln for ln in board.log)


def test_missing_or_bad_site_file_starts_safe_mode_not_the_repl(mosquitto, tmp_path):
    from tests.hardware_sim.safe_mode import configure_through_portal

    start = sim_start(days_ago=1)
    boards = [
        make_board(
            tmp_path,
            name,
            mosquitto.port,
            start,
            1800,
            site_text=text,
            drain_s=60,
            household=ScriptedFlow([(0, 1800)], 30.0),
        )
        for name, text in (("site-missing", ""), ("site-bad", "{not json"))
    ]
    for b in boards:
        b.faults.append(Fault(300, "call", configure_through_portal(b, mosquitto.port)))
    status = StatusLog(mosquitto.port)
    run_boards(boards, 1860)
    for b in boards:
        assert b.repl_at_ms == [], f"{b.meter_id} sat at the REPL"
        assert any("safe mode" in ln for ln in b.log)
    assert {t.split("/")[2] for t, d in status.messages if d.get("state") == "online"} >= {
        "site-missing",
        "site-bad",
    }
    status.close()
