"""Fixtures for simulator tests: a board factory and the real ingest into InfluxDB."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from hardware_sim.device import BoardConfig, FirmwareBoard
from hardware_sim.household import Household, Leak, PulseSource
from ingest.config import IngestSettings
from ingest.worker import IngestWorker
from storage.readings.influx import InfluxStore
from tests.conftest import sim_start  # noqa: F401  (the simulator tests import it from here)


def make_board(
    tmp_path,
    meter_id: str,
    port: int,
    start_s: int,
    duration_s: int,
    seed: int = 1,
    faults=None,
    l_per_pulse: float = 0.5,
    drain_s: int = 900,
    ntp_up: bool = True,
    leaks: list[Leak] | None = None,
    extra: dict | None = None,
    heap: str | None = None,
    household: Household | None = None,
    broker_host: str = "127.0.0.1",
    files: dict[str, bytes] | None = None,
    site_text: str | None = None,
    speed: float = 0.0,
    **board_kw,
) -> FirmwareBoard:
    """A board running the real firmware against the broker on `port`.

    board_kw go to FirmwareBoard: sensor ("reed"/"hall"), mp_version ("1.25"), wifi (ssid, key),
    firmware_dir (another program), boot_ms.
    """
    house = household or Household(seed=seed, leaks=leaks or [])
    ml = round(l_per_pulse * 1000)
    cfg = BoardConfig(
        meter_id, broker_host, port, l_per_pulse, extra=extra or {}, files=files or {}, site_text=site_text
    )
    return FirmwareBoard(
        cfg,
        PulseSource(house, ml),
        tmp_path / meter_id,
        start_s * 1000,
        draw_until_ms=duration_s * 1000,
        stop_ms=(duration_s + drain_s) * 1000,
        faults=faults,
        ntp_up=ntp_up,
        seed=seed,
        heap=heap,
        speed=speed,
        **board_kw,
    )


def run_script(
    tmp_path, script: str, duration_s: int = 60, faults=None, flow_lph: float = 0.0, **board_kw
) -> FirmwareBoard:
    """Run a MicroPython program (as main.py) on the simulated ESP32 instead of the firmware."""
    fw = tmp_path / "script"
    fw.mkdir(parents=True, exist_ok=True)
    (fw / "main.py").write_text(script)
    house = ScriptedFlow([(0, duration_s)], flow_lph)
    board = FirmwareBoard(
        BoardConfig("script", "127.0.0.1", 1883, 1.0),
        PulseSource(house, 1000),
        tmp_path / "script-board",
        1_750_000_000_000,
        draw_until_ms=duration_s * 1000,
        stop_ms=duration_s * 1000,
        faults=faults,
        firmware_dir=fw,
        **board_kw,
    )
    board.start()
    board.join(120)
    assert not board.running, "the script did not finish in 120 s"
    return board


def script_lines(board: FirmwareBoard, prefix: str = "R ") -> list[str]:
    """The lines a script printed with the given prefix (prefix removed)."""
    return [line[len(prefix) :] for line in board.log if line.startswith(prefix)]


class Pipeline:
    """The real ingest writing into a fresh InfluxDB database, with raw queries for checks."""

    def __init__(self, influx, port: int):
        self.db = f"sim_{secrets.token_hex(3)}"
        self.influx = influx
        self.store = InfluxStore(influx.url, self.db)
        # The simulator compresses days into seconds: lift the per-meter flood limit.
        settings = IngestSettings(
            broker_host="127.0.0.1",
            broker_port=port,
            client_id="sim-ingest",
            store_url=influx.store_url(self.db),
            flood_burst=10**7,
        )
        self.worker = IngestWorker(settings, self.store)

    def readings(self, meter: str) -> list[tuple[int, int, int, int]]:
        """Every stored (ts_s, seq, boot, total_ml) of a meter, by time."""
        resp = httpx.get(
            f"{self.influx.url}/query",
            params={
                "db": self.db,
                "epoch": "s",
                "q": f'SELECT "seq","boot","total_l" FROM "reading" WHERE "meter"=\'{meter}\'',
            },
        )
        resp.raise_for_status()
        series = resp.json()["results"][0].get("series", [])
        rows = series[0]["values"] if series else []
        return [(int(t), int(seq), int(boot), round(total * 1000)) for t, seq, boot, total in rows]


@pytest.fixture
def pipeline(influx, mosquitto) -> Iterator[Pipeline]:
    p = Pipeline(influx, mosquitto.port)
    p.worker.start()
    assert p.worker.wait_connected()
    yield p
    p.worker.stop()
    p.store.close()


class ScriptedFlow:
    """A household stand-in drawing `flow_lph` in the given (start_s, end_s) windows, nothing else."""

    occupants = 0

    def __init__(self, windows: list[tuple[float, float]], flow_lph: float):
        self.windows = windows
        self.flow_lph = flow_lph
        self.leaks: list[Leak] = []

    def litres(self, t0_s: float, t1_s: float) -> float:
        overlap = sum(max(0.0, min(b, t1_s) - max(a, t0_s)) for a, b in self.windows)
        return self.flow_lph / 3600.0 * overlap


class StatusLog:
    """Every status message of the given meters, via a real paho subscriber."""

    def __init__(self, port: int, topic: str = "wm/v1/+/status"):
        import json

        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, dict]] = []
        self._json = json
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"status-{secrets.token_hex(3)}"
        )
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _c, _u, msg) -> None:
        self.messages.append((msg.topic, self._json.loads(msg.payload)))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def publish(port: int, topic: str, payload: str, retain: bool = True) -> None:
    """Publish one QoS 1 message and wait until the broker has it."""
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"op-{secrets.token_hex(3)}")
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    c.loop_stop()
    c.disconnect()
