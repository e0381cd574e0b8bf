// The utility console: the fleet (search, filters, paging) and each meter's detail, the alert
// workflow, silent meters, top consumers, rejected readings, the VEE review queue, meter photos waiting
// for an operator, and reconciliation.
import {
  ErrorLine, SignIn, api, apiObjectUrl, fmt, html, initialLang, render, session, translator, useApi, useEffect, useState,
} from "../shared/core.mjs";
import { LineChart, UsageChart } from "../shared/chart.mjs";

const TZ = "Asia/Shanghai";  // the console shows times in the utility's zone
const TABS = ["fleet", "alerts", "silent", "top", "rejections", "vee", "photos", "recon"];
const TAB_KEYS = { fleet: "console.fleet", alerts: "console.alerts", silent: "console.silent", top: "console.top",
  rejections: "console.rejections", vee: "console.vee", photos: "console.photos", recon: "console.recon" };

function App() {
  const [lang, setLang] = useState(initialLang());
  const [me, setMe] = useState(null);
  const [checked, setChecked] = useState(false);
  const [tab, setTab] = useState("fleet");
  const [meter, setMeter] = useState(null);
  const t = translator(lang);
  const f = fmt(t);
  useEffect(() => { document.documentElement.lang = t.locale; document.title = t("app.console"); }, [lang]);
  useEffect(() => {
    if (!session.token) { setChecked(true); return; }
    api("/v1/me").then(setMe, () => { session.token = ""; }).finally(() => setChecked(true));
  }, []);
  const switchLang = () => { const next = lang === "zh" ? "en" : "zh"; localStorage.setItem("wm_lang", next); setLang(next); };
  const bar = html`<header class="bar"><span class="brand">${t("app.console")}</span><nav>
    <button id="lang" class="link" onClick=${switchLang}>${t("lang.switch")}</button>
    ${me && html`<button id="signout" class="link" onClick=${() => { session.token = ""; setMe(null); }}>${t("signin.out")}</button>`}
  </nav></header>`;
  if (!checked) return html`<p>${t("common.loading")}</p>`;
  if (!me) return html`${bar}<${SignIn} t=${t} title=${t("app.console")} onIn=${(m) => (m.role === "utility" ? setMe(m) : location.assign("../resident/"))} />`;
  const ctx = { t, f, openMeter: (id) => { setMeter(id); setTab("fleet"); } };
  return html`${bar}<main id="main" data-tab=${tab}>
    <nav class="console-tabs" role="tablist">${TABS.map((k) => html`<button role="tab" id=${"tab-" + k} aria-selected=${k === tab}
      class=${k === tab ? "on chip" : "chip"} onClick=${() => { setTab(k); setMeter(null); }}>${t(TAB_KEYS[k])}</button>`)}</nav>
    ${tab === "fleet" && !meter && html`<${Fleet} ...${ctx} />`}
    ${tab === "fleet" && meter && html`<${MeterDetail} ...${ctx} id=${meter} back=${() => setMeter(null)} />`}
    ${tab === "alerts" && html`<${AlertsTab} ...${ctx} />`}
    ${tab === "silent" && html`<${Silent} ...${ctx} />`}
    ${tab === "top" && html`<${Top} ...${ctx} />`}
    ${tab === "rejections" && html`<${Rejections} ...${ctx} />`}
    ${tab === "vee" && html`<${Vee} ...${ctx} />`}
    ${tab === "photos" && html`<${PhotoReviews} ...${ctx} />`}
    ${tab === "recon" && html`<${Recon} ...${ctx} />`}
  </main>`;
}

// -- fleet -------------------------------------------------------------------------------------------

const PAGE = 25;

