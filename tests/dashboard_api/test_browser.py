"""The dashboard in real Chromium (Debian's, via Playwright): a chart from real data, a photo upload."""

from __future__ import annotations

import secrets

import httpx
import numpy as np
import pytest
from playwright.sync_api import expect, sync_playwright

from billing.accounts import add_meter
from billing.db import Account, Database
from dashboard_api.app import create_app
from dashboard_api.config import ApiSettings
from devservices.ports import free_port
from ocr_reader.synth import render_photo
from storage.config import StorageSettings
from tests.conftest import ServerThread, wait_for
from tests.dashboard_api.conftest import EASY, bearer, sample_readings, seed_accounts

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    token = secrets.token_urlsafe(24)
    db_url = f"sqlite:///{tmp}/wm.db"
    db = Database(db_url)
    ids, alice, _bob = seed_accounts(db)
    app = create_app(
        ApiSettings(
            storage=StorageSettings(readings_url=f"sqlite:///{tmp}/readings.db", sql_url=db_url),
            tokens=token,
            photo_dir=tmp / "photos",
        )
    )
    server = ServerThread(app, free_port())
    server.start()
    wait_for(lambda: server.server.started, timeout_s=15, what="uvicorn start")
    for rows in sample_readings().values():
        app.state.store.write_readings(rows)
    port = server.server.config.port
    yield {"url": f"http://127.0.0.1:{port}", "utility": token, "alice": alice, "app": app, "ids": ids}
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def sign_in(browser, site, token):
    page = browser.new_page()
    page.goto(site["url"] + "/")  # redirects to /dashboard/
    page.fill("#token", token)
    page.click("#login-form button")
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    return page


def test_resident_chart_shows_the_api_numbers(browser, site):
    page = sign_in(browser, site, site["alice"])
    expect(page.locator("#who")).to_have_text("resident: alice")
    expect(page.locator("#accounts tbody tr td").nth(2)).to_have_text("0.00")
    expect(page.locator("#my-alerts")).to_contain_text("Continuous flow on m-a2")
    page.select_option("#meter", "m-a1")
    page.fill("#start", "2025-03-01")
    page.fill("#stop", "2025-03-04")
    page.select_option("#every", "1h")
    page.click("#show")
    bars = page.locator("#chart rect.bar")
    expect(bars).to_have_count(72)
    expect(bars.first).to_have_attribute("data-start", "2025-03-01T00:00:00+08:00")
    drawn = [float(v) for v in bars.evaluate_all("els => els.map(e => e.dataset.usedL)")]
    api = httpx.get(
        site["url"] + "/v1/meters/m-a1/usage",
        headers=bearer(site["alice"]),
        params={"start": "2025-03-01T00:00:00", "stop": "2025-03-04T00:00:00", "every": "1h"},
    ).json()
    assert drawn == [i["used_l"] for i in api["intervals"]]
    assert max(drawn) > 0
    heights = [float(h) for h in bars.evaluate_all("els => els.map(e => e.getAttribute('height'))")]
    assert heights == pytest.approx([d / max(drawn) * 220 for d in drawn], abs=0.01)  # bar height ∝ litres
    expect(page.locator("#usage-summary")).to_contain_text(f"Total {api['total_l']} L")
    page.close()


def test_photo_upload_through_the_page_then_confirm(browser, site):
    """A far higher counter than m-a1 can have reached waits for confirmation; the resident's correction
    fits neither the photo nor the meter's readings, so it waits for an operator and nothing is stored."""
    app = site["app"]
    before = app.state.store.count_readings("m-a1")
    photo = render_photo(np.random.default_rng(1), params=EASY)[0]
    page = sign_in(browser, site, site["alice"])
    page.select_option("#photo-meter", "m-a1")
    page.set_input_files(
        "#photo-file", files=[{"name": "meter.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    page.click("#upload")
    expect(page.locator("#photo-result")).to_be_visible(timeout=20_000)
    expect(page.locator("#photo-status")).to_have_text("please confirm or correct")
    shown = page.locator("#photo-reading").text_content()
    record = next(iter((app.state.photos.root / "uploads").glob("*.json"))).read_text()
    assert f'"value_m3": {shown}' in record  # the page shows what the reader recognised
    assert app.state.store.count_readings("m-a1") == before  # nothing stored before a person confirms
    page.fill("#confirm-value", "2.5")
    page.click("#confirm")
    expect(page.locator("#photo-status")).to_contain_text("needs_operator")
    assert app.state.store.count_readings("m-a1") == before
    page.close()


def test_utility_view_lists_fleet_alerts_and_rejections(browser, site):
    app = site["app"]
    from core.readings import Rejection

    app.state.store.write_rejections([Rejection("wm/v1/m-q/readings", "bad_json", "not JSON", b"{", 1.0e9)])
    with Database(app.state.database.url).session() as s:
        add_meter(s, s.get(Account, site["ids"]["0000000002"]), "m-new", district="south")
    page = sign_in(browser, site, site["utility"])
    expect(page.locator("#who")).to_have_text("utility: operator")
    expect(page.locator("#fleet tbody tr")).to_have_count(3)
    expect(page.locator("#fleet tbody")).to_contain_text("m-b1")
    expect(page.locator("#alerts tbody")).to_contain_text("Continuous flow on m-a2")
    expect(page.locator("#rejections tbody")).to_contain_text("bad_json")
    expect(page.locator("#chart")).to_be_visible()
    page.close()


def test_wrong_token_is_refused_on_the_page(browser, site):
    page = browser.new_page()
    page.goto(site["url"] + "/dashboard/")
    page.fill("#token", "not-a-valid-token-000000")
    page.click("#login-form button")
    expect(page.locator("#login-error")).to_contain_text("401")
    expect(page.locator("#app")).to_be_hidden()
    page.close()
