"""`python -m hardware_sim run`: fleet flags, the ground-truth file, and bad input refused up front."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hardware_sim.cli import main
from tests.hardware_sim.conftest import sim_start


def test_light_fleet_with_random_leaks_writes_its_truth(mosquitto, tmp_path, capsys):
    truth = tmp_path / "truth.json"
    start = sim_start(days_ago=1)
    rc = main(
        [
            "run",
            "--meters",
            "40",
            "--firmware-meters",
            "0",
            "--duration",
            "3h",
            "--leaks",
            "0.5",
            "--broker",
            f"127.0.0.1:{mosquitto.port}",
            "--truth",
            str(truth),
            "--start",
            datetime.fromtimestamp(start, UTC).isoformat(),
            "--id-prefix",
            "cli",
            "--no-progress",
            "--seed",
            "9",
        ]
    )
    assert rc == 0
    doc = json.loads(truth.read_text())
    assert doc == json.loads(capsys.readouterr().out)
    meters = doc["meters"]
    assert len(meters) == 40 and {t["model"] for t in meters.values()} == {"light"}
    leaky = {m: t for m, t in meters.items() if t["leaks"]}
    assert len(leaky) == 20
    for t in meters.values():
        assert t["expected_l"] == t["registered_l"] and t["unsent"] == 0 and t["dropped"] == 0
        assert t["leaked_l"] == pytest.approx(sum(lk["leaked_l"] for lk in t["leaks"]), abs=0.002)
        # drawn_l counts whole millilitres (the fraction waits for the next step), leaked_l is rounded
        # to the millilitre: a household that drew only its leak may show leaked_l 1.5 ml above.
        assert t["leaked_l"] <= t["drawn_l"] + 0.0015
    for t in leaky.values():
        (lk,) = t["leaks"]
        assert start <= lk["start_unix_s"] < lk["end_unix_s"] <= start + 3 * 3600
        assert lk["leaked_l"] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--leaks", "1.5"], "leak fraction must be 0..1"),
        (["--leaks", "lots"], "leak fraction must be a number"),
    ],
)
def test_bad_flags_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--no-progress", *args])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_bad_combinations_are_refused_before_running(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text("{}")
    assert main(["run", "--leaks", "0.1", "--leak-plan", str(plan)]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["run", "--truth", str(tmp_path / "no" / "truth.json")]) == 2
    assert "no directory" in capsys.readouterr().err
    # Refused before any meter starts: no broker is listening on port 9.
    assert main(["run", "--meters", "3", "--firmware-meters", "5", "--broker", "127.0.0.1:9"]) == 1
    assert "firmware meters must be 0..3" in capsys.readouterr().err
    plan.write_text('{"sim-0007": []}')
    assert main(["run", "--meters", "3", "--leak-plan", str(plan), "--broker", "127.0.0.1:9"]) == 1
    assert "not in this fleet" in capsys.readouterr().err
