"""Updates over the air, end to end: announced over MQTT, fetched over HTTPS, checked, switched, confirmed.

A bad image, a bad signature, a power cut in the middle of the download and an update that
never confirms itself all leave the board on a complete firmware, with no reading lost.
"""

from __future__ import annotations

import http.server
import json
import ssl
import threading
import time

import pytest

from devservices.ota_image import announcement, image_files, make_key, pack
from devservices.ports import free_port
from devservices.provision import ensure_tls
from hardware_sim.faults import Fault
from hardware_sim.fleet import run_boards
from tests.conftest import wait_for
from tests.hardware_sim.conftest import ScriptedFlow, StatusLog, make_board, publish, sim_start

H = 3600
NEW = "0.3.0-test"


class HttpsServer:
    """Serves files over HTTPS with the provisioned test CA's certificate."""

    def __init__(self, tls_dir, files: dict[str, bytes], on_get=None):
        self.files = files
        self.on_get = on_get
        self.port = free_port()
        self.gets: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                outer.gets.append(self.path)
                if outer.on_get is not None:
                    outer.on_get(self.path)
                data = outer.files.get(self.path.lstrip("/"))
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls_dir / "server.crt", tls_dir / "server.key")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def signing(tmp_path_factory):
    d = tmp_path_factory.mktemp("ota")
    key = d / "ota.pem"
    modulus = make_key(key)
    tls = ensure_tls(d / "broker", ["localhost"])
    good = pack(
        image_files(
            march=None,
            replace={
                "config.py": (image_files.__globals__["FIRMWARE_DIR"] / "config.py")
                .read_text()
                .replace('FW_VERSION = "0.2.0"', f'FW_VERSION = "{NEW}"')
            },
        )
    )
    # An update that runs but never reaches the broker (it speaks MQTT 3.0, which mosquitto
    # refuses): it cannot confirm itself.
    fw = image_files.__globals__["FIRMWARE_DIR"]
    broken = pack(
        image_files(
            march=None,
            replace={
                "config.py": (fw / "config.py")
                .read_text()
                .replace('FW_VERSION = "0.2.0"', 'FW_VERSION = "0.3.1-broken"'),
                "mqtt_client.py": (fw / "mqtt_client.py")
                .read_text()
                .replace('b"\\x00\\x04MQTT\\x04"', 'b"\\x00\\x04MQTT\\x03"'),
            },
        )
    )
    assert broken != pack(image_files(march=None)), "the broken image differs"
    return {"key": key, "modulus": modulus, "tls": tls, "good": good, "broken": broken}


def _board(tmp_path, name, port, start, signing, faults, hours=4):
    files = {"ca.crt": (signing["tls"] / "ca.crt").read_bytes(), "ota_key.hex": signing["modulus"].encode()}
    return make_board(
        tmp_path,
        name,
        port,
        start,
        hours * H,
        l_per_pulse=1.0,
        files=files,
        household=ScriptedFlow([(0, hours * H)], 30.0),
        faults=faults,
        drain_s=900,
    )


def _announce(port, meter, doc):
    def call(_board):
        publish(port, f"wm/v1/{meter}/ota", json.dumps(doc))
        time.sleep(0.3)

    return call


def test_good_update_is_fetched_checked_switched_and_confirmed(mosquitto, pipeline, tmp_path, signing):
    server = HttpsServer(signing["tls"], {"fw.bin": signing["good"]})
    status = StatusLog(mosquitto.port)
    try:
        doc = announcement(signing["good"], NEW, f"https://localhost:{server.port}/fw.bin", signing["key"])
        start = sim_start(days_ago=1)
        board = _board(
            tmp_path,
            "ota-1",
            mosquitto.port,
            start,
            signing,
            [Fault(H, "call", _announce(mosquitto.port, "ota-1", doc))],
        )
        run_boards([board], 4 * H + 900)
        stop = start + 4 * H + 900
        births = [d for t, d in status.messages if t == "wm/v1/ota-1/status" and d.get("state") == "online"]
        assert births[0]["fw"] == "0.2.0" and births[-1]["fw"] == NEW, [b["fw"] for b in births]
        assert any(d.get("ota") == {"version": NEW, "ok": True} for d in births)
        assert any(f"ota: {NEW} confirmed" in ln for ln in board.log)
        assert server.gets == ["/fw.bin"], "fetched once: the retained announcement is not fetched again"
        _final(pipeline, board, stop)
    finally:
        server.close()
        status.close()