function Fleet({ t, f, openMeter }) {
  const [q, setQ] = useState({ q: "", state: "any", firmware: "", rssi_below: "", battery_below: "", with_alerts: false, sort: "meter", offset: 0 });
  const params = new URLSearchParams({ limit: PAGE, offset: q.offset, sort: q.sort, state: q.state });
  if (q.q.trim()) params.set("q", q.q.trim());
  if (q.firmware) params.set("firmware", q.firmware);
  if (q.rssi_below !== "") params.set("rssi_below", q.rssi_below);
  if (q.battery_below !== "") params.set("battery_below", q.battery_below);
  if (q.with_alerts) params.set("with_alerts", "true");
  const page = useApi(`/v1/fleet/meters?${params}`);
  const set = (k) => (e) => setQ({ ...q, [k]: e.target.type === "checkbox" ? e.target.checked : e.target.value, offset: 0 });
  const d = page.data;
  return html`<section class="card" id="fleet">
    <h1>${t("console.fleet")}</h1>
    <div class="filters">
      <label>${t("fleet.search")}<input id="fleet-q" type="search" value=${q.q} onInput=${set("q")} /></label>
      <label>${t("fleet.state")}<select id="fleet-state" value=${q.state} onChange=${set("state")}>
        ${["any", "online", "offline", "silent", "never"].map((s) => html`<option value=${s}>${t(`fleet.state.${s}`)}</option>`)}</select></label>
      <label>${t("fleet.firmware")}<select id="fleet-fw" value=${q.firmware} onChange=${set("firmware")}>
        <option value="">${t("fleet.state.any")}</option>${(d ? d.firmware : []).map((v) => html`<option value=${v}>${v}</option>`)}</select></label>
      <label>${t("fleet.sort")}<select id="fleet-sort" value=${q.sort} onChange=${set("sort")}>
        ${["meter", "last_seen", "silent", "rssi", "battery", "alerts"].map((s) => html`<option value=${s}>${t(`fleet.sort.${s}`)}</option>`)}</select></label>
      <label>${t("fleet.rssiBelow")}<input id="fleet-rssi" type="number" min="-200" max="0" value=${q.rssi_below} onInput=${set("rssi_below")} /></label>
      <label>${t("fleet.batteryBelow")}<input id="fleet-battery" type="number" min="0" max="100" value=${q.battery_below} onInput=${set("battery_below")} /></label>
      <label class="check"><input id="fleet-alerts" type="checkbox" checked=${q.with_alerts} onChange=${set("with_alerts")} /> ${t("fleet.withAlerts")}</label>
    </div>
    <${ErrorLine} t=${t} error=${page.error} />
    ${d && html`<div class="table-wrap" tabindex="0"><table id="fleet-table">
      <thead><tr><th>${t("col.meter")}</th><th>${t("col.account")}</th><th>${t("col.place")}</th><th>${t("col.lastSeen")}</th>
        <th>${t("col.state")}</th><th>${t("col.fw")}</th><th>${t("col.rssi")}</th><th>${t("col.battery")}</th><th>${t("col.alerts")}</th></tr></thead>
      <tbody>${d.items.map((m) => html`<tr class="clickable" data-meter=${m.meter_id} onClick=${() => openMeter(m.meter_id)}>
        <td><button class="link" onClick=${(e) => { e.stopPropagation(); openMeter(m.meter_id); }}>${m.meter_id}</button></td>
        <td>${m.account || "–"}</td><td>${[m.district, m.building].filter(Boolean).join(" / ") || "–"}</td>
        <td>${f.dateTime(m.last_reading_at, TZ)}</td>
        <td>${m.state ? t(`fleet.state.${m.state}`) : "–"}${m.silent_h !== null && m.silent_h > 24 ? html` <span class="warn small">${t("unit.h", { v: f.num(m.silent_h, 0) })}</span>` : ""}</td>
        <td>${m.fw || "–"}</td><td>${m.rssi_dbm !== null ? t("unit.dbm", { v: f.num(m.rssi_dbm) }) : "–"}</td>
        <td>${m.battery_pct !== null ? t("unit.pct", { v: f.num(m.battery_pct) }) : "–"}</td>
        <td class=${m.open_alerts ? "warn" : ""}>${m.open_alerts}</td></tr>`)}</tbody></table></div>
      <div class="pager"><span id="fleet-page" data-total=${d.total}>${t("fleet.page", { from: d.total ? d.offset + 1 : 0, to: d.offset + d.items.length, total: d.total })}</span>
        <button id="fleet-prev" disabled=${d.offset === 0} onClick=${() => setQ({ ...q, offset: Math.max(0, q.offset - PAGE) })}>${t("fleet.prev")}</button>
        <button id="fleet-next" disabled=${d.offset + d.items.length >= d.total} onClick=${() => setQ({ ...q, offset: q.offset + PAGE })}>${t("fleet.next")}</button></div>`}
  </section>`;
}

