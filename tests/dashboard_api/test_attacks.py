"""The attack suite of docs/security.md: each test is one attack of issue 17 (or an OWASP API top-10 item
that applies) made the way an attacker would, over HTTP, with the outcome the table states.

Mallory is a resident with a token and no account; alice holds account 0000000001 (meters m-a1, m-a2,
an open leak alert); bob holds 0000000002. Every test states what the attack did on f5208de.
"""

from __future__ import annotations

import secrets
import socket
from datetime import UTC, datetime, timedelta

from billing.db import Account, Alert
from billing.tokens import issue_token, make_token_lookup
from devservices.ports import free_port
from tests.conftest import code_in
from tests.dashboard_api.conftest import HOLDERS, T0_S, bearer, save_upload

ALICE_NUMBER = "0000000001"
ALICE_PHONE = HOLDERS[ALICE_NUMBER][0]
RANGE = {"start": "2025-03-01T00:00:00", "stop": "2025-03-02T00:00:00"}


def resident(env, name: str) -> dict[str, str]:
    """A resident's bearer header (the resident is created with the token)."""
    with env.db.session() as s:
        return bearer(issue_token(s, "resident", name))


def ask(env, headers, number: str = ALICE_NUMBER, utility: str = "beijing"):
    return env.client.post(
        "/v1/accounts/bindings", headers=headers, json={"utility": utility, "account_number": number}
    )


def verify(env, headers, request_id: str, **body):
    return env.client.post(f"/v1/accounts/bindings/{request_id}/verify", headers=headers, json=body)


def texts_to(env, phone: str) -> list[str]:
    return [m.text for m in env.client.app.state.sms.messages(to=phone)]


def sees_nothing_of_alice(env, headers) -> None:
    acct = env.account_ids["alice"]
    assert env.client.get("/v1/accounts", headers=headers).json() == []
    assert env.client.get("/v1/me", headers=headers).json()["meters"] == []
    for path in (f"/v1/accounts/{acct}", f"/v1/accounts/{acct}/ledger", f"/v1/accounts/{acct}/forecast"):
        assert env.client.get(path, headers=headers).status_code == 404, path
    assert env.client.get(f"/v1/accounts/{acct}/usage", headers=headers, params=RANGE).status_code == 404
    assert env.client.get("/v1/meters/m-a1/usage", headers=headers, params=RANGE).status_code == 404


# -- 1. verified binding ------------------------------------------------------------------------------


def test_binding_by_account_number_alone_binds_nothing(env):
    """f5208de: 201, then mallory read alice's name, balance, usage and ledger."""
    mallory = resident(env, "mallory")
    r = ask(env, mallory)
    assert r.status_code == 202, r.text
    assert set(r.json()) == {"request_id", "methods", "expires_at", "verify_fields"}  # no holder data
    assert r.json()["methods"] == ["sms"] and texts_to(env, ALICE_PHONE)  # the code went to alice's phone
    sees_nothing_of_alice(env, mallory)
    assert verify(env, mallory, r.json()["request_id"]).status_code == 422  # the code is required
    sees_nothing_of_alice(env, mallory)


def test_account_numbers_cannot_be_enumerated(env):
    """f5208de: a wrong number answered 404 where a real one answered 201 (sequential numbers)."""
    mallory = resident(env, "mallory")
    real, unknown = ask(env, mallory, ALICE_NUMBER), ask(env, mallory, "0000000777")
    assert real.status_code == unknown.status_code == 202
    shape = [(k, type(v).__name__, len(v) if isinstance(v, str) else v) for k, v in real.json().items()]
    fake = [(k, type(v).__name__, len(v) if isinstance(v, str) else v) for k, v in unknown.json().items()]
    assert [x for x in shape if x[0] != "expires_at"] == [x for x in fake if x[0] != "expires_at"]
    assert texts_to(env, ALICE_PHONE) and len(env.client.app.state.sms.messages()) == 1  # one real text
    answers = [verify(env, mallory, r.json()["request_id"], sms_code="000000") for r in (real, unknown)]
    assert answers[0].status_code == answers[1].status_code == 400
    assert answers[0].json() == answers[1].json()
    assert answers[0].headers.keys() == answers[1].headers.keys()


