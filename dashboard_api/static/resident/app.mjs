// The resident app: bound accounts (named, grouped, most recently paid first), each with its balance,
// warning level, days left, tier position, bill forecast, usage charts, statement, alerts, automatic
// payment and meter photo; one payment for several accounts; notifications. Chinese and English.
import {
  ErrorLine, SignIn, api, fmt, html, initialLang, render, session, translator, useApi, useEffect, useRef,
  useState, wallMs,
} from "../shared/core.mjs";
import { UsageChart } from "../shared/chart.mjs";

const UTILITIES = ["beijing", "shanghai", "guangzhou"];
const PRESETS = ["50.00", "100.00", "200.00"];

function App() {
  const [lang, setLang] = useState(initialLang());
  const [me, setMe] = useState(null);
  const [view, setView] = useState({ name: "home" });
  const [checked, setChecked] = useState(false);
  const t = translator(lang);
  const f = fmt(t);
  useEffect(() => { document.documentElement.lang = t.locale; document.title = t("app.resident"); }, [lang]);
  useEffect(() => {
    if (!session.token) { setChecked(true); return; }
    api("/v1/me").then(setMe, () => { session.token = ""; }).finally(() => setChecked(true));
  }, []);
  const switchLang = () => { const next = lang === "zh" ? "en" : "zh"; localStorage.setItem("wm_lang", next); setLang(next); };
  const ctx = { t, f, go: setView };
  if (!checked) return html`<p class="muted">${t("common.loading")}</p>`;
  if (!me) {
    return html`<${Bar} t=${t} onLang=${switchLang} />
      <${SignIn} t=${t} title=${t("app.resident")} onIn=${(m) => (m.role === "utility" ? location.assign("../console/") : setMe(m))} />`;
  }
  const signOut = () => { session.token = ""; setMe(null); setView({ name: "home" }); };
  return html`<${Bar} t=${t} onLang=${switchLang} onOut=${signOut} go=${setView} showNotif=${true} />
    <main id="main" data-view=${view.name}>
      ${view.name === "home" && html`<${Home} ...${ctx} />`}
      ${view.name === "account" && html`<${Account} ...${ctx} id=${view.id} card=${view.card} />`}
      ${view.name === "pay" && html`<${Pay} ...${ctx} selected=${view.selected || []} />`}
      ${view.name === "bind" && html`<${Bind} ...${ctx} />`}
      ${view.name === "notifications" && html`<${Notifications} ...${ctx} />`}
    </main>`;
}

function Bar({ t, onLang, onOut, go, showNotif }) {
  const notes = useApi(showNotif ? "/v1/notifications?limit=1" : null);
  const unread = notes.data ? notes.data.unread : 0;
  return html`<header class="bar">
    <a class="brand" href="#" onClick=${(e) => { e.preventDefault(); go && go({ name: "home" }); }}>${t("app.resident")}</a>
    <nav>
      ${showNotif && html`<button id="nav-notifications" class="link" onClick=${() => go({ name: "notifications" })}>${t("nav.notifications")}${unread ? html` <span class="badge" id="unread">${unread}</span>` : ""}</button>`}
      <button id="lang" class="link" onClick=${onLang} lang=${t.lang === "zh" ? "en" : "zh"}>${t("lang.switch")}</button>
      ${onOut && html`<button id="signout" class="link" onClick=${onOut}>${t("signin.out")}</button>`}
    </nav>
  </header>`;
}

// -- home: the accounts, grouped ---------------------------------------------------------------------

function Home({ t, f, go }) {
  const cards = useApi("/v1/me/accounts");
  const [selected, setSelected] = useState([]);
  if (cards.loading && !cards.data) return html`<p class="muted">${t("common.loading")}</p>`;
  if (cards.error) return html`<${ErrorLine} t=${t} error=${cards.error} />`;
  const groups = [];
  for (const c of cards.data) {
    const name = c.group || "";
    let g = groups.find((x) => x.name === name);
    if (!g) groups.push((g = { name, items: [] }));
    g.items.push(c);
  }
  groups.sort((a, b) => (a.name === "") - (b.name === ""));  // named groups first, in payment order
  const toggle = (id) => setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s, id]));
  return html`<section>
    <div class="row spread">
      <h1>${t("nav.accounts")}</h1>
      <button id="go-bind" onClick=${() => go({ name: "bind" })}>${t("nav.bind")}</button>
    </div>
    ${cards.data.length === 0 && html`<p class="muted">${t("accounts.empty")}</p>`}
    ${groups.map((g) => html`<section class="group" aria-label=${g.name || t("accounts.ungrouped")}>
      <h2>${g.name || t("accounts.ungrouped")}</h2>
      <ul class="cards">
        ${g.items.map((c) => html`<li class=${"card account" + (c.below_low_balance ? " low" : "")} data-account=${c.id}>
          <label class="pick"><input type="checkbox" checked=${selected.includes(c.id)} onChange=${() => toggle(c.id)}
            aria-label=${t("accounts.select") + ": " + c.name} /></label>
          <button class="card-body" onClick=${() => go({ name: "account", id: c.id, card: c })}>
            <span class="name">${c.name}</span>
            <span class="muted small">${t(`utility.${c.utility}`)} · ${c.account_number}</span>
            <span class="balance" data-value=${c.balance_yuan}>${f.money(c.balance_yuan)}</span>
            <span class="small">${daysText(t, c.days_left)}</span>
            ${c.below_low_balance && html`<span class="warn small">${t("accounts.low", { amount: f.money(c.low_balance_yuan) })}</span>`}
            ${c.live_alerts > 0 && html`<span class="warn small">${t("accounts.alerts", { n: c.live_alerts })}</span>`}
            <span class="muted small">${c.last_payment_at ? t("accounts.lastPaid", { when: f.date(c.last_payment_at, c.tz) }) : t("accounts.neverPaid")}</span>
          </button>
        </li>`)}
      </ul>
    </section>`)}
    ${cards.data.length > 0 && html`<button id="go-pay" class="primary wide" onClick=${() => go({ name: "pay", selected })}>
      ${t("nav.pay")}${selected.length ? ` (${selected.length})` : ""}</button>`}
  </section>`;
}