function MeterDetail({ t, f, id, back }) {
  const det = useApi(`/v1/fleet/meters/${encodeURIComponent(id)}`);
  const [now] = useState(() => new Date());  // fixed when the page opens: the paths stay the same
  const range = { start: new Date(now - 48 * 3600e3).toISOString(), stop: now.toISOString() };
  const usage = useApi(`/v1/meters/${encodeURIComponent(id)}/usage?${new URLSearchParams({ ...range, every: "1h", tz: TZ })}`);
  const day = { start: new Date(now - 24 * 3600e3).toISOString(), stop: now.toISOString() };
  const series = useApi(`/v1/vee/meters/${encodeURIComponent(id)}/series?${new URLSearchParams({ ...day, tz: TZ })}`);
  const life = useApi(`/v1/vee/meters/${encodeURIComponent(id)}/lifecycle`);
  const m = det.data && det.data.meter;
  return html`<button class="link back" id="meter-back" onClick=${back}>← ${t("meter.back")}</button>
    <h1 id="meter-title">${t("meter.title", { meter: id })}</h1>
    <${ErrorLine} t=${t} error=${det.error} />
    ${det.data && html`<div class="grid">
      <section class="card" id="meter-registry"><h2>${t("meter.registry")}</h2><div class="kv">
        <span>${t("col.account")}</span><span>${m.account || "–"}</span>
        <span>${t("col.place")}</span><span>${[m.district, m.building].filter(Boolean).join(" / ") || "–"}</span>
        <span>${t("col.lastSeen")}</span><span>${f.dateTime(m.last_reading_at, TZ)}</span>
        <span>${t("col.register")}</span><span data-value=${m.last_total_l ?? ""}>${m.last_total_l !== null ? f.m3(m.last_total_l, 3) : "–"}</span>
        <span>${t("col.state")}</span><span>${m.state ? t(`fleet.state.${m.state}`) : "–"}</span>
        <span>${t("col.fw")}</span><span>${m.fw || "–"}</span>
        <span>${t("col.rssi")}</span><span>${m.rssi_dbm !== null ? t("unit.dbm", { v: f.num(m.rssi_dbm) }) : "–"}</span>
        <span>${t("col.battery")}</span><span>${m.battery_pct !== null ? t("unit.pct", { v: f.num(m.battery_pct) }) : "–"}</span>
      </div>${det.data.installed_at && html`<p class="muted small">${t("meter.installed", { when: f.date(det.data.installed_at, TZ) })}</p>`}</section>
      <section class="card" id="meter-status"><h2>${t("meter.status")}</h2>
        ${det.data.status.length === 0 ? html`<p class="muted">${t("common.none")}</p>` : html`<div class="table-wrap" tabindex="0"><table><thead><tr>
          <th>${t("col.when")}</th><th>${t("col.state")}</th><th>${t("col.fw")}</th><th>${t("col.rssi")}</th><th>${t("col.battery")}</th></tr></thead>
          <tbody>${det.data.status.map((s) => html`<tr><td>${f.dateTime(s.ts, TZ)}</td><td>${t.has(`fleet.state.${s.state}`) ? t(`fleet.state.${s.state}`) : s.state}</td>
            <td>${s.fw || "–"}</td><td>${s.rssi_dbm ?? "–"}</td><td>${s.battery_pct ?? "–"}</td></tr>`)}</tbody></table></div>`}</section>
      <section class="card wide-card" id="meter-usage"><h2>${t("usage.title")}</h2>
        <${ErrorLine} t=${t} error=${usage.error} />
        ${usage.data && html`<p id="meter-usage-total" data-value=${usage.data.total_l}>${t("usage.total", { volume: f.volume(usage.data.total_l) })}</p>
          <${UsageChart} t=${t} f=${f} usage=${usage.data} tz=${TZ} id="meter-usage-chart" label=${t("usage.title")} />`}</section>
      <section class="card wide-card" id="meter-series"><h2>${t("meter.rawValidated")}</h2>
        <${ErrorLine} t=${t} error=${series.error} />
        ${series.data && html`<${LineChart} t=${t} f=${f} tz=${TZ} id="meter-series-chart" unit="L" label=${t("meter.rawValidated")} lines=${[
          { name: t("meter.raw"), colour: "#9e9e9e", points: series.data.raw.map((r) => [r.ts, r.total_l]) },
          { name: t("meter.validated"), colour: "#1565c0", points: series.data.validated.map((p) => [p.ts, p.total_l]) },
        ]} />`}</section>
      <section class="card" id="meter-alerts"><h2>${t("console.alerts")}</h2>
        ${det.data.alerts.length === 0 ? html`<p class="muted">${t("alerts.none")}</p>`
          : html`<ul class="alerts">${det.data.alerts.map((a) => html`<li>${kindText(t, a.kind)} · ${t(`alerts.state.${a.state}`)}
            <span class="muted small">${f.dateTime(a.opened_at, TZ)}</span></li>`)}</ul>`}</section>
      <section class="card" id="meter-lifecycle"><h2>${t("meter.lifecycle")}</h2>
        ${life.data && life.data.length === 0 && html`<p class="muted">${t("common.none")}</p>`}
        ${life.data && html`<ul class="alerts">${life.data.map((e) => html`<li>${e.kind} · ${f.dateTime(e.ts, TZ)} ${e.note}</li>`)}</ul>`}
      </section>
    </div>`}`;
}

