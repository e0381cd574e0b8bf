"""An API on real stores (SQLite readings, SQLite accounts) with two residents and an operator."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy
from fastapi.testclient import TestClient

from billing.accounts import bind, create_account
from billing.db import Alert, Base, Database
from billing.hashing import VerifyKey
from billing.holders import set_contact
from billing.tokens import issue_token
from core.readings import Reading, Rejection
from dashboard_api.app import create_app
from dashboard_api.config import ApiSettings
from dashboard_api.photos import RateLimiter
from ocr_reader.synth import PhotoParams
from storage.config import StorageSettings
from storage.readings.sqlite import SqliteStore
from tests.conftest import code_in

# 2025-03-01T00:00:00+08:00 (Asia/Shanghai midnight): the sample data starts here.
T0_S = 1740758400
DAYS = 3
# The server's verification key in these tests, and what the utility holds about each holder.
VERIFY_KEY_TEXT = "dashboard tests verification key: 32+ characters"
VERIFY_KEY = VerifyKey(VERIFY_KEY_TEXT.encode())
HOLDERS = {"0000000001": ("13800000001", "1234"), "0000000002": ("13800000002", "5678")}
# Meter → account number; accounts 1 (alice) and 2 (bob).
LAYOUT = {
    "m-a1": ("0000000001", "north", "b1"),
    "m-a2": ("0000000001", "north", "b2"),
    "m-b1": ("0000000002", "south", "b9"),
}


def flow_ml_per_min(meter: str, k: int) -> int:
    """Deterministic minute use: a morning shower, a leak on m-a2, silence on m-b1 at night."""
    hour = (k // 60) % 24  # hours since T0 = local Shanghai hours
    if meter == "m-a1":
        return 9_000 + k % 7 if hour == 7 and k % 60 < 10 else (150 if 6 <= hour < 23 else 0)
    if meter == "m-a2":
        return 20 + (k % 3) + (2_500 if hour == 19 and k % 60 == 30 else 0)  # a 20 ml/min leak
    return 0 if hour < 6 else 333


def sample_readings(days: int = DAYS, meters=tuple(LAYOUT)) -> dict[str, list[Reading]]:
    """Minute readings from T0 (total starts at 1,000 L) with a register reset on m-b1 on day 2."""
    out: dict[str, list[Reading]] = {}
    for meter in meters:
        total = 1_000_000
        rows = []
        for k in range(days * 1440 + 1):
            if meter == "m-b1" and k == 1440 + 600:
                total = 5_000  # register set: a reset, which adds nothing
            rows.append(Reading(meter, T0_S + k * 60, total, k, 1))
            total += flow_ml_per_min(meter, k)
        out[meter] = rows
    return out


@dataclass
class ApiEnv:
    client: TestClient
    store: SqliteStore
    db: Database
    utility: dict[str, str]
    alice: dict[str, str]
    bob: dict[str, str]
    readings: dict[str, list[Reading]]
    account_ids: dict[str, int] = field(default_factory=dict)
    photo_dir: Path | None = None


def api_settings(tmp: Path, token: str, store_url: str | None = None, db_url: str | None = None, **overrides):
    """Settings of a test API: stores under `tmp` (SQLite unless named), the tests' verification key."""
    return ApiSettings(
        storage=StorageSettings(
            readings_url=store_url or f"sqlite:///{tmp}/readings.db",
            sql_url=db_url or f"sqlite:///{tmp}/wm.db",
        ),
        tokens=token,
        photo_dir=tmp / "photos",
        verify_key=VERIFY_KEY_TEXT,
        **overrides,
    )


