"""The store's /write path: no reference cycles (the ingest does not let the collector run), and a
kept-alive connection the server dropped is replaced."""

from __future__ import annotations

import base64
import gc
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from storage.readings.base import StoreError
from storage.readings.conn import InfluxConnection


class _Influxish(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies: list[tuple[str, bytes, str]] = []
    drop_after_reply = False  # close the connection after each answer without saying so
    status = 204

    def do_POST(self) -> None:
        n = int(self.headers["Content-Length"])
        type(self).bodies.append((self.path, self.rfile.read(n), self.headers.get("Authorization", "")))
        self.send_response(self.status)
        body = b'{"error":"partial write: field type conflict"}' if self.status != 204 else b""
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if type(self).drop_after_reply:
            self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    class Handler(_Influxish):
        bodies: list[tuple[str, bytes, str]] = []

    srv = HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv, Handler
    srv.shutdown()
    srv.server_close()


def test_writes_make_no_reference_cycles(server):
    srv, handler = server
    conn = InfluxConnection(f"http://127.0.0.1:{srv.server_port}", "water", username="ingest", password="pw")
    conn.write(["reading,meter=m total_l=1.000 1"])
    gc.collect()
    gc.disable()
    try:
        for i in range(5):
            conn.write([f"reading,meter=m total_l={i}.000 {i + 2}"] * 1000)
        assert (
            gc.collect() == 0
        )  # nothing unreachable waits for the collector (an httpx post left ~40 objects)
    finally:
        gc.enable()
        conn.close()
    path, body, auth = handler.bodies[-1]
    assert path == "/write?db=water&precision=s"
    assert body.startswith(b"reading,meter=m total_l=4.000 6\n") and body.count(b"\n") == 999
    assert auth.startswith("Basic ")


def test_a_connection_the_server_dropped_is_opened_again(server):
    srv, handler = server
    handler.drop_after_reply = True
    conn = InfluxConnection(f"http://127.0.0.1:{srv.server_port}", "water")
    for i in range(3):
        conn.write([f"reading,meter=m total_l={i}.000 {i + 1}"])
    conn.close()
    assert [b for _p, b, _a in handler.bodies] == [
        b"reading,meter=m total_l=%d.000 %d" % (i, i + 1) for i in range(3)
    ]


def test_a_refused_write_is_a_store_error_with_influxdbs_reason(server):
    srv, handler = server
    handler.status = 400
    conn = InfluxConnection(f"http://127.0.0.1:{srv.server_port}", "water", token="T")
    with pytest.raises(StoreError, match="400.*field type conflict"):
        conn.write(["reading,meter=m total_l=x 1"])
    assert handler.bodies[-1][2] == "Token T"
    conn.close()


def test_no_server_is_a_store_error(server):
    srv, _handler = server
    port = srv.server_port
    srv.shutdown()
    srv.server_close()
    conn = InfluxConnection(f"http://127.0.0.1:{port}", "water", timeout_s=2)
    with pytest.raises(StoreError, match="write failed"):
        conn.write(["reading,meter=m total_l=1.000 1"])


def test_credentials_in_the_base_url_are_sent(server):
    srv, handler = server
    conn = InfluxConnection(f"http://ad%40min:p%3Aw@127.0.0.1:{srv.server_port}", "water")
    conn.write(["reading,meter=m total_l=1.000 1"])
    conn.close()
    assert handler.bodies[-1][2] == "Basic " + base64.b64encode(b"ad@min:p:w").decode()
