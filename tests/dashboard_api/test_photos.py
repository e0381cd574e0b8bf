"""Photo uploads: stored readings, confirmation, rate limit; every bad input refused, nothing kept."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import anyio
import numpy as np
import pytest
from PIL import Image

from billing.accounts import add_meter
from billing.db import Account
from ocr_reader.synth import render_photo
from tests.dashboard_api.conftest import EASY, save_upload


def photo(seed: int, **kw) -> bytes:
    return render_photo(np.random.default_rng(seed), params=EASY, **kw)[0]


def add_photo_meter(env, meter_id: str = "m-p1") -> str:
    """A mechanical meter on alice's account: no readings until a photo brings one."""
    with env.db.session() as s:
        add_meter(s, s.get(Account, env.account_ids["alice"]), meter_id, district="north", building="b1")
    return meter_id


def upload(env, meter: str, data: bytes, headers=None, name="meter.jpg", ctype="image/jpeg"):
    return env.client.post(
        f"/v1/meters/{meter}/photos", headers=headers or env.alice, files={"photo": (name, data, ctype)}
    )


def kept(env) -> tuple[int, int]:
    """(photo files, upload records) on disk."""
    root = env.photo_dir
    files = sum(1 for p in root.glob("??/*") if p.is_file()) if root.exists() else 0
    records = sum(1 for _ in (root / "uploads").glob("*.json")) if (root / "uploads").exists() else 0
    return files, records


def usage_total_l(env, meter: str) -> float:
    now = int(datetime.now(UTC).timestamp())
    return env.client.get(
        f"/v1/meters/{meter}/usage",
        headers=env.alice,
        params={
            "start": datetime.fromtimestamp(now - 86400, UTC).isoformat(),
            "stop": datetime.fromtimestamp(now + 3600, UTC).isoformat(),
            "every": "1h",
        },
    ).json()


def test_confident_photos_become_photo_readings_in_usage(env):
    meter = add_photo_meter(env)
    stored = []
    for seed in range(8):
        resp = upload(env, meter, photo(seed))
        assert resp.status_code == 201, resp.text
        body = resp.json()
        auto = not body["needs_review"] and body["plausible"]
        assert (body["status"] == "stored") == auto, body
        if auto:
            stored.append(body)
    assert stored, "the reader should be sure of at least one easy photo"
    # Only plausible, sure readings went in: each later one not lower than the one before.
    assert env.store.count_readings(meter) == len({b["stored_reading_at"] for b in stored})
    found = env.store.last_reading(meter, int(datetime.now(UTC).timestamp()) + 1)
    last = None if found is None else found.total_ml
    assert last == round(stored[-1]["value_m3"] * 1_000_000)
    files, records = kept(env)
    assert files == 8 and records == 8  # every photo kept, content-addressed


def test_the_result_says_where_the_counter_was_read(env):
    # The window read, as fractions of the upright photo (the form an upload's window takes), kept with
    # the record: the console outlines it on the photo for the operator.
    meter = add_photo_meter(env)
    data, truth = render_photo(np.random.default_rng(3), params=EASY)
    body = upload(env, meter, data).json()
    size = np.array(Image.open(io.BytesIO(data)).size, np.float64)
    want = np.array(truth.window_quad, np.float64) / size
    got = np.array(body["window"])
    assert got.shape == (4, 2) and np.abs(got.mean(axis=0) - want.mean(axis=0)).max() < 0.03, body
    again = env.client.get(f"/v1/photos/{body['photo_id']}", headers=env.alice).json()
    assert again["window"] == body["window"]


def test_same_photo_is_kept_once(env):
    meter = add_photo_meter(env)
    data = photo(1)
    a, b = upload(env, meter, data).json(), upload(env, meter, data).json()
    assert a["sha256"] == b["sha256"] and a["photo_id"] != b["photo_id"]
    assert kept(env)[0] == 1
    assert (env.photo_dir / a["sha256"][:2] / f"{a['sha256']}.jpg").read_bytes() == data