function daysText(t, n) {
  if (n === null || n === undefined) return t("accounts.daysLeftLong");
  return t("accounts.daysLeft", { n });
}

// -- one account -------------------------------------------------------------------------------------

function Account({ t, f, go, id, card }) {
  const ov = useApi(`/v1/accounts/${id}/overview`);
  const [, setTick] = useState(0);
  if (ov.error) return html`<${Back} t=${t} go=${go} /><${ErrorLine} t=${t} error=${ov.error} />`;
  if (!ov.data) return html`<p class="muted">${t("common.loading")}</p>`;
  const o = ov.data;
  const tz = o.tz;
  return html`<${Back} t=${t} go=${go} />
    <h1 id="account-name">${card ? card.name : ""}</h1>
    <div class="grid">
      <${Balance} t=${t} f=${f} o=${o} id=${id} onSaved=${ov.reload} />
      <${Tiers} t=${t} f=${f} o=${o} />
      <${Forecast} t=${t} f=${f} id=${id} />
      <${Alerts} t=${t} f=${f} id=${id} tz=${tz} />
      <${Usage} t=${t} f=${f} id=${id} o=${o} />
      <${Ledger} t=${t} f=${f} id=${id} tz=${tz} />
      <${Autopay} t=${t} f=${f} id=${id} />
      <${Photo} t=${t} f=${f} meters=${card ? card.meters : []} />
      ${card && card.access === "holder" && html`<${Settings} t=${t} id=${id} card=${card} onSaved=${() => setTick((n) => n + 1)} />`}
      ${card && html`<${Family} t=${t} f=${f} id=${id} card=${card} tz=${tz} />`}
    </div>`;
}

// -- delegation to a family payer (docs/security.md): a holder gives another resident view or pay rights --

function Family({ t, f, id, card, tz }) {
  const list = useApi(`/v1/accounts/${id}/delegations`);
  const [form, setForm] = useState({ resident: "", rights: "pay" });
  const [state, setState] = useState({ error: null, saved: false });
  const holder = card.access === "holder";
  const grant = async (e) => {
    e.preventDefault();
    try {
      await api(`/v1/accounts/${id}/delegations`, { method: "POST", json: { resident: form.resident.trim(), rights: form.rights } });
      setForm({ ...form, resident: "" });
      setState({ error: null, saved: true });
      list.reload();
    } catch (err) { setState({ error: err, saved: false }); }
  };
  const revoke = async (d) => {
    try {
      await api(`/v1/accounts/${id}/delegations/${d.id}`, { method: "DELETE" });
      setState({ error: null, saved: false });
      list.reload();
    } catch (err) { setState({ error: err, saved: false }); }
  };
  return html`<section class="card" id="family-card"><h2>${t("family.title")}</h2>
    ${!holder && html`<p id="family-shared">${t("family.sharedWithYou", { rights: t(`family.rights.${card.access}`) })}</p>`}
    <${ErrorLine} t=${t} error=${list.error} />
    ${list.data && list.data.length === 0 && holder && html`<p class="muted">${t("family.none")}</p>`}
    ${list.data && list.data.length > 0 && html`<ul class="notes" id="family-list">${list.data.map((d) => html`<li data-delegation=${d.id}>
      <span>${holder ? d.resident : d.grantor} · ${t(`family.rights.${d.rights}`)}</span>
      <span class="muted small">${f.dateTime(d.granted_at, tz)}</span>
      <button class="family-revoke" onClick=${() => revoke(d)}>${holder ? t("family.revoke") : t("family.leave")}</button></li>`)}</ul>`}
    ${holder && html`<form onSubmit=${grant} class="stack" id="family-form">
      <label>${t("family.resident")}<input id="family-resident" required maxlength="64" value=${form.resident} onInput=${(e) => setForm({ ...form, resident: e.target.value })} /></label>
      <label>${t("family.rightsLabel")}<select id="family-rights" value=${form.rights} onChange=${(e) => setForm({ ...form, rights: e.target.value })}>
        <option value="pay">${t("family.rights.pay")}</option><option value="view">${t("family.rights.view")}</option></select></label>
      <button type="submit" id="family-grant">${t("family.grant")}</button>
    </form>`}
    ${state.saved && html`<p class="ok" role="status">${t("common.saved")}</p>`}
    <${ErrorLine} t=${t} error=${state.error} context="family" />
  </section>`;
}

function Back({ t, go }) {
  return html`<button class="link back" id="back" onClick=${() => go({ name: "home" })}>← ${t("nav.back")}</button>`;
}

