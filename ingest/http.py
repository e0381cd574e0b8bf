"""The worker's small HTTP server: /metrics (Prometheus), /healthz, /state/<meter_id>."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core.ids import METER_ID_RE
from ingest.worker import IngestWorker


def _handler(worker: IngestWorker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                h = worker.health()
                ok = h["connected"] and h["store_ok"] and h["writer_alive"]
                self._send(200 if ok else 503, json.dumps({"ok": ok, **h}).encode())
            elif path.startswith("/state/") and METER_ID_RE.fullmatch(path[7:]):
                st = worker.state_of(path[7:])
                if st is None:
                    self._send(404, b'{"detail": "meter not seen by this worker"}')
                else:
                    self._send(200, json.dumps(st.as_dict(path[7:])).encode())
            else:
                self._send(404, b'{"detail": "not found: /metrics, /healthz, /state/<meter_id>"}')

        def log_message(self, *_args) -> None:
            pass  # scrapes every few seconds would drown the structured log

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a scraper that gave up (broken pipe) is not the worker's error


class OpsServer:
    """Serve the ops endpoints of one worker on a thread."""

    def __init__(self, worker: IngestWorker, host: str, port: int):
        self.httpd = _Server((host, port), _handler(worker))
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="ingest-http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
