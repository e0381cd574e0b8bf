"""Power lost twice while the board has no clock: the readings after it must still reach the store.

A reading taken before the clock is known is stored with a flag in its boot field (firmware/app.py
`_UNSTAMPED`). After a power loss the board restores its boot counter from the newest reading in flash;
when that reading was such an unstamped one, the flag leaked into the new boot counter (2^31 + n), every
later reading looked like a clockless one of an earlier boot and was skipped, silently, forever (found by
the fault soak: soak-b lost 142.5 L).
"""

from __future__ import annotations

from hardware_sim.faults import Fault
from hardware_sim.fleet import run_boards
from tests.conftest import wait_for
from tests.hardware_sim.conftest import ScriptedFlow, make_board, sim_start

H = 3600


def test_readings_after_a_second_clockless_power_loss_are_sent(mosquitto, pipeline, tmp_path):
    start = sim_start(days_ago=1)
    faults = [
        Fault(1 * H, "wifi_down"),  # no link, so no NTP either
        Fault(1 * H + 600, "power_loss"),  # RTC lost: the next boot has no clock
        Fault(1 * H + 3000, "power_loss"),  # 40 unstamped readings in flash by now
        Fault(2 * H, "wifi_up"),
    ]
    board = make_board(
        tmp_path, "clockless-1", mosquitto.port, start, 3 * H, faults=faults,
        household=ScriptedFlow([(0, 1 * H), (2.5 * H, 3 * H)], 30.0),  # no flow, so no commit, between
    )  # fmt: skip
    run_boards([board], 3 * H + 600)
    stop = start + 3 * H + 600
    wait_for(
        lambda: pipeline.store.last_at_or_before("clockless-1", stop) == board.expected_ml,
        timeout_s=30,
        what=f"final total {board.expected_ml} ml",
    )
    rows = pipeline.readings("clockless-1")
    assert all(boot < 2**31 for _ts, _seq, boot, _ml in rows), "a flag leaked into the boot counter"
    assert [ts for ts, *_x in rows if ts > start + 2 * H + 600], "readings after the link returned are stored"