def document_only_app():  # noqa: ANN201
    """An app for its OpenAPI document alone (nothing is opened until it starts)."""
    return create_app(
        ApiSettings(
            tokens="schema-only-token-0000",
            storage=StorageSettings(readings_url="sqlite://", sql_url="sqlite://"),
        )
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bind_verified(client, headers: dict[str, str], utility: str, number: str, **names: str):  # noqa: ANN201
    """Bind `number` as its holder would: request, then the code from the development SMS sink and/or the
    ID-card digits on file (HOLDERS); the verify response."""
    r = client.post(
        "/v1/accounts/bindings", headers=headers, json={"utility": utility, "account_number": number}
    )
    assert r.status_code == 202, r.text
    phone, id_last4 = HOLDERS[number]
    proofs: dict[str, str] = {}
    if "sms" in r.json()["methods"]:
        proofs["sms_code"] = code_in(client.app.state.sms.messages(to=phone)[-1].text)
    if "id_last4" in r.json()["methods"]:
        proofs["id_last4"] = id_last4
    return client.post(
        f"/v1/accounts/bindings/{r.json()['request_id']}/verify", headers=headers, json={**proofs, **names}
    )


def seed_data(db: Database) -> dict[str, int]:
    """Accounts, meters, holders' data, bindings and an open leak alert; the account ids by number."""
    db.create_all()
    ids = {}
    with db.session() as s:
        for number in ("0000000001", "0000000002"):
            meters = [
                {"meter_id": m, "district": d, "building": b}
                for m, (n, d, b) in LAYOUT.items()
                if n == number
            ]
            ids[number] = create_account(s, "beijing", number, name=f"holder {number}", meters=meters).id
            set_contact(s, VERIFY_KEY, ids[number], *HOLDERS[number])
        bind(s, "alice", "beijing", "0000000001")
        bind(s, "bob", "beijing", "0000000002")
        s.add(
            Alert(
                account_id=ids["0000000001"],
                meter_id="m-a2",
                kind="leak",
                dedupe_key="leak:m-a2",
                title="Continuous flow on m-a2",
            )
        )
    return ids


def seed_accounts(db: Database) -> tuple[dict[str, int], str, str]:
    """`seed_data` and tokens for alice and bob: (account ids, alice's token, bob's token)."""
    ids = seed_data(db)
    with db.session() as s:
        alice = issue_token(s, "resident", "alice")
        bob = issue_token(s, "resident", "bob")
    return ids, alice, bob


KEPT_TABLES = {"api_tokens", "residents"}


def reset_data(app) -> None:  # noqa: ANN001 (a started dashboard_api app)
    """Back to the seeded state, tokens kept: every other table emptied and seeded again, the
    readings people added (photos) removed, upload records and limits forgotten."""
    db: Database = app.state.database
    with db.session() as s:
        names = set(sqlalchemy.inspect(s.connection()).get_table_names()) - KEPT_TABLES
        ordered = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name in names]
        for name in ordered + sorted(names - set(ordered)):
            s.execute(sqlalchemy.text(f'DELETE FROM "{name}"'))
    seed_data(db)
    app.state.store._db.execute("DELETE FROM reading WHERE source != 'device'")
    shutil.rmtree(app.state.photos.root, ignore_errors=True)
    app.state.photo_limiter = RateLimiter(app.state.settings.photo_uploads_per_hour)


@pytest.fixture(scope="module")
def sample() -> dict[str, list[Reading]]:
    return sample_readings()


@pytest.fixture(scope="session")
def sample_store_file(tmp_path_factory) -> Path:
    """A SQLite readings store holding the sample, written once; each env gets a copy."""
    path = tmp_path_factory.mktemp("sample") / "readings.db"
    store = SqliteStore(str(path))
    for rows in sample_readings().values():
        store.write_readings(rows)
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the copy must hold everything
    store.close()
    return path


@pytest.fixture
def make_env(tmp_path, sample, sample_store_file) -> Iterator:
    """Factory: an ApiEnv on a given store URL (SQLite by default), settings overridable."""
    clients = []

    def make(store_url: str | None = None, **overrides) -> ApiEnv:
        copied = store_url is None and not (tmp_path / "readings.db").exists()
        if copied:
            shutil.copyfile(sample_store_file, tmp_path / "readings.db")
        store_url = store_url or f"sqlite:///{tmp_path}/readings.db"
        db_url = f"sqlite:///{tmp_path}/wm-{secrets.token_hex(3)}.db"
        token = secrets.token_urlsafe(24)
        settings = api_settings(tmp_path, token, store_url, db_url, **overrides)
        db = Database(db_url)
        ids, alice, bob = seed_accounts(db)
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        app_store = client.app.state.store
        if not copied:
            for rows in sample.values():
                app_store.write_readings(rows)
        app_store.write_rejections(
            [Rejection("wm/v1/m-x/readings", "bad_json", "not JSON", b"{oops", T0_S + 5.0)]
        )
        return ApiEnv(
            client,
            app_store,
            db,
            bearer(token),
            bearer(alice),
            bearer(bob),
            sample,
            {"alice": ids["0000000001"], "bob": ids["0000000002"]},
            tmp_path / "photos",
        )

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def env(make_env) -> ApiEnv:
    return make_env()


# Meter photos the reader should read confidently: little tilt, blur, noise; no glare or dirt.
EASY = PhotoParams(
    max_tilt_deg=3,
    max_rot_deg=3,
    max_blur_sigma=0.3,
    max_noise=1,
    min_jpeg_quality=92,
    glare_prob=0,
    dirt_prob=0,
)


def save_upload(
    env: ApiEnv,
    meter_id: str,
    value_m3: float | None,
    ts_s: int,
    reading: str | None = None,
    **fields,
) -> str:
    """An upload record as the upload route writes it (without running the reader), with a photo file kept
    under its sha256 as the route keeps one (a few bytes with a PNG signature); its photo id."""
    photos = env.client.app.state.photos
    rec = {
        "photo_id": photos.new_id(),
        "meter_id": meter_id,
        "sha256": photos.keep(b"\x89PNG\r\n\x1a\n" + f"{meter_id} {ts_s} {value_m3}".encode()),
        "uploaded_by": "alice",
        "uploaded_role": "resident",
        "uploaded_ts_s": ts_s,
        "reading": reading if reading is not None else ("" if value_m3 is None else f"{value_m3:09.3f}"),
        "value_m3": value_m3,
        "confidence": 0.5,
        "needs_review": True,
        "review_reason": "low_confidence",
        "plausible": True,
        "plausibility_reason": None,
        "previous_m3": None,
        "status": "needs_confirmation",
        "stored_ts_s": None,
        **fields,
    }
    photos.save_record(rec)
    return rec["photo_id"]