function kindText(t, kind) {
  return t.has(`alerts.kind.${kind}`) ? t(`alerts.kind.${kind}`) : kind;
}

// -- alerts: acknowledge, assign, note, resolve; what the resident sees --------------------------------

function AlertsTab({ t, f, openMeter }) {
  const list = useApi("/v1/alerts?state=live&limit=200");
  const [open, setOpen] = useState(null);
  return html`<section class="card" id="alerts"><h1>${t("console.alerts")}</h1>
    <${ErrorLine} t=${t} error=${list.error} />
    ${list.data && list.data.length === 0 && html`<p class="muted">${t("alerts.none")}</p>`}
    ${list.data && html`<div class="table-wrap" tabindex="0"><table id="alerts-table"><thead><tr><th>${t("col.when")}</th><th>${t("col.meter")}</th>
      <th>${t("col.kind")}</th><th>${t("col.state")}</th><th>${t("col.detail")}</th></tr></thead>
      <tbody>${list.data.map((a) => html`<tr class="clickable" data-alert=${a.id} onClick=${() => setOpen(a.id === open ? null : a.id)}>
        <td>${f.dateTime(a.opened_at, TZ)}</td>
        <td>${a.meter_id ? html`<button class="link" onClick=${(e) => { e.stopPropagation(); openMeter(a.meter_id); }}>${a.meter_id}</button>` : "–"}</td>
        <td>${kindText(t, a.kind)}</td><td>${t(`alerts.state.${a.state}`)}</td><td>${a.title}</td></tr>`)}</tbody></table></div>`}
    ${open && list.data && html`<${Workflow} t=${t} f=${f} alert=${list.data.find((a) => a.id === open)} onChange=${list.reload} />`}
  </section>`;
}