def test_implausible_reading_waits_for_an_operator(env):
    """m-a1 reads about 1 m3 (last reading in 2025); a counter far higher than 3 m3/h since is impossible."""
    last_ts = max(r.ts_s for r in env.readings["m-a1"])
    max_m3 = 1.1 + 3.0 * (datetime.now(UTC).timestamp() - last_ts) / 3600
    body = None
    for seed in range(8):
        # A plausible, confident photo before the large one is stored: count from just before each.
        before = env.store.count_readings("m-a1")
        body = upload(env, "m-a1", photo(seed)).json()
        if body["value_m3"] and body["value_m3"] > max_m3:
            break
    assert body["value_m3"] > max_m3, "one of the photos should show a large counter"
    assert body["status"] == "needs_confirmation" and not body["plausible"]
    assert body["plausibility_reason"] == "impossible_jump"
    assert env.store.count_readings("m-a1") == before  # never stored silently
    waiting = env.client.post(f"/v1/photos/{body['photo_id']}/confirm", headers=env.alice, json={})
    assert waiting.status_code == 202, waiting.text
    assert waiting.json()["status"] == "needs_operator"
    assert waiting.json()["correction_check"] == "impossible_jump"
    assert env.store.count_readings("m-a1") == before  # a resident's say-so stores nothing
    queue = env.client.get("/v1/photo-reviews", headers=env.utility).json()
    assert [(r["photo_id"], r["correction_m3"]) for r in queue] == [(body["photo_id"], body["value_m3"])]
    again = env.client.post(f"/v1/photos/{body['photo_id']}/confirm", headers=env.alice, json={})
    assert again.status_code == 409 and "operator" in again.text
    ok = env.client.post(f"/v1/photos/{body['photo_id']}/confirm", headers=env.utility, json={})
    assert ok.status_code == 200 and ok.json()["status"] == "confirmed"
    # Stored at the photo's upload second (a plausible photo uploaded in the same second is replaced).
    at_s = int(datetime.fromisoformat(ok.json()["stored_reading_at"]).timestamp())
    stored = env.store.readings("m-a1", at_s - 1, at_s)
    assert [(r.source, r.total_ml) for r in stored] == [("photo", round(body["value_m3"] * 1_000_000))]
    assert before <= env.store.count_readings("m-a1") <= before + 1
    again = env.client.post(f"/v1/photos/{body['photo_id']}/confirm", headers=env.utility, json={})
    assert again.status_code == 409
    assert env.client.get("/v1/photo-reviews", headers=env.utility).json() == []


def test_resident_corrects_an_unsure_reading_and_it_appears_in_usage(env):
    meter = add_photo_meter(env)
    first = upload(env, meter, photo(1)).json()
    if first["status"] != "stored":  # make sure a baseline exists, whatever the reader said (an operator)
        env.client.post(
            f"/v1/photos/{first['photo_id']}/confirm", headers=env.utility, json={"value_m3": 100.0}
        )
    base_m3 = env.store.last_reading(meter, 2**31).total_ml / 1_000_000
    # A photo with no usable reading is refused; one that needs review waits for a person.
    pending = None
    for seed in range(8):
        body = upload(env, meter, photo(seed)).json()
        if body["status"] == "needs_confirmation":
            pending = body
            break
    assert pending is not None
    # Within seconds of the first photo: the readings leave almost no room, so a value that is not one
    # of the photo's candidates is still taken (dashboard_api/corrections.py).
    corrected = base_m3
    resp = env.client.post(
        f"/v1/photos/{pending['photo_id']}/confirm", headers=env.alice, json={"value_m3": corrected}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["value_m3"] == corrected and resp.json()["status"] == "confirmed"
    assert env.store.last_reading(meter, 2**31).total_ml == round(corrected * 1_000_000)
    assert (
        env.client.get(f"/v1/photos/{pending['photo_id']}", headers=env.alice).json()["status"] == "confirmed"
    )
    usage = usage_total_l(env, meter)
    assert usage["total_l"] >= 0 and any(i["has_readings"] for i in usage["intervals"])


def test_confirm_without_a_value_when_none_was_read_is_422(env):
    meter = add_photo_meter(env)
    photo_id = save_upload(
        env,
        meter,
        None,
        1_760_000_000,
        "",
        review_reason="no_digits",
        plausible=False,
        plausibility_reason="no_value",
        confidence=0.0,
    )
    assert env.client.post(f"/v1/photos/{photo_id}/confirm", headers=env.alice, json={}).status_code == 422
    bad = env.client.post(f"/v1/photos/{photo_id}/confirm", headers=env.alice, json={"value_m3": -1})
    assert bad.status_code == 422


def _truncated() -> bytes:
    data = photo(2)
    return data[: len(data) // 2]


def _bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (10_000, 5_000)).save(buf, "PNG")  # 50 Mpx in 6 kB
    return buf.getvalue()


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(buf, "GIF")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (lambda: b"this is not an image at all", 415, "not_an_image"),
        (lambda: b"", 415, "not_an_image"),
        (_gif, 415, "unsupported_format"),
        (_truncated, 422, "truncated"),
        (_bomb, 422, "decompression_bomb"),
        (lambda: render_photo(np.random.default_rng(0), with_meter=False)[0], 422, "no_meter"),
        (lambda: render_photo(np.random.default_rng(1), n_meters=2)[0], 422, "multiple_meters"),
    ],
)
def test_bad_images_are_refused_and_nothing_is_kept(env, make, status, reason):
    meter = add_photo_meter(env)
    resp = upload(env, meter, make())
    assert resp.status_code == status, resp.text
    assert reason in resp.json()["detail"]
    assert kept(env) == (0, 0)
    assert env.store.count_readings(meter) == 0


