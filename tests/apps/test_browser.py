"""The resident app and the console in real Chromium (Debian's, via Playwright), on a 390-px phone and a
desktop: each flow end to end, the numbers on screen equal the API's, no element wider than the
viewport, no serious or critical axe-core violations; screenshots kept in build/screenshots/."""

from __future__ import annotations

import io
import secrets
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from billing.db import Alert, Database, LeakFeedback
from billing.ledger import charge_through
from billing.payments import DevProvider
from core.readings import Reading
from dashboard_api.app import create_app
from dashboard_api.config import ApiSettings
from devservices.ports import free_port
from ocr_reader.synth import render_photo
from storage import meter_status
from storage.config import StorageSettings
from tests.conftest import ServerThread, code_in, wait_for
from tests.dashboard_api.conftest import EASY, HOLDERS, VERIFY_KEY_TEXT, bearer, seed_accounts

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}
HISTORY_DAYS = 75


def _recent_readings(meter: str, now_s: int, hours: int = 72) -> list[Reading]:
    """Minute readings for the last `hours`: a daily pattern, so every resolution has bars."""
    start = now_s - now_s % 60 - hours * 3600
    total, rows = 1_000_000, []
    for k in range(hours * 60 + 1):
        hour = (start // 60 + k) // 60 % 24
        rows.append(Reading(meter, start + k * 60, total, k, 1))
        total += 900 if hour in (7, 8, 19) else (40 if meter == "m-a2" else 120 if 6 <= hour < 23 else 0)
    return rows


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("apps-browser")
    token = secrets.token_urlsafe(24)
    db_url = f"sqlite:///{tmp}/wm.db"
    db = Database(db_url)
    ids, alice, bob = seed_accounts(db)
    now = datetime.now(UTC)
    with db.session() as s:  # 75 days of charges at 150 + 210 L a day: a rate, a tier position, a forecast
        daily = {"m-a1": Decimal(150), "m-a2": Decimal(210), "m-b1": Decimal(90)}
        first = (now - timedelta(days=HISTORY_DAYS)).date()
        for account in ids.values():
            charge_through(
                s, account, (now - timedelta(days=1)).date(), lambda m, d: daily[m], first_day=first
            )
    app = create_app(
        ApiSettings(
            storage=StorageSettings(readings_url=f"sqlite:///{tmp}/readings.db", sql_url=db_url),
            tokens=token,
            photo_dir=tmp / "photos",
            verify_key=VERIFY_KEY_TEXT,  # the key seed_accounts hashed the holders' ID-card digits under
        ),
        payment_provider=DevProvider(),
    )
    server = ServerThread(app, free_port())
    server.start()
    wait_for(lambda: server.server.started, timeout_s=15, what="uvicorn start")
    now_s = int(time.time())
    for meter in ("m-a1", "m-a2", "m-b1"):
        app.state.store.write_readings(_recent_readings(meter, now_s))
    with db.session() as s:
        meter_status.record(
            s, "m-a1", {"state": "online", "fw": "0.2.0", "rssi_dbm": -71, "battery_pct": 64}, now_s
        )
        meter_status.record(s, "m-a2", {"state": "online", "fw": "0.1.0", "rssi_dbm": -88}, now_s - 600)
        meter_status.record(s, "m-a2", {"state": "offline"}, now_s - 60)
    url = f"http://127.0.0.1:{server.server.config.port}"
    yield {"url": url, "utility": token, "alice": alice, "bob": bob, "ids": ids, "app": app, "db": db}
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _sms_code(site, phone: str) -> str:
    """The newest code the development SMS sink sent to `phone` (sent after the API's answer)."""
    sms = site["app"].state.sms
    wait_for(lambda: sms.messages(to=phone), timeout_s=10, what=f"a text to {phone}")
    return code_in(sms.messages(to=phone)[-1].text)


def api(site, who: str, path: str, **params):
    r = httpx.get(site["url"] + path, headers=bearer(site[who]), params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def open_app(browser, site, who: str, viewport: str, lang: str = "en"):
    """A page signed in as `who` in the app of their role."""
    page = browser.new_page(viewport=VIEWPORTS[viewport])
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"failed {r.url}"))
    local = (site["url"], "data:", "blob:" + site["url"])
    page.on("request", lambda r: r.url.startswith(local) or errors.append(r.url))
    page.add_init_script(f"localStorage.setItem('wm_lang', '{lang}')")
    page.goto(site["url"] + "/")
    page.fill("#token", site[who])
    page.click("#signin-form button")
    page.wait_for_selector("#main", timeout=20_000)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def check_page(page, name: str) -> None:
    """Screenshot; nothing wider than the viewport, no horizontal scroll; axe: no serious/critical issue."""
    page.wait_for_timeout(300)  # charts lay out on the next frame
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    wide = page.evaluate(
        """() => {
          const w = document.documentElement.clientWidth;
          const out = [];
          for (const el of document.querySelectorAll('body *')) {
            // a table's wrapper scrolls itself: its cells may be wider than the screen
            if (el.closest('.table-wrap') && !el.classList.contains('table-wrap')) continue;
            const r = el.getBoundingClientRect();
            if (r.width > 0 && (r.right > w + 1 || r.left < -1))
              out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right));
          }
          return {out: out.slice(0, 5), scroll: document.documentElement.scrollWidth - w};
        }"""
    )
    assert wide["scroll"] <= 0, f"{name}: horizontal scroll of {wide['scroll']} px: {wide['out']}"
    assert wide["out"] == [], f"{name}: wider than the viewport: {wide['out']}"
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    bad = [(v["id"], v["impact"], len(v["nodes"])) for v in found if v["impact"] in ("serious", "critical")]
    assert bad == [], f"{name}: axe-core: {bad}"
    assert page.errors == [], f"{name}: page errors or outside requests: {page.errors}"  # type: ignore[attr-defined]