function Workflow({ t, f, alert, onChange }) {
  const steps = useApi(`/v1/alerts/${alert.id}/actions`);
  const seen = useApi(`/v1/accounts/${alert.account_id}/alert-progress`);
  const [assignee, setAssignee] = useState("");
  const [note, setNote] = useState("");
  const [pub, setPub] = useState(false);
  const [error, setError] = useState(null);
  if (!alert) return null;
  const act = (path, json) => async (e) => {
    e && e.preventDefault();
    try { await api(`/v1/alerts/${alert.id}/${path}`, { method: "POST", json }); setError(null); steps.reload(); seen.reload(); onChange(); }
    catch (err) { setError(err); }
  };
  const mine = (seen.data || []).find((p) => p.alert_id === alert.id);
  const assigned = (steps.data || []).filter((s) => s.action === "assign").pop();
  return html`<div class="grid" id="workflow" data-alert=${alert.id}>
    <section class="card"><h2>${kindText(t, alert.kind)} · ${alert.meter_id || ""}</h2>
      <p>${alert.title}</p>
      ${assigned && html`<p class="ok" id="assigned-to">${t("wf.assignedTo", { who: assigned.assignee })}</p>`}
      <div class="row wrap">
        <button id="wf-ack" onClick=${act("acknowledge")} disabled=${alert.state !== "open"}>${t("wf.ack")}</button>
      </div>
      <form class="inline" onSubmit=${act("assign", { assignee })}><label>${t("wf.assignee")}<input id="wf-assignee" value=${assignee} onInput=${(e) => setAssignee(e.target.value)} /></label>
        <button id="wf-assign" type="submit">${t("wf.assign")}</button></form>
      <form class="stack" onSubmit=${act("notes", { text: note, public: pub })}>
        <label>${t("wf.note")}<input id="wf-note" value=${note} onInput=${(e) => setNote(e.target.value)} /></label>
        <label class="check"><input id="wf-public" type="checkbox" checked=${pub} onChange=${(e) => setPub(e.target.checked)} /> ${t("wf.public")}</label>
        <button id="wf-add-note" type="submit">${t("wf.note")}</button></form>
      <form class="inline" onSubmit=${act("resolve", { note })}><button id="wf-resolve" type="submit" class="primary">${t("wf.resolve")}</button></form>
      <${ErrorLine} t=${t} error=${error} />
    </section>
    <section class="card"><h2>${t("wf.history")}</h2>
      <ul class="alerts" id="wf-history">${(steps.data || []).map((s) => html`<li data-action=${s.action}>${f.dateTime(s.at, TZ)} · ${s.by}: ${s.action}
        ${s.assignee ? ` → ${s.assignee}` : ""} ${s.text}${s.public ? html` <span class="state small">${t("wf.public")}</span>` : ""}</li>`)}</ul></section>
    <section class="card" id="resident-view"><h2>${t("wf.residentSees")}</h2>
      <p><strong>${kindText(t, alert.kind)}</strong> · ${t(`alerts.state.${alert.state}`)}</p>
      ${mine && mine.assigned && html`<p class="ok">${t("alerts.assigned")}</p>`}
      ${mine && mine.notes.map(([, text]) => html`<p class="note">${t("alerts.note", { text })}</p>`)}
    </section>
  </div>`;
}

// -- silent meters, top consumers, rejections ----------------------------------------------------------

function Silent({ t, f, openMeter }) {
  const [hours, setHours] = useState("24");
  const list = useApi(`/v1/fleet/silent?hours=${encodeURIComponent(hours || "24")}`);
  return html`<section class="card" id="silent"><h1>${t("console.silent")}</h1>
    <label>${t("silent.hours")}<input id="silent-hours" type="number" min="1" value=${hours} onInput=${(e) => setHours(e.target.value)} /></label>
    <${ErrorLine} t=${t} error=${list.error} />
    ${list.data && html`<div class="table-wrap" tabindex="0"><table id="silent-table"><thead><tr><th>${t("col.meter")}</th><th>${t("col.lastSeen")}</th><th>${t("col.silentFor")}</th></tr></thead>
      <tbody>${list.data.map((m) => html`<tr data-meter=${m.meter_id}><td><button class="link" onClick=${() => openMeter(m.meter_id)}>${m.meter_id}</button></td>
        <td>${f.dateTime(m.last_reading_at, TZ)}</td><td data-value=${m.silent_h}>${t("unit.h", { v: f.num(m.silent_h, 0, 1) })}</td></tr>`)}</tbody></table></div>`}
  </section>`;
}