def test_guessing_the_code_locks_the_account_number_out(env):
    """f5208de: no code to guess. Now 5 wrong codes lock the number 15 min, even for the right code."""
    mallory = resident(env, "mallory")
    for _ in range(5):
        req = ask(env, mallory).json()["request_id"]  # a new request each time: the limit is per number
        code = code_in(texts_to(env, ALICE_PHONE)[-1])
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        assert verify(env, mallory, req, sms_code=wrong).status_code == 400
    locked = ask(env, mallory)
    assert locked.status_code == 429 and 800 < int(locked.headers["Retry-After"]) <= 901
    # The lock is on the number: a lucky guess with a code sent before the lock fails too.
    assert verify(env, mallory, req, sms_code=code).status_code == 429
    sees_nothing_of_alice(env, mallory)
    events = env.client.get(
        "/v1/audit/bindings",
        headers=env.utility,
        params={"utility": "beijing", "account_number": ALICE_NUMBER, "event": "locked"},
    ).json()
    assert [(e["event"], e["resident"], e["origin"]) for e in events] == [("locked", "mallory", "testclient")]


def test_a_code_is_single_use_short_lived_and_only_for_its_requester(env):
    """f5208de: no codes. Now a code works once, for 5 minutes, for the resident who asked for it."""
    clock = {"now": datetime(2025, 6, 1, 8, 0, tzinfo=UTC)}
    env.client.app.state.billing_clock = lambda: clock["now"]
    alice2, mallory = resident(env, "alice2"), resident(env, "mallory")
    req = ask(env, alice2).json()["request_id"]
    code = code_in(texts_to(env, ALICE_PHONE)[-1])
    assert verify(env, mallory, req, sms_code=code).status_code == 400  # not mallory's request
    clock["now"] += timedelta(seconds=301)
    assert verify(env, alice2, req, sms_code=code).status_code == 400  # expired
    req = ask(env, alice2).json()["request_id"]
    code = code_in(texts_to(env, ALICE_PHONE)[-1])
    assert verify(env, alice2, req, sms_code=code).status_code == 201
    assert (
        env.client.delete(f"/v1/accounts/{env.account_ids['alice']}/binding", headers=alice2).status_code
        == 204
    )
    assert verify(env, alice2, req, sms_code=code).status_code == 400  # used


def test_sms_bombing_a_holder_is_limited(env):
    """f5208de: no texts. Now at most 5 codes an hour go to one holder's phone, whoever asks."""
    for i in range(5):
        assert ask(env, resident(env, f"r{i}")).status_code == 202
    r = ask(env, resident(env, "r5"))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert len(texts_to(env, ALICE_PHONE)) == 5


# -- object-level authorization -------------------------------------------------------------------------


def test_a_stranger_cannot_acknowledge_anothers_leak_alert(env):
    """f5208de: mallory bound alice's account by number and acknowledged her leak alert (the operator
    view then showed it acknowledged)."""
    mallory = resident(env, "mallory")
    ask(env, mallory)  # the old way in; binds nothing now
    with env.db.session() as s:
        alert_id = s.query(Alert).filter_by(account_id=env.account_ids["alice"]).one().id
    r = env.client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=mallory)
    assert r.status_code == 404, r.text
    fleet = env.client.get("/v1/fleet/alerts", headers=env.utility).json()
    assert [(a["alert_id"], a["state"]) for a in fleet] == [(alert_id, "open")]


def test_a_stranger_cannot_upload_photos_to_anothers_meter(env):
    """f5208de: after binding by number mallory uploaded photos to alice's meter."""
    mallory = resident(env, "mallory")
    ask(env, mallory)
    r = env.client.post(
        "/v1/meters/m-a1/photos", headers=mallory, files={"photo": ("m.png", b"\x89PNG fake", "image/png")}
    )
    assert r.status_code == 404
    assert not (env.photo_dir / "uploads").exists() or not any((env.photo_dir / "uploads").iterdir())