def chart_values(page, selector: str, series: int = 0) -> list[float | None]:
    """The y values an ECharts chart draws (read from the chart itself).

    The chart is drawn by an effect that runs after the page shows the data it draws, so this waits
    for the chart to exist on the element first (a new element when the data changed).
    """
    page.wait_for_function(
        "sel => { const el = document.querySelector(sel); return el && echarts.getInstanceByDom(el) }",
        arg=selector,
    )
    return page.evaluate(
        f"""() => echarts.getInstanceByDom(document.querySelector('{selector}'))
              .getOption().series[{series}].data.map(p => p[1])"""
    )


def last_query(page, part: str) -> str:
    """The query string of the page's latest request whose URL holds `part`."""
    return page.evaluate(
        """part => new URL(performance.getEntriesByType('resource').map(e => e.name)
                 .filter(n => n.includes(part)).pop()).search""",
        part,
    )


# -- the resident app ---------------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_resident_account_numbers_equal_the_api(browser, site, viewport):
    page = open_app(browser, site, "alice", viewport)
    acct = site["ids"]["0000000001"]
    cards = api(site, "alice", "/v1/me/accounts")
    card = page.locator(f"li[data-account='{acct}'] .balance")
    expect(card).to_have_attribute("data-value", cards[0]["balance_yuan"])
    check_page(page, f"resident-home-{viewport}")
    page.click(f"li[data-account='{acct}'] .card-body")
    o = api(site, "alice", f"/v1/accounts/{acct}/overview")
    expect(page.locator("#balance")).to_have_attribute("data-value", o["balance_yuan"])
    expect(page.locator("#period-used")).to_have_attribute("data-value", o["period_used_l"])
    expect(page.locator("#to-next")).to_have_attribute("data-value", o["to_next_tier_l"])
    assert Decimal(o["daily_l"]) == 360  # 150 + 210 L a day, charged
    expect(page.locator("#daily")).to_have_attribute("data-value", o["daily_l"])
    expect(page.locator("#days-left")).to_have_attribute(
        "data-value", "" if o["days_left"] is None else str(o["days_left"])
    )
    # litres shown as m³ with the API's digits: 75 days × 360 L = 27 m³
    expect(page.locator("#period-used")).to_contain_text("27.00 m³")
    fc = api(site, "alice", f"/v1/accounts/{acct}/forecast")
    shown = page.locator(".forecast-month")
    expect(shown).to_have_count(2)
    assert shown.evaluate_all("els => els.map(e => e.dataset.value)") == [
        m["cost_yuan"] for m in fc["months"]
    ]
    # usage by day: the bars are the API's litres, in order
    page.wait_for_selector("#usage-total[data-every='1d']")
    q = last_query(page, "/usage?")
    usage = httpx.get(site["url"] + f"/v1/accounts/{acct}/usage{q}", headers=bearer(site["alice"])).json()
    assert chart_values(page, "#usage-chart") == [i["used_l"] for i in usage["intervals"]]
    assert sum(v for v in chart_values(page, "#usage-chart") if v) > 0
    expect(page.locator("#usage-total")).to_have_attribute(
        "data-value", str(usage["total_l"]).removesuffix(".0")
    )
    running = [
        v for v in chart_values(page, "#usage-chart", 1) if v is not None
    ]  # the period's running total
    assert running == sorted(running)
    for every in ("1h", "1m"):
        page.click(f"button[data-every='{every}']")
        page.wait_for_selector(f"#usage-total[data-every='{every}']")
        bars = chart_values(page, "#usage-chart")
        assert len(bars) > 1 and max(bars) > 0
    ledger = api(site, "alice", f"/v1/accounts/{acct}/ledger", limit=20)
    assert page.locator(".ledger li .amount").evaluate_all("els => els.map(e => e.dataset.value)") == [
        e["amount"] for e in ledger
    ]
    expect(page.locator("#alerts-card")).to_contain_text("Possible leak")
    check_page(page, f"resident-account-{viewport}")
    page.close()


