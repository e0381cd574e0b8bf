"""A person with a phone on the meter's set-up access point: open the captive page, fill it in, send it."""

from __future__ import annotations

import threading
import time
import urllib.parse

import httpx


def configure_through_portal(board, broker_port: int, fields: dict | None = None):
    """A fault callable that, from another thread, fills in the board's captive page in real time.

    The page is served by the firmware itself on the simulated access point (its port 80 is
    board.ap_port here); the thread retries until the board listens, then posts the form.
    Virtual time stands still meanwhile (board.hold): the board keeps serving, no time passes.
    """
    form = {
        "meter_id": board.meter_id,
        "wifi_ssid": board.wifi[0],
        "wifi_password": board.wifi[1],
        "broker_host": "127.0.0.1",
        "broker_port": str(broker_port),
    }
    form.update(fields or {})
    result: dict = {}

    done = threading.Event()

    def person() -> None:
        url = f"http://127.0.0.1:{board.ap_port}/"
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                try:
                    page = httpx.get(url, timeout=10)
                    result["page"] = page.text
                    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
                    body = urllib.parse.urlencode(form)
                    resp = httpx.post(url, content=body, headers=form_type, timeout=10)
                    result["status"] = resp.status_code
                    result["answer"] = resp.text
                    return
                except httpx.HTTPError:
                    time.sleep(0.05)
        finally:
            done.set()

    def call(b) -> None:
        b.hold = done
        threading.Thread(target=person, daemon=True).start()

    call.result = result  # type: ignore[attr-defined]
    return call