def test_fifty_megabytes_are_refused_by_content_length(env):
    meter = add_photo_meter(env)
    resp = upload(env, meter, b"\xff\xd8\xff" + b"\0" * 50_000_000)
    assert resp.status_code == 413 and "limit" in resp.text
    assert kept(env) == (0, 0)


def test_streamed_upload_is_cut_off_at_the_limit(make_env):
    """Chunked (no Content-Length), straight over ASGI: the app stops pulling chunks past the limit."""
    env = make_env(photo_max_bytes=1_000_000)
    meter = add_photo_meter(env)
    pulled = []
    head = b'--b\r\nContent-Disposition: form-data; name="photo"; filename="x.jpg"\r\n\r\n'

    async def receive():
        pulled.append(1)
        if len(pulled) > 50:  # 50 MB in 1 MB chunks
            return {"type": "http.request", "body": b"", "more_body": False}
        return {
            "type": "http.request",
            "body": (head if len(pulled) == 1 else b"") + b"\0" * 1_000_000,
            "more_body": True,
        }

    sent = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/v1/meters/{meter}/photos",
        "raw_path": b"",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "headers": [
            (b"authorization", env.alice["Authorization"].encode()),
            (b"content-type", b"multipart/form-data; boundary=b"),
            (b"transfer-encoding", b"chunked"),
        ],
    }
    anyio.run(env.client.app, scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert len(pulled) <= 3  # 1 MB limit + framing: two or three chunks, never fifty
    assert kept(env) == (0, 0)


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"files": {"other": ("m.jpg", b"x", "image/jpeg")}}, 422),
        ({"data": {"photo": "just text"}}, 415),
        ({"data": {"photo": "just text"}, "files": {"x": ("a", b"b", "text/plain")}}, 422),
        ({"content": b"raw bytes", "headers": {"Content-Type": "image/jpeg"}}, 415),
        ({"content": b"--x\r\ngarbage", "headers": {"Content-Type": "multipart/form-data; boundary=x"}}, 422),
    ],
)
def test_malformed_requests_are_4xx(env, kwargs, status):
    meter = add_photo_meter(env)
    headers = {**env.alice, **kwargs.pop("headers", {})}
    resp = env.client.post(f"/v1/meters/{meter}/photos", headers=headers, **kwargs)
    assert resp.status_code == status, resp.text
    assert kept(env) == (0, 0)


def test_unknown_meter_is_404_for_everyone(env):
    assert upload(env, "m-none", photo(1)).status_code == 404
    assert upload(env, "m-none", photo(1), headers=env.utility).status_code == 404
    assert kept(env) == (0, 0)


def test_uploads_are_rate_limited_per_resident(make_env):
    env = make_env(photo_uploads_per_hour=2)
    meter = add_photo_meter(env)
    data = b"not an image"
    assert [upload(env, meter, data).status_code for _ in range(2)] == [415, 415]  # attempts count
    limited = upload(env, meter, data)
    assert limited.status_code == 429
    assert 3000 < int(limited.headers["Retry-After"]) <= 3600
    # Another resident has a budget of their own; operators are not limited.
    assert (
        env.client.post(
            "/v1/meters/m-b1/photos", headers=env.bob, files={"photo": ("m.jpg", data, "image/jpeg")}
        ).status_code
        == 415
    )
    assert upload(env, meter, data, headers=env.utility).status_code == 415