def test_pay_two_accounts_in_one_payment(browser, site):
    page = open_app(browser, site, "alice", "phone")
    page.click("#go-bind")  # alice adds her mother's account, named and grouped
    page.select_option("#bind-utility", "beijing")
    page.fill("#bind-number", "0000000002")
    page.click("#bind-submit")
    expect(page.locator("#verify-form")).to_have_attribute("data-methods", "sms")
    page.fill("#bind-sms-code", _sms_code(site, HOLDERS["0000000002"][0]))  # the mother reads it out
    page.fill("#bind-name", "Building 5, Unit 2 – main meter")
    page.fill("#bind-group", "Family")
    page.click("#bind-verify")
    expect(page.locator("#bind-done")).to_be_visible()
    page.click("#back")
    expect(page.locator("section.group[aria-label='Family'] .name")).to_have_text(
        "Building 5, Unit 2 – main meter"
    )
    before = {c["id"]: Decimal(c["balance_yuan"]) for c in api(site, "alice", "/v1/me/accounts")}
    for account in before:
        page.check(f"li[data-account='{account}'] input[type=checkbox]")
    page.click("#go-pay")
    lines = page.locator("fieldset.pay-line")
    expect(lines).to_have_count(2)
    lines.nth(0).locator(".pay-amount").fill("30.00")
    lines.nth(1).locator("button.chip").first.click()  # 50.00
    expect(page.locator("#pay-total")).to_have_attribute("data-value", "80.00")
    check_page(page, "resident-pay-phone")
    page.click("#pay-submit")
    expect(page.locator("#pay-sink")).to_be_visible()
    page.click("#pay-confirm")
    expect(page.locator("#pay-done")).to_be_visible()
    after = {c["id"]: Decimal(c["balance_yuan"]) for c in api(site, "alice", "/v1/me/accounts")}
    assert sorted(after[a] - before[a] for a in before) == [Decimal("30.00"), Decimal("50.00")]
    page.click("#pay-done + button")
    for c in api(site, "alice", "/v1/me/accounts"):
        expect(page.locator(f"li[data-account='{c['id']}'] .balance")).to_have_attribute(
            "data-value", c["balance_yuan"]
        )
    page.close()