function Balance({ t, f, o, id, onSaved }) {
  const [level, setLevel] = useState(o.low_balance_yuan);
  const [state, setState] = useState({ error: null, saved: false });
  const save = async (e) => {
    e.preventDefault();
    try {
      await api(`/v1/accounts/${id}/low-balance`, { method: "PUT", json: { low_balance_yuan: level === "" ? null : level } });
      setState({ error: null, saved: true });
      onSaved();
    } catch (err) { setState({ error: err, saved: false }); }
  };
  return html`<section class="card" id="balance-card">
    <h2>${t("overview.title")}</h2>
    <p class=${"big" + (o.below_low_balance ? " warn" : "")} id="balance" data-value=${o.balance_yuan}>${f.money(o.balance_yuan)}</p>
    ${o.below_low_balance && html`<p class="warn" id="low-warning">${t("accounts.low", { amount: f.money(o.low_balance_yuan) })}</p>`}
    <p id="days-left" data-value=${o.days_left ?? ""}>${o.daily_l === null ? t("accounts.daysLeftUnknown") : daysText(t, o.days_left)}</p>
    ${o.daily_l !== null && html`<p class="muted small" id="daily" data-value=${o.daily_l}>${t("overview.daily", { litres: f.volume(o.daily_l) })}</p>`}
    <form class="inline" onSubmit=${save} id="level-form">
      <label>${t("overview.level")}
        <input id="level" inputmode="decimal" value=${level} onInput=${(e) => setLevel(e.target.value)} size="8" /></label>
      <button type="submit">${t("common.save")}</button>
    </form>
    ${o.low_balance_is_default && html`<p class="muted small">${t("overview.levelHint", { amount: f.money(o.low_balance_yuan) })}</p>`}
    ${state.saved && html`<p class="ok" role="status">${t("common.saved")}</p>`}
    <${ErrorLine} t=${t} error=${state.error} />
  </section>`;
}

function Tiers({ t, f, o }) {
  const used = Number(o.period_used_l);
  const last = o.tiers[o.tiers.length - 1];
  const scale = Math.max(used * 1.1, Number(o.tiers[o.tiers.length - 2]?.to_l ?? last.from_l) * 1.15, 1);
  return html`<section class="card" id="tier-card">
    <h2>${t("overview.tiers")}</h2>
    <p class="muted small">${t("overview.period", { start: f.day(o.period_start), end: f.day(prevDay(o.period_end)) })}</p>
    <p class="big" id="period-used" data-value=${o.period_used_l}>${t("overview.used", { volume: f.m3(o.period_used_l, 2) })}</p>
    <div class="tierbar" role="img" aria-label=${t("overview.used", { volume: f.m3(o.period_used_l, 2) })}>
      ${o.tiers.map((b, k) => {
        const from = Number(b.from_l), to = b.to_l === null ? scale : Number(b.to_l);
        return html`<span class=${"band b" + k} style=${`left:${(100 * from) / scale}%;width:${(100 * (Math.min(to, scale) - from)) / scale}%`}></span>`;
      })}
      <span class="used" style=${`width:${Math.min(100, (100 * used) / scale)}%`}></span>
    </div>
    <p id="tier-now">${t("overview.tierNow", { n: o.tier_index + 1, price: f.money(o.price_yuan_per_m3) })}</p>
    <p id="to-next" data-value=${o.to_next_tier_l ?? ""}>${o.to_next_tier_l === null ? t("overview.lastTier")
      : t("overview.toNext", { volume: f.m3(o.to_next_tier_l, 2), n: o.tier_index + 2, price: f.money(o.next_price_yuan_per_m3) })}</p>
    <ul class="small muted bands">
      ${o.tiers.map((b, k) => html`<li>${b.to_l === null
        ? t("overview.tierBandOpen", { n: k + 1, from: f.num(Number(b.from_l) / 1000), price: f.money(b.yuan_per_m3) })
        : t("overview.tierBand", { n: k + 1, from: f.num(Number(b.from_l) / 1000), to: f.num(Number(b.to_l) / 1000), price: f.money(b.yuan_per_m3) })}</li>`)}
    </ul>
  </section>`;
}