function Top({ t, f, openMeter }) {
  const today = new Date().toISOString().slice(0, 10);
  const monthAgo = new Date(Date.now() - 30 * 86400e3).toISOString().slice(0, 10);
  const [range, setRange] = useState({ start: monthAgo, stop: today });
  const list = useApi(`/v1/fleet/top-consumers?${new URLSearchParams({ start: range.start + "T00:00:00", stop: range.stop + "T00:00:00", tz: TZ, limit: 20 })}`);
  return html`<section class="card" id="top"><h1>${t("console.top")}</h1>
    <div class="row wrap"><label>${t("top.range")}<input id="top-start" type="date" value=${range.start} onChange=${(e) => setRange({ ...range, start: e.target.value })} /></label>
      <label>–<input id="top-stop" type="date" value=${range.stop} onChange=${(e) => setRange({ ...range, stop: e.target.value })} /></label></div>
    <${ErrorLine} t=${t} error=${list.error} />
    ${list.data && html`<div class="table-wrap" tabindex="0"><table id="top-table"><thead><tr><th>${t("col.meter")}</th><th>${t("col.used")}</th></tr></thead>
      <tbody>${list.data.map((m) => html`<tr data-meter=${m.meter_id}><td><button class="link" onClick=${() => openMeter(m.meter_id)}>${m.meter_id}</button></td>
        <td data-value=${m.used_l}>${f.volume(m.used_l)}</td></tr>`)}</tbody></table></div>`}
  </section>`;
}

function Rejections({ t, f }) {
  const list = useApi("/v1/fleet/rejections?limit=500");
  const [reason, setReason] = useState("");
  const [meter, setMeter] = useState("");
  const rows = (list.data || []).filter((r) => (!reason || r.reason === reason) && (!meter || r.topic.includes(meter)));
  const reasons = [...new Set((list.data || []).map((r) => r.reason))].sort();
  return html`<section class="card" id="rejections"><h1>${t("console.rejections")}</h1>
    <div class="row wrap"><label>${t("rej.reason")}<select id="rej-reason" value=${reason} onChange=${(e) => setReason(e.target.value)}>
      <option value="">${t("rej.any")}</option>${reasons.map((r) => html`<option value=${r}>${r}</option>`)}</select></label>
      <label>${t("rej.meter")}<input id="rej-meter" value=${meter} onInput=${(e) => setMeter(e.target.value)} /></label></div>
    <${ErrorLine} t=${t} error=${list.error} />
    <div class="table-wrap" tabindex="0"><table id="rej-table"><thead><tr><th>${t("col.when")}</th><th>${t("col.topic")}</th><th>${t("col.reason")}</th><th>${t("col.detail")}</th></tr></thead>
      <tbody>${rows.map((r) => html`<tr data-reason=${r.reason}><td>${f.dateTime(r.received_at, TZ)}</td><td>${r.topic}</td><td>${r.reason}</td><td>${r.detail}</td></tr>`)}</tbody></table></div>
  </section>`;
}

// -- VEE review queue with edit and audit --------------------------------------------------------------