def test_warning_level_autopay_and_notifications(browser, site):
    page = open_app(browser, site, "alice", "desktop")
    acct = site["ids"]["0000000001"]
    page.click(f"li[data-account='{acct}'] .card-body")
    page.fill("#level", "45.50")
    page.click("#level-form button")
    expect(page.locator("#balance-card .ok")).to_be_visible()
    assert api(site, "alice", f"/v1/accounts/{acct}/overview")["low_balance_yuan"] == "45.50"
    page.check("#autopay-enabled")
    page.fill("#autopay-below", "25")
    page.fill("#autopay-amount", "100")
    page.fill("#autopay-cap", "300")
    page.click("#autopay-form button")
    expect(page.locator("#autopay-card .ok")).to_be_visible()
    got = api(site, "alice", f"/v1/accounts/{acct}/autopay")
    assert (got["enabled"], got["below_yuan"], got["amount_yuan"]) == (True, "25.00", "100.00")
    page.fill("#autopay-amount", "5")  # below the 10-yuan minimum: a sentence, not "422: ..."
    page.click("#autopay-form button")
    err = page.locator("#autopay-card .error")
    expect(err).to_contain_text("Please check what you entered")
    assert "422" not in err.text_content()
    page.click("#nav-notifications")
    items = api(site, "alice", "/v1/notifications")["items"]
    expect(page.locator(".notes li")).to_have_count(len(items))
    expect(page.locator(".notes li[data-kind='alert_opened']")).to_contain_text("Possible leak on meter m-a2")
    expect(page.locator(".notes li[data-kind='payment_credited']").first).to_contain_text("credited")
    check_page(page, "resident-notifications-desktop")
    page.click("#read-all")
    expect(page.locator(".notes li.unread")).to_have_count(0)
    page.close()