function prevDay(isoDate) {
  const d = new Date(isoDate + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

function Forecast({ t, f, id }) {
  const fc = useApi(`/v1/accounts/${id}/forecast`);
  let body = html`<p class="muted">${t("common.loading")}</p>`;
  if (fc.error) body = html`<${ErrorLine} t=${t} error=${fc.error} />`;
  else if (fc.data && fc.data.months.length === 0) body = html`<p class="muted">${t("forecast.none")}</p>`;
  else if (fc.data) {
    const d = fc.data;
    const mape = d.backtest.mape_pct[d.method];
    body = html`${d.months.map((m, k) => html`<p class="forecast-month" data-month=${m.month} data-value=${m.cost_yuan}>
        ${t(k === 0 ? "forecast.thisMonth" : "forecast.nextMonth", { month: f.month(m.month) })}:
        <strong>${f.money(m.cost_yuan)}</strong> <span class="muted">(${f.m3(m.volume_l, 1)})</span></p>`)}
      <p class="small" id="forecast-error" data-value=${mape ?? ""}>${mape == null ? t("forecast.errorUnknown")
        : t("forecast.error", { pct: f.num(mape, 0, 1), n: d.backtest.cases })}</p>`;
  }
  return html`<section class="card" id="forecast-card"><h2>${t("forecast.title")}</h2>${body}</section>`;
}

// Ranges per resolution, as instants (ISO with offset) in the account's zone.
function rangeFor(every, o, now) {
  const iso = (d) => d.toISOString();
  if (every === "1m") return { start: iso(new Date(now - 3 * 3600e3)), stop: iso(now) };
  if (every === "1h") return { start: iso(new Date(now - 48 * 3600e3)), stop: iso(now) };
  const today = o.today;
  if (every === "1d") {
    const back = new Date(today + "T00:00:00Z");
    back.setUTCDate(back.getUTCDate() - 30);
    const start = back.toISOString().slice(0, 10) < o.period_start ? back.toISOString().slice(0, 10) : o.period_start;
    return { start: start + "T00:00:00", stop: nextDay(today) + "T00:00:00" };
  }
  const [y, m] = today.split("-").map(Number);
  const first = new Date(Date.UTC(y, m - 1 - 12, 1)).toISOString().slice(0, 10);
  const next = new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10);
  return { start: first + "T00:00:00", stop: next + "T00:00:00" };
}

function nextDay(isoDate) {
  const d = new Date(isoDate + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

// The billing period's running total (m³) per interval, restarting at each period start; unknown
// (null) before the first period start inside the range.
function cumulativeOf(usage, o, tz) {
  const periodDay = o.period === "monthly" ? null : o.period_start.slice(5);
  let total = null;
  return usage.intervals.map((i) => {
    const day = i.start.slice(0, 10);  // the API writes interval starts in the zone: the local date
    const midnight = i.start.slice(11, 19) === "00:00:00";
    const starts = midnight && (o.period === "monthly" ? day.endsWith("-01") : day.slice(5) === periodDay);
    if (starts) total = 0;
    if (total !== null) total += i.used_l;
    return [(wallMs(i.start, tz) + wallMs(i.end, tz)) / 2, total === null ? null : total / 1000];
  });
}

function Usage({ t, f, id, o }) {
  const [every, setEvery] = useState("1d");
  const [now] = useState(() => new Date());  // fixed when the card opens: the query stays the same
  const r = rangeFor(every, o, now);
  const q = new URLSearchParams({ ...r, every, tz: o.tz });
  const usage = useApi(`/v1/accounts/${id}/usage?${q}`, []);
  const u = usage.data && usage.data.every === every ? usage.data : null;
  const cumulative = u && (every === "1d" || every === "1mo") ? cumulativeOf(u, o, o.tz) : null;
  return html`<section class="card wide-card" id="usage-card">
    <div class="row spread"><h2>${t("usage.title")}</h2>
      <div class="tabs" role="tablist">${["1m", "1h", "1d", "1mo"].map((e) => html`<button role="tab"
        aria-selected=${e === every} class=${e === every ? "on" : ""} data-every=${e} onClick=${() => setEvery(e)}>${t(`usage.every.${e}`)}</button>`)}</div>
    </div>
    <${ErrorLine} t=${t} error=${usage.error} />
    ${u && html`<p id="usage-total" data-value=${u.total_l} data-every=${u.every}>${t("usage.total", { volume: f.volume(u.total_l) })}
      ${u.peak_flow_lpm !== null ? html` · <span class="muted">${t("usage.peak", { flow: t("unit.lpm", { v: f.num(u.peak_flow_lpm, 1, 1) }) })}</span>` : ""}</p>
      ${u.total_l === 0 && html`<p class="muted">${t("usage.empty")}</p>`}
      <${UsageChart} t=${t} f=${f} usage=${u} tz=${o.tz} id="usage-chart" label=${t("usage.title")}
        tiers=${cumulative ? o.tiers : null} cumulative=${cumulative} />`}
  </section>`;
}

function Ledger({ t, f, id, tz }) {
  const rows = useApi(`/v1/accounts/${id}/ledger?limit=20`);
  return html`<section class="card" id="ledger-card"><h2>${t("ledger.title")}</h2>
    <${ErrorLine} t=${t} error=${rows.error} />
    ${rows.data && rows.data.length === 0 && html`<p class="muted">${t("ledger.empty")}</p>`}
    ${rows.data && html`<ul class="ledger">${rows.data.map((e) => html`<li data-entry=${e.id} data-kind=${e.kind}>
      <span>${t(`ledger.${e.kind}`)}${e.day ? html` <span class="muted small">${f.day(e.day)}</span>` : html` <span class="muted small">${f.dateTime(e.created_at, tz)}</span>`}
        ${e.volume_l !== null && html` <span class="muted small">${f.volume(e.volume_l)}</span>`}</span>
      <span class=${"amount " + (Number(e.amount) < 0 ? "neg" : "pos")} data-value=${e.amount}>${f.money(e.amount)}</span>
      <span class="muted small after">${t("ledger.balanceAfter", { amount: f.money(e.balance_after) })}</span>
    </li>`)}</ul>`}
  </section>`;
}

function Alerts({ t, f, id, tz }) {
  const alerts = useApi(`/v1/alerts?account_id=${id}&limit=20`);
  const progress = useApi(`/v1/accounts/${id}/alert-progress`);
  const byId = Object.fromEntries((progress.data || []).map((p) => [p.alert_id, p]));
  const live = (alerts.data || []).filter((a) => a.state !== "resolved");
  return html`<section class="card" id="alerts-card"><h2>${t("alerts.title")}</h2>
    <${ErrorLine} t=${t} error=${alerts.error} />
    ${alerts.data && live.length === 0 && html`<p class="muted">${t("alerts.none")}</p>`}
    <ul class="alerts">${live.map((a) => html`<${AlertItem} t=${t} f=${f} a=${a} tz=${tz} p=${byId[a.id]} onChange=${alerts.reload} />`)}</ul>
  </section>`;
}

// Numbers from an alert's structured fields: a leak alert's `leak` figures (docs/leaks.md, "Alert fields"),
// else its details.
export function alertFigures(a) {
  const d = { ...(a.details || {}), ...(a.leak || {}) };
  const pick = (...names) => { for (const n of names) if (a[n] != null) return a[n]; for (const n of names) if (d[n] != null) return d[n]; return null; };
  return {
    rateLph: pick("rate_lph", "leak_rate_lph"),
    lostL: pick("volume_l", "lost_l", "volume_lost_l"),
    lostYuan: pick("cost_yuan", "lost_yuan", "cost_so_far_yuan"),
    perDayL: pick("per_day_l", "leak_l_per_day", "l_per_day"),
    perDayYuan: pick("per_day_yuan", "leak_cost_yuan_per_day", "cost_per_day_yuan"),
    start: pick("started_at", "start", "leak_start"),
    stopped: pick("stopped_at"),
    leakKind: pick("leak_kind"),
    feedback: d.feedback || null,
  };
}

function AlertItem({ t, f, a, tz, p, onChange }) {
  const x = alertFigures(a);
  const kindKey = x.leakKind && t.has(`alerts.leakKind.${x.leakKind}`) ? `alerts.leakKind.${x.leakKind}`
    : t.has(`alerts.kind.${a.kind}`) ? `alerts.kind.${a.kind}` : "alerts.kind.other";
  const [error, setError] = useState(null);
  // "That was me" teaches the detector the household's own pattern (a pool, the garden, guests);
  // "not me" on an unusual-use notice opens a leak alert at once.
  const answer = async (verdict) => {
    try {
      await api(`/v1/alerts/${a.id}/feedback`, { method: "POST", json: { verdict } });
      setError(null);
      onChange();
    } catch (err) { setError(err); }
  };
  const askable = (a.kind === "leak" || a.kind === "unusual_use") && !x.feedback && a.state !== "resolved";
  return html`<li class="alert" data-alert=${a.id}>
    <strong>${t(kindKey)}</strong> <span class="muted small">${a.meter_id ? t("alerts.meter", { meter: a.meter_id }) : ""}</span>
    <span class="state small">${t(`alerts.state.${a.state}`)}</span>
    <p class="small muted">${t("alerts.since", { when: f.dateTime(x.start || a.opened_at, tz) })}</p>
    ${x.stopped && html`<p class="small" data-field="stopped">${t("alerts.stopped", { when: f.dateTime(x.stopped, tz) })}</p>`}
    ${x.rateLph != null && html`<p class="small" data-field="rate">${t("alerts.rate", { rate: f.litres(x.rateLph) })}</p>`}
    ${(x.lostL != null || x.lostYuan != null) && html`<p class="small" data-field="lost">${t("alerts.lost", { volume: x.lostL != null ? f.volume(x.lostL) : "–", amount: f.money(x.lostYuan) })}</p>`}
    ${(x.perDayL != null || x.perDayYuan != null) && !x.stopped && html`<p class="small warn" data-field="per-day">${t("alerts.perDay", { volume: x.perDayL != null ? f.volume(x.perDayL) : "–", amount: f.money(x.perDayYuan) })}</p>`}
    ${p && p.assigned && html`<p class="small ok">${t("alerts.assigned")}</p>`}
    ${p && p.notes.map(([, text]) => html`<p class="small note">${t("alerts.note", { text })}</p>`)}
    ${askable && html`<div class="row"><button class="alert-mine" onClick=${() => answer("mine")}>${t("alerts.mine")}</button>
      <button class="alert-not-mine" onClick=${() => answer("not_mine")}>${t("alerts.notMine")}</button></div>`}
    ${x.feedback && html`<p class="small muted" data-field="feedback">${t(`alerts.answered.${x.feedback.verdict}`)}</p>`}
    <${ErrorLine} t=${t} error=${error} />
  </li>`;
}

function Autopay({ t, f, id }) {
  const cur = useApi(`/v1/accounts/${id}/autopay`);
  const [form, setForm] = useState(null);
  const [state, setState] = useState({ error: null, saved: false });
  // The form starts from the saved settings once; a reload after saving must not overwrite what the
  // resident is typing (a browser test typed into it while the reload was in flight and lost the text).
  useEffect(() => {
    if (cur.data && form === null) setForm({
      enabled: cur.data.enabled, below_yuan: cur.data.below_yuan ?? "20.00", amount_yuan: cur.data.amount_yuan ?? "100.00",
      monthly_cap_yuan: cur.data.monthly_cap_yuan ?? "300.00",
    });
  }, [cur.data]);
  if (!form) return html`<section class="card" id="autopay-card"><h2>${t("autopay.title")}</h2><${ErrorLine} t=${t} error=${cur.error} /></section>`;
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const save = async (e) => {
    e.preventDefault();
    try { await api(`/v1/accounts/${id}/autopay`, { method: "PUT", json: form }); setState({ error: null, saved: true }); cur.reload(); }
    catch (err) { setState({ error: err, saved: false }); }
  };
  return html`<section class="card" id="autopay-card"><h2>${t("autopay.title")}</h2>
    ${cur.data.configured && !cur.data.paid_by_me && html`<p class="muted small">${t("autopay.byOther")}</p>`}
    <form onSubmit=${save} id="autopay-form" class="stack">
      <label class="check"><input type="checkbox" id="autopay-enabled" checked=${form.enabled} onChange=${set("enabled")} /> ${t("autopay.enabled")}</label>
      <label>${t("autopay.below")}<input id="autopay-below" inputmode="decimal" value=${form.below_yuan} onInput=${set("below_yuan")} /></label>
      <label>${t("autopay.amount")}<input id="autopay-amount" inputmode="decimal" value=${form.amount_yuan} onInput=${set("amount_yuan")} /></label>
      <label>${t("autopay.cap")}<input id="autopay-cap" inputmode="decimal" value=${form.monthly_cap_yuan} onInput=${set("monthly_cap_yuan")} /></label>
      <button type="submit">${t("common.save")}</button>
    </form>
    <p class="muted small">${t("autopay.spent", { amount: f.money(cur.data.spent_this_month_yuan) })}</p>
    ${state.saved && html`<p class="ok" role="status">${t("common.saved")}</p>`}
    <${ErrorLine} t=${t} error=${state.error} />
  </section>`;
}

function Settings({ t, id, card, onSaved }) {
  const [name, setName] = useState(card.name);
  const [group, setGroup] = useState(card.group || "");
  const [state, setState] = useState({ error: null, saved: false });
  const save = async (e) => {
    e.preventDefault();
    try {
      await api(`/v1/accounts/${id}/binding`, { method: "PATCH", json: { name, group: group.trim() || null } });
      card.name = name; card.group = group.trim() || null;
      setState({ error: null, saved: true });
      onSaved();
    } catch (err) { setState({ error: err, saved: false }); }
  };
  return html`<section class="card" id="settings-card"><h2>${t("settings.title")}</h2>
    <form onSubmit=${save} class="stack" id="settings-form">
      <label>${t("settings.name")}<input id="binding-name" value=${name} maxlength="100" placeholder=${t("settings.namePlaceholder")} onInput=${(e) => setName(e.target.value)} /></label>
      <label>${t("settings.group")}<input id="binding-group" value=${group} maxlength="100" onInput=${(e) => setGroup(e.target.value)} /></label>
      <button type="submit">${t("common.save")}</button>
    </form>
    ${state.saved && html`<p class="ok" role="status">${t("common.saved")}</p>`}
    <${ErrorLine} t=${t} error=${state.error} />
  </section>`;
}

// -- meter photo with a guide frame ------------------------------------------------------------------

// The frame is where the counter should be, in fractions of the photo; it is sent with the photo as
// `window` (x0,y0,x1,y1) so the reader looks there first.
const FRAME0 = { x0: 0.15, y0: 0.38, x1: 0.85, y1: 0.62 };

// Why a reading waits for the resident, in three plain groups: the frame may not hold the whole counter
// (move it and send again), wheels hard to read (check the number), or a number that does not fit the
// meter's earlier readings.
const WHY_FRAME = ["window_may_continue", "another_row_reads_as_wheels", "orientation_uncertain", "window_not_outlined",
  "wheel_count_uncertain", "style_differs_from_reference", "beyond_household_range"];
const WHY_HISTORY = ["lower_than_previous", "impossible_jump"];
const whyOf = (r) => r.review_reason || (r.plausible ? null : r.plausibility_reason);
const whyKey = (reason) => !reason || reason === "no_value" ? null
  : WHY_FRAME.includes(reason) ? "photo.why.frame" : WHY_HISTORY.includes(reason) ? "photo.why.history" : "photo.why.wheels";

function Photo({ t, f, meters }) {
  const [meter, setMeter] = useState(meters[0] || "");
  const [file, setFile] = useState(null);
  const [url, setUrl] = useState(null);
  const [frame, setFrame] = useState(FRAME0);
  const [result, setResult] = useState(null);
  const [value, setValue] = useState("");
  const [state, setState] = useState({ error: null, busy: false, context: "photo" });
  const box = useRef(null);
  useEffect(() => () => url && URL.revokeObjectURL(url), [url]);
  const pick = (e) => {
    const fl = e.target.files[0];
    setFile(fl || null); setResult(null); setFrame(FRAME0);
    setUrl(fl ? URL.createObjectURL(fl) : null);
  };
  const drag = (mode) => (e) => {
    e.preventDefault();
    const rect = box.current.getBoundingClientRect();
    const start = { x: e.clientX, y: e.clientY, ...frame };
    const move = (ev) => {
      const dx = (ev.clientX - start.x) / rect.width, dy = (ev.clientY - start.y) / rect.height;
      const clamp = (v) => Math.min(1, Math.max(0, v));
      if (mode === "move") {
        const w = start.x1 - start.x0, h = start.y1 - start.y0;
        const x0 = clamp(Math.min(start.x0 + dx, 1 - w)), y0 = clamp(Math.min(start.y0 + dy, 1 - h));
        setFrame({ x0, y0, x1: x0 + w, y1: y0 + h });
      } else {
        setFrame({ ...start, x1: clamp(Math.max(start.x1 + dx, start.x0 + 0.1)), y1: clamp(Math.max(start.y1 + dy, start.y0 + 0.05)) });
      }
    };
    const up = () => { window.removeEventListener("pointermove", move); window.removeEventListener("pointerup", up); };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  };
  const send = async (e) => {
    e.preventDefault();
    if (!file || !meter) return;
    const body = new FormData();
    body.append("photo", file);
    body.append("window", [frame.x0, frame.y0, frame.x1, frame.y1].map((v) => v.toFixed(4)).join(","));
    setState({ error: null, busy: true, context: "photo" });
    try {
      const r = await api(`/v1/meters/${encodeURIComponent(meter)}/photos`, { method: "POST", body });
      setResult(r); setValue(r.value_m3 ?? "");
      setState({ error: null, busy: false, context: "photo" });
    } catch (err) { setState({ error: err, busy: false, context: "photo" }); }
  };
  const confirm = async (e) => {
    e.preventDefault();
    const same = result.value_m3 !== null && Number(value) === result.value_m3;
    try {
      const r = await api(`/v1/photos/${result.photo_id}/confirm`, { method: "POST", json: same ? {} : { value_m3: Number(value) } });
      setResult(r);
      setState({ error: null, busy: false, context: "confirm" });
    } catch (err) { setState({ error: err, busy: false, context: "confirm" }); }
  };
  const pct = (v) => `${(v * 100).toFixed(2)}%`;
  return html`<section class="card" id="photo-card"><h2>${t("photo.title")}</h2>
    <form onSubmit=${send} class="stack" id="photo-form">
      <label>${t("photo.meter")}<select id="photo-meter" value=${meter} onChange=${(e) => setMeter(e.target.value)}>
        ${meters.map((m) => html`<option value=${m}>${m}</option>`)}</select></label>
      <label>${t("photo.pick")}<input id="photo-file" type="file" accept="image/jpeg,image/png,image/webp" capture="environment" onChange=${pick} /></label>
      ${url && html`<p class="small muted">${t("photo.guide")}</p>
        <div class="photo-box" ref=${box}>
          <img src=${url} alt=${t("photo.title")} />
          <div class="frame" id="photo-frame" style=${`left:${pct(frame.x0)};top:${pct(frame.y0)};width:${pct(frame.x1 - frame.x0)};height:${pct(frame.y1 - frame.y0)}`}
            onPointerDown=${drag("move")} data-window=${[frame.x0, frame.y0, frame.x1, frame.y1].map((v) => v.toFixed(4)).join(",")}>
            <span class="handle" onPointerDown=${(e) => { e.stopPropagation(); drag("resize")(e); }}></span>
          </div>
        </div>`}
      <button type="submit" id="photo-send" class="primary" disabled=${!file || state.busy}>${t("photo.send")}</button>
    </form>
    ${result && html`<div id="photo-result" data-status=${result.status}>
      ${result.value_m3 !== null && html`<p>${t("photo.result", { value: f.num(result.value_m3, 0, 4) })}</p>`}
      ${result.decimals_dropped > 0 && html`<p class="small muted" id="photo-whole">${t("photo.whole")}</p>`}
      ${result.status === "needs_confirmation" && whyKey(whyOf(result)) && html`<p class="small" id="photo-why"
        data-reason=${whyOf(result)}>${t(whyKey(whyOf(result)))}</p>`}
      ${result.status === "stored" && html`<p class="ok">${t("photo.stored")}</p>`}
      ${result.status === "confirmed" && html`<p class="ok" id="photo-confirmed">${t("photo.confirmed")}</p>`}
      ${result.status === "needs_operator" && html`<p class="warn" id="photo-needs-operator">${t("photo.needsOperator")}</p>`}
      ${result.status === "needs_confirmation" && html`<form onSubmit=${confirm} class="stack" id="confirm-form">
        <p>${t("photo.confirmAsk")}</p>
        <label>${t("photo.correct")}<input id="confirm-value" inputmode="decimal" value=${value} onInput=${(e) => setValue(e.target.value)} /></label>
        <button type="submit" id="confirm">${t("photo.confirm")}</button>
      </form>`}
    </div>`}
    <${ErrorLine} t=${t} error=${state.error} context=${state.context} />
  </section>`;
}

// -- paying one or several accounts ------------------------------------------------------------------

function Pay({ t, f, go, selected }) {
  const cards = useApi("/v1/me/accounts");
  const [amounts, setAmounts] = useState({});
  const [order, setOrder] = useState(null);
  const [state, setState] = useState({ error: null, note: null });
  useEffect(() => {
    if (cards.data) {
      const pre = selected.length ? selected : cards.data.length === 1 ? [cards.data[0].id] : [];
      setAmounts(Object.fromEntries(pre.map((id) => [id, "100.00"])));
    }
  }, [cards.data]);
  if (!cards.data) return html`<${Back} t=${t} go=${go} /><${ErrorLine} t=${t} error=${cards.error} />`;
  const lines = Object.entries(amounts).filter(([, v]) => v && Number(v) > 0);
  const total = lines.reduce((s, [, v]) => s + Math.round(Number(v) * 100), 0) / 100;
  const create = async (e) => {
    e.preventDefault();
    if (!lines.length) { setState({ error: null, note: t("pay.nothing") }); return; }
    try {
      const o = await api("/v1/payments/orders", { method: "POST", json: { lines: lines.map(([id, amount]) => ({ account_id: Number(id), amount: String(amount) })) } });
      setOrder(o); setState({ error: null, note: null });
    } catch (err) { setState({ error: err, note: null }); }
  };
  const pay = async () => {
    try { setOrder(await api(`/v1/payments/orders/${order.order_id}/dev-pay`, { method: "POST" })); cards.reload(); }
    catch (err) { setState({ error: err, note: null }); }
  };
  return html`<${Back} t=${t} go=${go} />
    <section class="card" id="pay-card"><h1>${t("pay.title")}</h1>
    ${!order && html`<p class="muted">${t("pay.choose")}</p>
      <form onSubmit=${create} id="pay-form" class="stack">
        ${cards.data.map((c) => {
          const on = c.id in amounts;
          return html`<fieldset class="pay-line" data-account=${c.id}>
            <legend><label class="check"><input type="checkbox" checked=${on}
              onChange=${() => setAmounts((a) => { const b = { ...a }; on ? delete b[c.id] : (b[c.id] = "100.00"); return b; })} />
              ${c.name} <span class="muted small">${f.money(c.balance_yuan)}</span></label></legend>
            ${on && html`<div class="row wrap">${PRESETS.map((p) => html`<button type="button" class=${"chip" + (amounts[c.id] === p ? " on" : "")}
                onClick=${() => setAmounts({ ...amounts, [c.id]: p })}>${f.money(p)}</button>`)}
              <label class="grow">${t("pay.amount", { name: c.name })}<input class="pay-amount" inputmode="decimal" value=${amounts[c.id]}
                onInput=${(e) => setAmounts({ ...amounts, [c.id]: e.target.value })} /></label></div>`}
          </fieldset>`;
        })}
        <p class="big" id="pay-total" data-value=${total.toFixed(2)}>${t("pay.total", { amount: f.money(total) })}</p>
        <button type="submit" class="primary wide" id="pay-submit">${t("pay.submit", { amount: f.money(total) })}</button>
      </form>`}
    ${order && order.status === "pending" && html`<div class="sink" id="pay-sink">
      <h2>${t("pay.sink")}</h2><p class="muted small">${t("pay.sinkText")}</p>
      <p class="big">${f.money(order.total)}</p>
      <button class="primary wide" id="pay-confirm" onClick=${pay}>${t("pay.confirm")}</button></div>`}
    ${order && order.status === "paid" && html`<p class="ok" id="pay-done" role="status">${t("pay.done", { amount: f.money(order.total) })}</p>
      <button class="wide" onClick=${() => go({ name: "home" })}>${t("nav.accounts")}</button>`}
    ${state.note && html`<p class="warn" role="alert">${state.note}</p>`}
    <${ErrorLine} t=${t} error=${state.error} context="pay" />
    </section>`;
}

// -- binding an account ------------------------------------------------------------------------------

function Bind({ t, go }) {
  // Two steps, as the utility requires (docs/security.md): the account number opens a request; the SMS
  // code sent to the holder's phone on file and/or the last 4 characters of the holder's ID card finish it.
  const [form, setForm] = useState({ utility: "beijing", account_number: "", name: "", group: "", sms_code: "", id_last4: "" });
  const [request, setRequest] = useState(null);
  const [state, setState] = useState({ error: null, done: false, context: "bind" });
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const start = async (e) => {
    e.preventDefault();
    try {
      const r = await api("/v1/accounts/bindings", { method: "POST", json: { utility: form.utility, account_number: form.account_number } });
      setRequest(r);
      setState({ error: null, done: false, context: "bind" });
    } catch (err) { setState({ error: err, done: false, context: "bind" }); }
  };
  const verify = async (e) => {
    e.preventDefault();
    const json = { name: form.name, group: form.group.trim() || null };
    if (request.verify_fields.includes("sms_code")) json.sms_code = form.sms_code.trim();
    if (request.verify_fields.includes("id_last4")) json.id_last4 = form.id_last4.trim().toUpperCase();
    try {
      await api(`/v1/accounts/bindings/${encodeURIComponent(request.request_id)}/verify`, { method: "POST", json });
      setState({ error: null, done: true, context: "verify" });
    } catch (err) { setState({ error: err, done: false, context: "verify" }); }
  };
  const restart = () => { setRequest(null); setForm({ ...form, sms_code: "", id_last4: "" }); setState({ error: null, done: false, context: "bind" }); };
  const needs = (field) => request && request.verify_fields.includes(field);
  return html`<${Back} t=${t} go=${go} />
    <section class="card" id="bind-card"><h1>${t("bind.title")}</h1>
    ${!request && html`<form onSubmit=${start} class="stack" id="bind-form">
      <label>${t("bind.utility")}<select id="bind-utility" value=${form.utility} onChange=${set("utility")}>
        ${UTILITIES.map((u) => html`<option value=${u}>${t(`utility.${u}`)}</option>`)}</select></label>
      <label>${t("bind.number")}<input id="bind-number" inputmode="numeric" required value=${form.account_number} onInput=${set("account_number")} /></label>
      <button type="submit" class="primary" id="bind-submit">${t("bind.next")}</button>
    </form>`}
    ${request && !state.done && html`<form onSubmit=${verify} class="stack" id="verify-form" data-methods=${request.methods.join(",")}>
      ${needs("sms_code") && html`<p class="small muted">${t("bind.smsSent")}</p>
        <label>${t("bind.smsCode")}<input id="bind-sms-code" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required value=${form.sms_code} onInput=${set("sms_code")} /></label>`}
      ${needs("id_last4") && html`<label>${t("bind.idLast4")}<input id="bind-id-last4" maxlength="4" required value=${form.id_last4} onInput=${set("id_last4")} /></label>`}
      <label>${t("bind.name")}<input id="bind-name" maxlength="100" placeholder=${t("settings.namePlaceholder")} value=${form.name} onInput=${set("name")} /></label>
      <label>${t("bind.group")}<input id="bind-group" maxlength="100" value=${form.group} onInput=${set("group")} /></label>
      <div class="row"><button type="submit" class="primary" id="bind-verify">${t("bind.submit")}</button>
        <button type="button" id="bind-restart" onClick=${restart}>${t("bind.restart")}</button></div>
    </form>`}
    ${state.done && html`<p class="ok" role="status" id="bind-done">${t("bind.done")}</p>`}
    <${ErrorLine} t=${t} error=${state.error} context=${state.context} />
    </section>`;
}

// -- notifications -----------------------------------------------------------------------------------

function Notifications({ t, f, go }) {
  const list = useApi("/v1/notifications?limit=50");
  const readAll = async () => { await api("/v1/notifications/read", { method: "POST", json: {} }); list.reload(); };
  const text = (n) => {
    const p = n.params || {};
    const kind = t.has(`alerts.kind.${p.alert_kind}`) ? t(`alerts.kind.${p.alert_kind}`) : t("alerts.kind.other");
    if (n.kind === "payment_credited") return t("notif.payment_credited", { amount: f.money(p.amount_yuan), balance: f.money(p.balance_after_yuan) });
    return t(`notif.${n.kind}`, { kind, meter: p.meter_id || "" });
  };
  return html`<${Back} t=${t} go=${go} />
    <section class="card" id="notifications-card"><div class="row spread"><h1>${t("notif.title")}</h1>
      <button id="read-all" onClick=${readAll}>${t("notif.readAll")}</button></div>
    <${ErrorLine} t=${t} error=${list.error} />
    ${list.data && list.data.items.length === 0 && html`<p class="muted">${t("notif.empty")}</p>`}
    ${list.data && html`<ul class="notes">${list.data.items.map((n) => html`<li class=${n.read ? "read" : "unread"} data-kind=${n.kind}>
      <span>${text(n)}</span><span class="muted small">${f.dateTime(n.created_at, n.tz)}</span></li>`)}</ul>`}
    </section>`;
}

render(html`<${App} />`, document.getElementById("root"));
document.body.dataset.ready = "1";