def test_a_view_delegate_cannot_act_as_the_holder(env):
    """Delegation gives exactly the granted rights: view sees, but cannot acknowledge, upload, confirm
    or delegate further (403, not 404: the account is visible to them)."""
    carol = resident(env, "carol")
    acct = env.account_ids["alice"]
    r = env.client.post(
        f"/v1/accounts/{acct}/delegations", headers=env.alice, json={"resident": "carol", "rights": "view"}
    )
    assert r.status_code == 201
    assert env.client.get(f"/v1/accounts/{acct}/usage", headers=carol, params=RANGE).status_code == 200
    with env.db.session() as s:
        alert_id = s.query(Alert).filter_by(account_id=acct).one().id
    assert env.client.post(f"/v1/alerts/{alert_id}/acknowledge", headers=carol).status_code == 403
    photo = save_upload(env, "m-a1", 1.5, T0_S + 86400)
    assert env.client.post(f"/v1/photos/{photo}/confirm", headers=carol, json={}).status_code == 403
    files = {"photo": ("m.png", b"\x89PNG fake", "image/png")}
    assert env.client.post("/v1/meters/m-a1/photos", headers=carol, files=files).status_code == 403
    grant = env.client.post(
        f"/v1/accounts/{acct}/delegations", headers=carol, json={"resident": "mallory", "rights": "view"}
    )
    assert grant.status_code == 403
    env.client.delete(f"/v1/accounts/{acct}/delegations/{r.json()['id']}", headers=env.alice)
    assert env.client.get(f"/v1/accounts/{acct}/usage", headers=carol, params=RANGE).status_code == 404


# -- 5. corrections checked ---------------------------------------------------------------------------------


def test_a_correction_far_from_the_photo_is_not_stored(env):
    """f5208de: a photo read as 1189 m3 was "corrected" to 0.001 m3 and stored; the next true reading
    then made a phantom peak flow. Now it waits for an operator with both values, and nothing is stored."""
    with env.db.session() as s:
        from billing.accounts import add_meter

        add_meter(s, s.get(Account, env.account_ids["alice"]), "m-p1")
    now_s = int(datetime.now(UTC).timestamp())
    photo = save_upload(env, "m-p1", 1189.0, now_s - 600, "01189.000")
    r = env.client.post(f"/v1/photos/{photo}/confirm", headers=env.alice, json={"value_m3": 0.001})
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["status"], body["value_m3"], body["correction_m3"]) == ("needs_operator", 1189.0, 0.001)
    assert body["correction_check"] == "not_a_candidate"
    assert env.store.count_readings("m-p1") == 0
    queue = env.client.get("/v1/photo-reviews", headers=env.utility).json()
    assert [(q["photo_id"], q["value_m3"], q["correction_m3"]) for q in queue] == [(photo, 1189.0, 0.001)]
    # The operator decides; the resident cannot push it through by asking again.
    assert env.client.post(f"/v1/photos/{photo}/confirm", headers=env.alice, json={}).status_code == 409
    ok = env.client.post(f"/v1/photos/{photo}/confirm", headers=env.utility, json={})
    assert ok.status_code == 200 and env.store.last_reading("m-p1", 2**33).total_ml == 1_189_000_000


def test_a_correction_below_the_meters_last_reading_is_not_stored(env):
    """A value lower than the reading before the photo would be a register reset: an operator decides."""
    last = env.readings["m-a1"][-1]
    photo = save_upload(env, "m-a1", last.total_ml / 1e6, last.ts_s + 60)
    r = env.client.post(f"/v1/photos/{photo}/confirm", headers=env.alice, json={"value_m3": 0.001})
    assert r.status_code == 202 and r.json()["correction_check"] == "lower_than_previous"
    assert env.store.count_readings("m-a1") == len(env.readings["m-a1"])


# -- mass assignment ----------------------------------------------------------------------------------------


def test_mass_assignment_of_balance_holder_or_rights_is_refused(env):
    """No body sets a field the caller may not: balance, holder, resident, rights beyond view/pay.
    (f5208de refused unknown fields on bindings already; the operator PATCH and the new bodies are new.)"""
    acct = env.account_ids["alice"]
    attempts = [
        (env.alice, "PATCH", f"/v1/accounts/{acct}/binding", {"name": "x", "balance": "1000.00"}, 422),
        (env.alice, "PATCH", f"/v1/accounts/{acct}/binding", {"holder_name": "mallory"}, 422),
        (env.alice, "PATCH", f"/v1/accounts/{acct}", {"name": "x"}, 403),
        (env.utility, "PATCH", f"/v1/accounts/{acct}", {"balance": "1000.00"}, 422),
        (
            env.utility,
            "POST",
            "/v1/accounts",
            {"utility": "beijing", "account_number": "0000000009", "balance": "5"},
            422,
        ),
        (env.alice, "POST", f"/v1/accounts/{acct}/delegations", {"resident": "bob", "rights": "hold"}, 422),
        (
            env.alice,
            "POST",
            f"/v1/accounts/{acct}/delegations",
            {"resident": "bob", "rights": "view", "grantor": "x"},
            422,
        ),
        (env.alice, "POST", "/v1/photos/AAAAAAAAAAAAAAAA/confirm", {"value_m3": 1, "status": "stored"}, 422),
    ]
    for headers, method, path, body, status in attempts:
        r = env.client.request(method, path, headers=headers, json=body)
        assert r.status_code == status, (method, path, body, r.text)
    with env.db.session() as s:
        assert (
            str(s.get(Account, acct).balance) == "0.00" and s.get(Account, acct).name == "holder 0000000001"
        )