function Vee({ t, f }) {
  const queue = useApi("/v1/vee/review-items?status=open");
  const [open, setOpen] = useState(null);
  return html`<section class="card" id="vee"><h1>${t("console.vee")}</h1>
    <${ErrorLine} t=${t} error=${queue.error} />
    ${queue.data && queue.data.length === 0 && html`<p class="muted">${t("vee.empty")}</p>`}
    ${queue.data && queue.data.length > 0 && html`<div class="table-wrap" tabindex="0"><table id="vee-table"><thead><tr><th>${t("col.meter")}</th><th>${t("col.when")}</th>
      <th>${t("col.rule")}</th><th>${t("col.detail")}</th></tr></thead>
      <tbody>${queue.data.map((i) => html`<tr class="clickable" data-item=${i.id} onClick=${() => setOpen(i)}><td>${i.meter}</td>
        <td>${f.dateTime(i.ts, TZ)}</td><td>${i.rule}</td><td>${i.detail}</td></tr>`)}</tbody></table></div>`}
    ${open && html`<${VeeEdit} t=${t} f=${f} item=${open} onDone=${() => { setOpen(null); queue.reload(); }} />`}
  </section>`;
}

function VeeEdit({ t, f, item, onDone }) {
  const audit = useApi(`/v1/vee/meters/${encodeURIComponent(item.meter)}/audit`);
  const [value, setValue] = useState("");
  const [error, setError] = useState(null);
  const edit = (action) => async (e) => {
    e.preventDefault();
    const json = { ts: item.ts, action, reason_code: action === "replace" ? "misread" : "confirmed_correct", note: "console" };
    if (action === "replace") json.total_l = Number(value);
    try { await api(`/v1/vee/meters/${encodeURIComponent(item.meter)}/edits`, { method: "POST", json }); onDone(); }
    catch (err) { setError(err); }
  };
  return html`<div class="card" id="vee-edit"><h2>${item.meter} · ${f.dateTime(item.ts, TZ)}</h2>
    <form class="inline" onSubmit=${edit("replace")}><label>${t("vee.edit")}<input id="vee-value" inputmode="decimal" value=${value} onInput=${(e) => setValue(e.target.value)} /></label>
      <button type="submit" id="vee-replace">${t("vee.replace")}</button></form>
    <form class="inline" onSubmit=${edit("confirm")}><button type="submit" id="vee-confirm">${t("vee.confirm")}</button></form>
    <${ErrorLine} t=${t} error=${error} />
    <h2>${t("vee.audit")}</h2>
    <ul class="alerts">${(audit.data || []).map((e) => html`<li>${f.dateTime(e.at, TZ)} · ${e.operator}: ${e.action} (${e.reason_code})
      ${e.total_before_l !== null ? ` ${f.num(e.total_before_l, 0, 3)} →` : ""} ${e.total_l !== null ? f.num(e.total_l, 0, 3) : ""}</li>`)}</ul>
  </div>`;
}

// -- meter photos waiting for an operator: the photo, the reader's and the resident's values -------------

function PhotoReviews({ t, f }) {
  const queue = useApi("/v1/photo-reviews");
  const [open, setOpen] = useState(null);
  return html`<section class="card" id="photo-reviews"><h1>${t("console.photos")}</h1>
    <${ErrorLine} t=${t} error=${queue.error} />
    ${queue.data && queue.data.length === 0 && html`<p class="muted" id="photo-reviews-empty">${t("vee.empty")}</p>`}
    ${queue.data && queue.data.length > 0 && html`<div class="table-wrap" tabindex="0"><table id="photo-table"><thead><tr>
      <th>${t("col.meter")}</th><th>${t("pr.read")}</th><th>${t("pr.resident")}</th><th>${t("col.reason")}</th></tr></thead>
      <tbody>${queue.data.map((p) => html`<tr class="clickable" data-photo=${p.photo_id} onClick=${() => setOpen(p)}><td>${p.meter_id}</td>
        <td>${p.value_m3 === null ? "–" : f.num(p.value_m3, 0, 4)}</td><td>${p.correction_m3 === null ? "–" : f.num(p.correction_m3, 0, 4)}</td>
        <td>${[...new Set([p.review_reason, p.correction_check].filter(Boolean))].join(" · ")}</td></tr>`)}</tbody></table></div>`}
    ${open && html`<${PhotoReview} t=${t} f=${f} item=${open} onDone=${() => { setOpen(null); queue.reload(); }} />`}
  </section>`;
}

