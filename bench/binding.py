"""Binding answers take as long for an account number that does not exist as for a real one.

`python -m bench binding`: the API in uvicorn on loopback (SQLite), one Beijing account with a phone
on file. Interleaved, N times each: a binding request for the real number and for an unknown one, then
a verification with a wrong code for each. Prints the medians and p90s and their ratios (unknown /
real): the timing side channel the same-answer rule must not leave open. Limits are lifted for the
run (they are what stops a real attacker long before N requests).
"""

from __future__ import annotations

import secrets
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from tqdm import tqdm

from billing.accounts import create_account
from billing.db import Database
from billing.hashing import VerifyKey
from billing.holders import set_contact
from billing.tokens import issue_token
from billing.verification import Policy
from dashboard_api.app import create_app
from dashboard_api.config import ApiSettings
from devservices.ports import free_port
from storage.config import StorageSettings

N = 300
KEY = "bench verification key, at least 32 characters"
REAL, UNKNOWN = "0123456789", "0123456788"


def _serve(app, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return server


def _stats(ms: list[float]) -> tuple[float, float]:
    return statistics.median(ms), statistics.quantiles(ms, n=10)[-1]


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-binding-"))
    db_url = f"sqlite:///{tmp}/wm.db"
    db = Database(db_url)
    db.create_all()
    with db.session() as s:
        account = create_account(s, "beijing", REAL, name="bench holder")
        set_contact(s, VerifyKey(KEY.encode()), account.id, "13800000001")
        token = issue_token(s, "resident", "bench")
    settings = ApiSettings(
        storage=StorageSettings(readings_url=f"sqlite:///{tmp}/readings.db", sql_url=db_url),
        tokens=secrets.token_urlsafe(24),
        photo_dir=tmp / "photos",
        verify_key=KEY,
    )
    app = create_app(settings)
    port = free_port()
    server = _serve(app, port)
    unlimited = 10**9
    app.state.verify_policy = Policy(
        account_failures=unlimited,
        resident_failures=unlimited,
        requests_per_resident_per_h=unlimited,
        codes_per_account_per_h=unlimited,
        tries_per_request=unlimited,
    )
    times: dict[str, list[float]] = {
        "request real": [],
        "request unknown": [],
        "verify real": [],
        "verify unknown": [],
    }
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
        for i in tqdm(range(N + 20), desc="binding requests", disable=None):
            for kind, number in (("real", REAL), ("unknown", UNKNOWN))[:: 1 if i % 2 else -1]:
                t0 = time.perf_counter()
                r = client.post(
                    "/v1/accounts/bindings", json={"utility": "beijing", "account_number": number}
                )
                t1 = time.perf_counter()
                assert r.status_code == 202, r.text
                v = client.post(
                    f"/v1/accounts/bindings/{r.json()['request_id']}/verify", json={"sms_code": "000000"}
                )
                t2 = time.perf_counter()
                assert v.status_code == 400, v.text
                if i >= 20:  # warm-up
                    times[f"request {kind}"].append((t1 - t0) * 1000)
                    times[f"verify {kind}"].append((t2 - t1) * 1000)
    server.should_exit = True
    print(f"{N} of each, interleaved (ms):")
    for name, ms in times.items():
        median, p90 = _stats(ms)
        print(f"  {name:16s} median {median:6.2f}  p90 {p90:6.2f}")
    for step in ("request", "verify"):
        real, unknown = _stats(times[f"{step} real"]), _stats(times[f"{step} unknown"])
        ratio_median, ratio_p90 = unknown[0] / real[0], unknown[1] / real[1]
        print(f"  {step}: unknown / real = {ratio_median:.2f} (median), {ratio_p90:.2f} (p90)")


if __name__ == "__main__":
    main()