# -- 6. no 5xx ----------------------------------------------------------------------------------------------


def test_huge_offsets_and_ids_are_422(env):
    """f5208de: offset or before_id of 10^20 answered 500 (SQLite cannot hold it)."""
    acct = env.account_ids["alice"]
    for headers, path, params in (
        (env.utility, "/v1/accounts", {"offset": 10**20}),
        (env.alice, "/v1/accounts", {"offset": 2**63}),
        (env.alice, f"/v1/accounts/{acct}/ledger", {"before_id": 10**20}),
        (env.alice, "/v1/alerts", {"account_id": 10**20}),
        (env.utility, "/v1/audit/bindings", {"before_id": 10**20}),
        (env.utility, "/v1/accounts", {"limit": 10**6}),
    ):
        r = env.client.get(path, headers=headers, params=params)
        assert r.status_code == 422, (path, params, r.text)
        assert "less than or equal" in r.text


def test_nan_and_infinity_in_json_bodies_are_422(env):
    """f5208de: NaN in a JSON body answered 500 (the error message itself could not be encoded)."""
    photo = save_upload(env, "m-a1", 1.5, T0_S + 86400)
    for headers, path, raw in (
        (env.alice, f"/v1/photos/{photo}/confirm", '{"value_m3": NaN}'),
        (env.alice, f"/v1/photos/{photo}/confirm", '{"value_m3": Infinity}'),
        (env.alice, f"/v1/photos/{photo}/confirm", '{"value_m3": -Infinity}'),
        (
            env.utility,
            "/v1/vee/meters/m-a1/edits",
            '{"ts": "2025-03-01T01:00:00Z", "action": "replace", "reason_code": "misread", "total_l": NaN}',
        ),
        (
            env.utility,
            "/v1/vee/meters/m-a1/lifecycle",
            '{"kind": "install", "ts": "2025-03-01T01:00:00Z", "read_l": Infinity}',
        ),
    ):
        r = env.client.post(path, headers={**headers, "Content-Type": "application/json"}, content=raw)
        assert r.status_code == 422, (path, raw, r.text)
        assert "finite" in r.text or "NaN" in r.text or "inf" in r.text.lower()
    assert env.store.count_readings("m-a1") == len(env.readings["m-a1"])


def test_years_0001_to_9999_are_422(env):
    """f5208de: VEE determinants for years 0001-9999 answered 500."""
    wide = {"start": "0001-01-01T00:00:00", "stop": "9999-12-31T00:00:00"}
    for path, extra in (
        ("/v1/vee/meters/m-a1/determinants", {}),
        ("/v1/vee/meters/m-a1/series", {}),
        ("/v1/meters/m-a1/usage", {"every": "1mo"}),
        ("/v1/fleet/top-consumers", {}),
    ):
        r = env.client.get(path, headers=env.utility, params={**wide, **extra})
        assert r.status_code == 422, (path, r.text)
        assert "1970-01-01 to 2199-12-31" in r.json()["detail"]
    edit = {"ts": "0001-01-01T00:00:00Z", "action": "replace", "reason_code": "misread", "total_l": 5}
    assert env.client.post("/v1/vee/meters/m-a1/edits", headers=env.utility, json=edit).status_code == 422