def test_photo_with_guided_frame_then_confirm(browser, site):
    app = site["app"]
    photo, truth = render_photo(np.random.default_rng(1), params=EASY)
    width, height = Image.open(io.BytesIO(photo)).size
    xs, ys = [x for x, _ in truth.window_quad], [y for _, y in truth.window_quad]
    target = (
        min(xs) / width - 0.03,
        min(ys) / height - 0.05,
        max(xs) / width + 0.03,
        max(ys) / height + 0.05,
    )
    page = open_app(browser, site, "alice", "phone")
    page.click(f"li[data-account='{site['ids']['0000000001']}'] .card-body")
    page.select_option("#photo-meter", "m-a1")
    page.set_input_files(
        "#photo-file", files=[{"name": "meter.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    frame = page.locator("#photo-frame")
    expect(frame).to_be_visible()
    page.wait_for_function("() => document.querySelector('.photo-box img').naturalWidth > 0")
    page.wait_for_selector("#usage-total")  # the cards above have loaded: the page stops moving
    page.wait_for_selector(".forecast-month")

    def drag(x: float, y: float, dx: float, dy: float) -> None:
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + dx, y + dy, steps=5)
        page.mouse.up()

    # align the frame on the counter as a resident would: move its corner there, then size it (and again
    # if a card above finished loading and moved the page meanwhile)
    for _ in range(3):
        frame.scroll_into_view_if_needed()
        img = page.locator(".photo-box img").bounding_box()
        cur = [float(v) for v in frame.get_attribute("data-window").split(",")]
        box = frame.bounding_box()
        drag(
            box["x"] + 12,
            box["y"] + 12,
            (target[0] - cur[0]) * img["width"],
            (target[1] - cur[1]) * img["height"],
        )
        cur = [float(v) for v in frame.get_attribute("data-window").split(",")]
        handle = page.locator("#photo-frame .handle").bounding_box()
        drag(
            handle["x"] + handle["width"] / 2,
            handle["y"] + handle["height"] / 2,
            (target[2] - cur[2]) * img["width"],
            (target[3] - cur[3]) * img["height"],
        )
        got = [float(v) for v in frame.get_attribute("data-window").split(",")]
        if got == pytest.approx(list(target), abs=0.02):
            break
    window = frame.get_attribute("data-window")
    got = [float(v) for v in window.split(",")]
    assert got == pytest.approx(list(target), abs=0.02)  # the frame followed the drags
    page.evaluate(
        """() => { const f = window.fetch; window.__windows = [];
          window.fetch = (u, o) => {
            if (o && o.body instanceof FormData) window.__windows.push(o.body.get('window'));
            return f(u, o); }; }"""
    )
    page.click("#photo-send")
    expect(page.locator("#photo-result")).to_be_visible(timeout=30_000)
    assert page.evaluate("() => window.__windows") == [window]  # the frame goes with the photo
    status = page.locator("#photo-result").get_attribute("data-status")
    if status == "needs_confirmation":
        # the resident is told why in words: move the frame, check the wheels, or a number that does not fit
        why = page.locator("#photo-why")
        expect(why).to_be_visible()
        assert why.get_attribute("data-reason") and not why.inner_text().startswith("photo.")
        before = app.state.store.count_readings("m-a1")
        last = app.state.store.last_reading("m-a1", 2**31).total_ml
        value = f"{(last + 1_000) / 1e6:.3f}"  # a plausible correction: 1 L more than the last reading
        page.fill("#confirm-value", value)
        check_page(page, "resident-photo-phone")
        page.click("#confirm")
        expect(page.locator("#photo-confirmed")).to_be_visible()
        assert app.state.store.count_readings("m-a1") == before + 1
    else:
        assert status == "stored"
    page.close()


def test_errors_are_sentences_in_the_readers_language(browser, site):
    page = open_app(browser, site, "alice", "phone", lang="zh")
    expect(page.locator("h1")).to_have_text("户号")
    page.click("#go-bind")
    page.fill("#bind-number", "9999999999")  # no such account: asked for a code all the same
    page.click("#bind-submit")
    page.fill("#bind-sms-code", "000000")
    page.click("#bind-verify")
    err = page.locator("#bind-card .error")
    expect(err).to_have_text("验证码或身份证号后 4 位有误，或申请已过期。请检查，或重新开始。")
    page.click("#lang")
    expect(err).to_have_text(
        "The code or ID-card digits are wrong, or the request has expired. Check them, or start again."
    )
    check_page(page, "resident-bind-error-phone")
    page.close()


def test_leak_figures_and_that_was_me(browser, site):
    """A burst alert shows its kind, loss so far and cost per day; "that was me" closes it and is kept for
    the detector to learn (billing.leak_alerts.record_feedback)."""
    acct = site["ids"]["0000000001"]
    with site["db"].session() as s:
        alert = Alert(
            account_id=acct,
            meter_id="m-a1",
            kind="leak",
            dedupe_key="leak:m-a1:browser-burst",
            title="Burst on m-a1",
            details={
                "leak_kind": "burst",
                "rate_lph": 900.0,
                "volume_l": "450.000",
                "cost_yuan": "2.24",
                "per_day_l": "21600.000",
                "per_day_yuan": "107.57",
                "started_at": datetime.now(UTC).isoformat(),
            },
        )
        s.add(alert)
        s.flush()
        alert_id = alert.id
    page = open_app(browser, site, "alice", "phone")
    page.click(f"li[data-account='{acct}'] .card-body")
    item = page.locator(f"li[data-alert='{alert_id}']")
    expect(item.locator("strong")).to_have_text("Burst pipe")
    expect(item.locator("[data-field='lost']")).to_contain_text("450")
    expect(item.locator("[data-field='per-day']")).to_contain_text("107.57")
    check_page(page, "resident-leak-phone")
    item.locator(".alert-mine").click()
    expect(item).to_have_count(0)  # resolved: no longer among the live alerts
    with site["db"].session() as s:
        done = s.get(Alert, alert_id)
        assert done.state == "resolved" and done.details["feedback"]["verdict"] == "mine"
        assert s.scalars(select(LeakFeedback).where(LeakFeedback.alert_id == alert_id)).one()
    page.close()


def test_family_payer_shares_an_account_and_stops(browser, site):
    """Alice gives bob pay rights on her account; bob sees it as shared and can pay; alice stops sharing."""
    acct = site["ids"]["0000000001"]
    page = open_app(browser, site, "alice", "phone")
    page.click(f"li[data-account='{acct}'] .card-body")
    page.fill("#family-resident", "nobody-here")
    page.click("#family-grant")
    expect(page.locator("#family-card .error")).to_have_text("There is no user with that id.")
    page.fill("#family-resident", "bob")
    page.select_option("#family-rights", "pay")
    page.click("#family-grant")
    expect(page.locator("#family-list li")).to_have_count(1)
    expect(page.locator("#family-list li")).to_contain_text("bob · see and pay")
    check_page(page, "resident-family-phone")
    [granted] = api(site, "alice", f"/v1/accounts/{acct}/delegations")
    assert (granted["resident"], granted["rights"]) == ("bob", "pay")

    other = open_app(browser, site, "bob", "phone")
    card = other.locator(f"li[data-account='{acct}']")
    expect(card).to_be_visible()
    assert {c["id"]: c["access"] for c in api(site, "bob", "/v1/me/accounts")}[acct] == "pay"
    other.click(f"li[data-account='{acct}'] .card-body")
    expect(other.locator("#family-shared")).to_have_text(
        "The account holder shared this account with you (see and pay)."
    )
    expect(other.locator("#settings-card")).to_have_count(
        0
    )  # a delegate does not rename the holder's binding
    other.close()

    page.click("#family-list .family-revoke")
    expect(page.locator("#family-list li")).to_have_count(0)
    assert acct not in {c["id"] for c in api(site, "bob", "/v1/me/accounts")}
    page.close()


# -- the console ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_console_fleet_search_filters_and_meter_detail(browser, site, viewport):
    page = open_app(browser, site, "utility", viewport)
    page.wait_for_selector("#fleet-table")
    fleet = api(site, "utility", "/v1/fleet/meters", limit=25)
    expect(page.locator("#fleet-page")).to_have_attribute("data-total", str(fleet["total"]))
    assert page.locator("#fleet-table tbody tr").evaluate_all("r => r.map(e => e.dataset.meter)") == [
        m["meter_id"] for m in fleet["items"]
    ]
    check_page(page, f"console-fleet-{viewport}")
    page.select_option("#fleet-state", "offline")
    expect(page.locator("#fleet-table tbody tr")).to_have_count(1)
    expect(page.locator("#fleet-table tbody tr")).to_have_attribute("data-meter", "m-a2")
    page.select_option("#fleet-state", "any")
    page.fill("#fleet-q", "south")
    expect(page.locator("#fleet-table tbody tr")).to_have_count(1)
    page.fill("#fleet-q", "")
    page.fill("#fleet-battery", "70")
    expect(page.locator("#fleet-table tbody tr")).to_have_count(1)
    page.fill("#fleet-battery", "")
    page.click("#fleet-table tbody tr[data-meter='m-a1'] button")
    expect(page.locator("#meter-title")).to_contain_text("m-a1")
    usage_el = page.locator("#meter-usage-total")
    expect(usage_el).to_be_visible(timeout=20_000)
    q = last_query(page, "/meters/m-a1/usage?")
    usage = httpx.get(site["url"] + f"/v1/meters/m-a1/usage{q}", headers=bearer(site["utility"])).json()
    assert chart_values(page, "#meter-usage-chart") == [i["used_l"] for i in usage["intervals"]]
    page.wait_for_selector("#meter-series-chart")
    raw = chart_values(page, "#meter-series-chart", 0)
    assert len(raw) > 100 and raw == sorted(raw)
    expect(page.locator("#meter-status")).to_contain_text("0.2.0")
    check_page(page, f"console-meter-{viewport}")
    page.close()


def test_console_alert_workflow_reaches_the_resident(browser, site):
    page = open_app(browser, site, "utility", "desktop")
    page.click("#tab-alerts")
    row = page.locator("#alerts-table tbody tr").filter(has_text="m-a2").first
    row.click()
    page.fill("#wf-assignee", "Crew 3")
    page.click("#wf-assign")
    expect(page.locator("#assigned-to")).to_contain_text("Crew 3")
    page.fill("#wf-note", "A plumber comes on Tuesday")
    page.check("#wf-public")
    page.click("#wf-add-note")
    expect(page.locator("#resident-view")).to_contain_text("A plumber comes on Tuesday")
    check_page(page, "console-alert-desktop")
    acct = site["ids"]["0000000001"]
    seen = api(site, "alice", f"/v1/accounts/{acct}/alert-progress")
    assert any(p["assigned"] and p["notes"][-1][1] == "A plumber comes on Tuesday" for p in seen)
    resident = open_app(browser, site, "alice", "phone")
    resident.click(f"li[data-account='{acct}'] .card-body")
    expect(resident.locator("#alerts-card")).to_contain_text("Utility: A plumber comes on Tuesday")
    expect(resident.locator("#alerts-card")).to_contain_text("A technician has been assigned.")
    resident.close()
    alert_id = page.locator("#workflow").get_attribute("data-alert")
    page.click("#wf-resolve")
    expect(page.locator(f"#alerts-table tr[data-alert='{alert_id}']")).to_have_count(0)  # no longer live
    steps = api(site, "utility", f"/v1/alerts/{alert_id}/actions")
    assert [x["action"] for x in steps] == ["assign", "note", "resolve"]
    page.close()


def test_console_other_views(browser, site):
    page = open_app(browser, site, "utility", "desktop", lang="zh")
    page.click("#tab-silent")
    page.fill("#silent-hours", "1")
    expect(page.locator("#silent-table")).to_be_visible()
    page.click("#tab-top")
    top = page.locator("#top-table tbody tr")
    expect(top.first).to_be_visible()
    start = page.input_value("#top-start")
    stop = page.input_value("#top-stop")
    want = api(
        site,
        "utility",
        "/v1/fleet/top-consumers",
        start=start + "T00:00:00",
        stop=stop + "T00:00:00",
        tz="Asia/Shanghai",
        limit=20,
    )
    assert top.evaluate_all("r => r.map(e => [e.dataset.meter, Number(e.cells[1].dataset.value)])") == [
        [m["meter_id"], m["used_l"]] for m in want
    ]
    page.click("#tab-recon")
    expect(page.locator("#recon-summary")).to_have_attribute("data-clean", "true")
    page.click("#tab-vee")
    expect(page.locator("#vee")).to_contain_text("待审核")
    page.click("#tab-rejections")
    expect(page.locator("#rej-table")).to_be_visible()
    check_page(page, "console-zh-desktop")
    page.close()


def test_console_photo_review_shows_the_photo_and_stores_the_operators_value(browser, site):
    """A resident's correction that fit neither the photo nor the meter waits for an operator: the console
    lists it, shows the photo itself with the reader's and the resident's values, and stores the value
    the operator picks."""
    app = site["app"]
    photo, truth = render_photo(np.random.default_rng(5), params=EASY)
    up = httpx.post(
        site["url"] + "/v1/meters/m-a1/photos",
        headers=bearer(site["alice"]),
        files={"photo": ("meter.jpg", photo, "image/jpeg")},
        timeout=60,
    )
    assert up.status_code == 201, up.text
    body = up.json()
    assert body["status"] == "needs_confirmation", body  # below or far above m-a1's readings
    wrong = httpx.post(
        site["url"] + f"/v1/photos/{body['photo_id']}/confirm",
        headers=bearer(site["alice"]),
        json={"value_m3": 12_345_678.9},
        timeout=30,
    )
    assert wrong.status_code == 202 and wrong.json()["status"] == "needs_operator"
    before = app.state.store.count_readings("m-a1")
    page = open_app(browser, site, "utility", "desktop")
    page.click("#tab-photos")
    row = page.locator(f"#photo-table tr[data-photo='{body['photo_id']}']")
    expect(row).to_be_visible()
    row.click()
    page.wait_for_function("() => (document.querySelector('#photo-review-img') || {}).naturalWidth > 0")
    assert (
        page.evaluate("() => document.querySelector('#photo-review-img').naturalWidth")
        == Image.open(io.BytesIO(photo)).size[0]
    )
    # The window the reader read is outlined on the photo, where the counter is on screen.
    outline = page.locator("#photo-review-window polygon").bounding_box()
    shown = page.locator("#photo-review-img").bounding_box()
    size = np.array(Image.open(io.BytesIO(photo)).size, np.float64)
    quad = np.array(truth.window_quad, np.float64) / size
    want_x = shown["x"] + shown["width"] * np.array([quad[:, 0].min(), quad[:, 0].max()])
    want_y = shown["y"] + shown["height"] * np.array([quad[:, 1].min(), quad[:, 1].max()])
    tol_px = 0.05 * shown["width"]
    assert (
        abs(outline["x"] - want_x[0]) < tol_px and abs(outline["x"] + outline["width"] - want_x[1]) < tol_px
    )
    assert (
        abs(outline["y"] - want_y[0]) < tol_px and abs(outline["y"] + outline["height"] - want_y[1]) < tol_px
    )
    check_page(page, "console-photo-review-desktop")
    page.click(f"#photo-review button[data-value='{body['value_m3']}']")
    page.click("#photo-review-store")
    expect(row).to_have_count(0)
    assert app.state.store.count_readings("m-a1") == before + 1
    stored = api(site, "utility", f"/v1/photos/{body['photo_id']}")
    assert stored["status"] == "confirmed" and stored["value_m3"] == body["value_m3"]
    page.close()