function PhotoReview({ t, f, item, onDone }) {
  const [url, setUrl] = useState(null);
  const [value, setValue] = useState(item.correction_m3 ?? item.value_m3 ?? "");
  const [error, setError] = useState(null);
  useEffect(() => {
    let made = null;
    apiObjectUrl(`/v1/photos/${item.photo_id}/image`).then((u) => { made = u; setUrl(u); }, setError);
    return () => made && URL.revokeObjectURL(made);
  }, [item.photo_id]);
  const act = (path, json) => async (e) => {
    e.preventDefault();
    try { await api(`/v1/photos/${item.photo_id}/${path}`, { method: "POST", json }); onDone(); } catch (err) { setError(err); }
  };
  const candidates = [...new Set([item.correction_m3, ...(item.candidates_m3 || [])].filter((v) => v !== null && v !== undefined))];
  return html`<div class="card" id="photo-review"><h2>${item.meter_id}</h2>
    ${url && html`<div class="review-photo-wrap"><img id="photo-review-img" class="review-photo" src=${url} alt=${t("console.photos")} />
      ${item.window && html`<svg id="photo-review-window" class="review-window" viewBox="0 0 1 1" preserveAspectRatio="none" aria-hidden="true">
        <polygon points=${item.window.map(([x, y]) => `${x},${y}`).join(" ")} /></svg>`}</div>
      ${item.window && html`<p class="small muted">${t("pr.window")}</p>`}`}
    <p class="small">${t("pr.previous")}: ${item.previous_m3 === null ? "–" : f.num(item.previous_m3, 0, 4)}</p>
    <div class="row wrap">${candidates.map((v) => html`<button class="chip" data-value=${v} onClick=${() => setValue(v)}>${f.num(v, 0, 4)}</button>`)}</div>
    <form class="inline" onSubmit=${act("confirm", { value_m3: Number(value) })}><label>${t("photo.correct")}<input id="photo-review-value"
      inputmode="decimal" value=${value} onInput=${(e) => setValue(e.target.value)} /></label>
      <button type="submit" id="photo-review-store" class="primary">${t("pr.store")}</button></form>
    <form class="inline" onSubmit=${act("reject", undefined)}><button type="submit" id="photo-review-reject">${t("pr.reject")}</button></form>
    <${ErrorLine} t=${t} error=${error} />
  </div>`;
}

// -- reconciliation --------------------------------------------------------------------------------------

function Recon({ t, f }) {
  const rep = useApi("/v1/reconciliation");
  const d = rep.data;
  const table = (id, rows) => html`<div class="table-wrap" tabindex="0"><table id=${id}><thead><tr><th>${t("col.txn")}</th><th>${t("col.amount")}</th><th>${t("col.detail")}</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr><td>${r.transaction_id || r.key || ""}</td><td>${f.money(r.amount ?? r.paid)}</td>
      <td>${r.provider || ""} ${r.reason || r.source || ""} ${r.credited ? `→ ${f.money(r.credited)}` : ""}</td></tr>`)}</tbody></table></div>`;
  return html`<section class="card" id="recon"><h1>${t("console.recon")}</h1>
    <${ErrorLine} t=${t} error=${rep.error} />
    ${d && html`<p id="recon-summary" data-clean=${d.clean}>${d.clean ? t("recon.clean") : ""} ${t("recon.matched", { n: d.matched })}</p>
      <h2>${t("recon.paidNotCredited")}</h2>${table("recon-unpaid", d.paid_not_credited)}
      <h2>${t("recon.creditsWithout")}</h2>${table("recon-credits", d.credits_without_payment)}
      <h2>${t("recon.mismatch")}</h2>${table("recon-mismatch", d.amount_mismatches)}`}
  </section>`;
}

render(html`<${App} />`, document.getElementById("root"));
document.body.dataset.ready = "1";