def test_the_reader_is_given_the_meters_last_reading(env):
    """A photo of a register below the meter's latest reading is the reader's own doubt (its review reason),
    not only the route's plausibility check: the reader gets the history (docs/ocr.md, "Library API")."""
    from core.readings import Reading

    meter = add_photo_meter(env)
    now_s = int(datetime.now(UTC).timestamp())
    env.store.write_readings([Reading(meter, now_s - 3600, 500_000_000, 0, 0)])  # 500 m³ an hour ago
    body = upload(env, meter, photo(3, shown=(123_456.0, 8, 3))).json()  # 00123.456 m³
    assert body["value_m3"] == pytest.approx(123.456)
    assert body["needs_review"] and body["review_reason"] == "lower_than_previous", body
    assert body["status"] == "needs_confirmation" and body["plausibility_reason"] == "lower_than_previous"
    assert env.store.count_readings(meter) == 1  # nothing stored


def test_a_whole_m3_reading_says_its_red_wheels_were_left_out(env, monkeypatch):
    """The reader left unsure red (decimal) wheels out: the upload says so, stores the black wheels' whole
    m3, and offers the full reading among the candidates."""
    from ocr_reader import pipeline
    from ocr_reader.api import read_photo

    for seed in range(20):
        data = photo(seed)
        r = read_photo(data)
        if not r.needs_review and r.decimal_digits >= 1 and r.integer_digits >= pipeline.MIN_WHOLE_WHEELS:
            break
    else:
        pytest.fail("no easy render with red wheels read surely")
    real = pipeline.review_reason
    monkeypatch.setattr(pipeline, "review_reason", lambda *a, **k: real(*a, **k) or "low_confidence")
    monkeypatch.setattr(
        pipeline, "second_opinion", lambda bgr, lay, d, conf=None: pipeline.SecondOpinion(None)
    )
    meter = add_photo_meter(env)
    body = upload(env, meter, data).json()
    assert body["status"] == "stored" and body["decimals_dropped"] == r.decimal_digits, body
    assert body["value_m3"] == int(r.value_m3) and body["reading"] == r.reading.split(".")[0]
    assert body["candidates_m3"][:2] == [int(r.value_m3), r.value_m3]
    assert body["second_reader"] is None  # not consulted (it was made to have nothing to say)
    assert (
        env.client.get(f"/v1/photos/{body['photo_id']}", headers=env.alice).json()["decimals_dropped"]
        == r.decimal_digits
    )


def test_a_reading_settled_by_views_of_the_photo_is_stored_and_says_so(env):
    """The demo's render of 00291.3655 m3 leaves the first look unsure where its red wheels end; two views
    of it (turned, scaled) read 00291 surely: stored as whole m3, the upload saying how it was settled."""
    from devservices.seed.photo import meter_photo

    meter = add_photo_meter(env)
    body = upload(env, meter, meter_photo(291_365_000, 0)).json()
    assert body["status"] == "stored" and body["views_agreeing"] >= 2, body
    assert body["value_m3"] == 291.0 and env.store.count_readings(meter) == 1
    got = env.client.get(f"/v1/photos/{body['photo_id']}", headers=env.alice).json()
    assert got["views_agreeing"] == body["views_agreeing"]
    assert upload(env, meter, photo(2)).json()["views_agreeing"] == 0  # read surely in one look


def test_the_photo_itself_is_served_to_who_may_see_its_reading(env):
    """The person confirming and the operator reviewing see the photo; nobody else learns it exists."""
    meter = add_photo_meter(env)
    data = photo(2)
    body = upload(env, meter, data).json()
    url = f"/v1/photos/{body['photo_id']}/image"
    for headers in (env.alice, env.utility):
        got = env.client.get(url, headers=headers)
        assert got.status_code == 200 and got.content == data
        assert (
            got.headers["content-type"] == "image/jpeg" and got.headers["x-content-type-options"] == "nosniff"
        )
    assert env.client.get(url, headers=env.bob).status_code == 404
    assert env.client.get(url).status_code == 401
    assert env.client.get("/v1/photos/AAAAAAAAAAAAAAAA/image", headers=env.utility).status_code == 404
    assert env.client.get("/v1/photos/..%2F..%2Fetc/image", headers=env.utility).status_code in (404, 422)