def test_over_wide_ranges_name_the_limit_not_the_backend(make_env, influx):
    """f5208de: over-wide ranges answered 503 with InfluxDB's error text in the body."""
    env = make_env(influx.store_url(f"w_{secrets.token_hex(3)}"))
    for path, params, words in (
        ("/v1/fleet/top-consumers", {"start": "1970-01-02T00:00:00", "stop": "9990-12-31T00:00:00"}, "2199"),
        (
            "/v1/vee/meters/m-a1/determinants",
            {"start": "1970-01-02T00:00:00", "stop": "9990-12-31T00:00:00"},
            "2199",
        ),
        (
            "/v1/vee/meters/m-a1/series",
            {"start": "2000-01-01T00:00:00", "stop": "2030-01-01T00:00:00"},
            "400 days",
        ),
        (
            "/v1/fleet/top-consumers",
            {"start": "2000-01-01T00:00:00", "stop": "2030-01-01T00:00:00"},
            "400 days",
        ),
        (
            "/v1/meters/m-a1/usage",
            {"start": "2000-01-01T00:00:00", "stop": "2030-01-01T00:00:00", "every": "1d"},
            "50000",
        ),
    ):
        r = env.client.get(path, headers=env.utility, params=params)
        assert r.status_code == 422, (path, r.text)
        assert words in r.json()["detail"] and "influx" not in r.text.lower()


def _closed_port() -> int:
    port = free_port()
    with socket.socket() as s:  # nothing listens there
        assert s.connect_ex(("127.0.0.1", port)) != 0
    return port


def test_outages_answer_503_without_backend_text(make_env, influx):
    """The readings store and the SQL database down: 503 with a fixed text, never host, port or driver."""
    from storage.readings.conn import InfluxConnection
    from storage.readings.flows import InfluxFlows
    from storage.readings.influx import InfluxStore

    env = make_env(influx.store_url(f"o_{secrets.token_hex(3)}"))
    app = env.client.app
    port = _closed_port()
    conn = InfluxConnection(f"http://127.0.0.1:{port}", "water")
    app.state.store = InfluxStore(conn, create_database=False)
    app.state.flows, app.state.influx = InfluxFlows(conn), conn
    for path, params in (
        ("/v1/meters/m-a1/usage", RANGE),
        ("/v1/fleet/silent", {"hours": 1}),
        ("/v1/meters", {}),
    ):
        r = env.client.get(path, headers=env.utility, params=params)
        assert r.status_code == 503 and r.json() == {"detail": "store unavailable"}, (path, r.text)
        assert r.headers["Retry-After"] == "5"
    from billing.db import Database
    from dashboard_api.directory import Directory

    gone = Database(f"postgresql+psycopg://wm@127.0.0.1:{_closed_port()}/wm")
    app.state.database, app.state.directory = gone, Directory(gone)
    app.state.token_lookup = make_token_lookup(gone)
    for headers, path in (
        (env.utility, "/v1/accounts"),
        (env.alice, "/v1/me"),
        (env.utility, "/v1/fleet/alerts"),
    ):
        r = env.client.get(path, headers=headers)
        assert r.status_code == 503 and r.json() == {"detail": "database unavailable"}, (path, r.text)
        assert str(port) not in r.text and "psycopg" not in r.text


# -- resource consumption -----------------------------------------------------------------------------------


def test_oversized_bodies_are_refused_before_they_are_read(env):
    """f5208de: any JSON body was read whole, however large."""
    big = b'{"utility": "beijing", "account_number": "' + b"1" * 3_000_000 + b'"}'
    r = env.client.post(
        "/v1/accounts/bindings", headers={**env.alice, "Content-Type": "application/json"}, content=big
    )
    assert r.status_code == 413 and "limit" in r.json()["detail"]

    def chunks():
        yield b'{"utility": "beijing", "account_number": "'
        for _ in range(30):
            yield b"1" * 100_000  # streamed without a Content-Length

    r = env.client.post(
        "/v1/accounts/bindings", headers={**env.alice, "Content-Type": "application/json"}, content=chunks()
    )
    assert r.status_code == 413


def test_revoked_and_query_string_tokens_are_refused(env):
    """Broken authentication: a revoked token, a token in the query string, another scheme: 401."""
    from billing.db import ApiToken
    from core.auth import hash_token

    token = env.bob["Authorization"].split()[1]
    assert env.client.get("/v1/me", params={"token": token}).status_code == 401
    assert env.client.get("/v1/me", params={"access_token": token}).status_code == 401
    with env.db.session() as s:
        s.get(ApiToken, hash_token(token)).revoked_at = datetime.now(UTC)
    assert env.client.get("/v1/me", headers=env.bob).status_code == 401