def _final(pipeline, board, stop):
    wait_for(
        lambda: pipeline.store.last_at_or_before(board.meter_id, stop) == board.expected_ml,
        timeout_s=30,
        what=f"{board.meter_id}: no reading lost",
    )
    seqs = [r[1] for r in pipeline.readings(board.meter_id)]
    assert len(seqs) == len(set(seqs))


def test_bad_image_and_bad_signature_are_refused(mosquitto, pipeline, tmp_path, signing):
    corrupt = bytearray(signing["good"])
    corrupt[len(corrupt) // 2] ^= 0xFF
    server = HttpsServer(signing["tls"], {"fw.bin": signing["good"], "bad.bin": bytes(corrupt)})
    status = StatusLog(mosquitto.port)
    try:
        url = f"https://localhost:{server.port}"
        bad_image = announcement(signing["good"], NEW, f"{url}/bad.bin", signing["key"])
        bad_sig = announcement(signing["good"], NEW + "b", f"{url}/fw.bin", signing["key"])
        sig = bytearray(bytes.fromhex(bad_sig["sig"]))
        sig[10] ^= 1
        bad_sig["sig"] = sig.hex()
        start = sim_start(days_ago=1)
        board = _board(
            tmp_path,
            "ota-2",
            mosquitto.port,
            start,
            signing,
            [
                Fault(H, "call", _announce(mosquitto.port, "ota-2", bad_image)),
                Fault(2 * H, "call", _announce(mosquitto.port, "ota-2", bad_sig)),
            ],
        )
        run_boards([board], 4 * H + 900)
        results = [d["ota"] for t, d in status.messages if t == "wm/v1/ota-2/status" and "ota" in d]
        assert {"version": NEW, "ok": False, "error": "sha256 mismatch"} in results
        assert {"version": NEW + "b", "ok": False, "error": "bad signature"} in results
        births = [d for t, d in status.messages if t == "wm/v1/ota-2/status" and d.get("state") == "online"]
        assert {b["fw"] for b in births} == {"0.2.0"}
        _final(pipeline, board, start + 4 * H + 900)
    finally:
        server.close()
        status.close()


def test_power_cut_mid_update_and_an_update_that_never_confirms(mosquitto, pipeline, tmp_path, signing):
    board_ref = []

    def cut_on_first_fetch(path):
        # The power goes while the image streams in: one of the board's next flash writes is torn.
        if path == "/fw.bin" and len([p for p in server.gets if p == "/fw.bin"]) == 1:
            b = board_ref[0]
            b.faults.insert(0, Fault(b.virt_ms / 1000 + 0.01, "power_loss"))

    server = HttpsServer(
        signing["tls"],
        {"fw.bin": signing["good"], "broken.bin": signing["broken"]},
        on_get=cut_on_first_fetch,
    )
    status = StatusLog(mosquitto.port)
    try:
        url = f"https://localhost:{server.port}"
        good = announcement(signing["good"], NEW, f"{url}/fw.bin", signing["key"])
        broken = announcement(signing["broken"], "0.3.1-broken", f"{url}/broken.bin", signing["key"])
        start = sim_start(days_ago=1)

        board = _board(
            tmp_path,
            "ota-3",
            mosquitto.port,
            start,
            signing,
            [
                Fault(H, "call", _announce(mosquitto.port, "ota-3", good)),
                Fault(3 * H, "call", _announce(mosquitto.port, "ota-3", broken)),
            ],
            hours=6,
        )
        board_ref.append(board)
        run_boards([board], 6 * H + 900)
        fws = [
            d["fw"] for t, d in status.messages if t == "wm/v1/ota-3/status" and d.get("state") == "online"
        ]
        assert fws[0] == "0.2.0" and NEW in fws, fws  # the retained announcement came back after the cut
        assert "0.3.1-broken" not in fws, "the broken update never reached the broker"
        assert fws[-1] == NEW, "rolled back to the last good firmware"
        assert any("did not confirm itself" in ln or "not confirmed" in ln for ln in board.log)
        assert [r["kind"] for r in board.resets].count("power_loss") == 1
        assert server.gets.count("/fw.bin") == 2, "fetched again after the cut"
        _final(pipeline, board, start + 6 * H + 900)
    finally:
        server.close()
        status.close()
