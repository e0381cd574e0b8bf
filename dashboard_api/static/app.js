// Water metering dashboard: plain JS, no build step, no CDN. Talks to the /v1 API with a bearer token.
"use strict";

const $ = (sel) => document.querySelector(sel);
const SVG_NS = "http://www.w3.org/2000/svg";
let token = sessionStorage.getItem("wm_token") || "";
let photoId = null;

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + token }, options.headers || {});
  const resp = await fetch(path, Object.assign({}, options, { headers }));
  const type = resp.headers.get("content-type") || "";
  const body = type.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) {
    const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : resp.statusText;
    throw new Error(resp.status + ": " + detail);
  }
  return body;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
}

function fillTable(sel, rows, columns) {
  const tbody = $(sel + " tbody");
  tbody.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    for (const c of columns) cell(tr, c(r));
    tbody.appendChild(tr);
  }
}

function fillSelect(sel, values) {
  const s = $(sel);
  s.replaceChildren(...values.map((v) => { const o = document.createElement("option"); o.textContent = v; return o; }));
}

function isoDate(d) { return d.toISOString().slice(0, 10); }

function usageParams() {
  return new URLSearchParams({
    start: $("#start").value + "T00:00:00", stop: $("#stop").value + "T00:00:00",
    every: $("#every").value, tz: $("#tz").value,
  });
}

// Bars of litres per interval; each bar carries its data so tests (and tooltips) can read it.
function drawChart(usage) {
  const svg = $("#chart");
  svg.replaceChildren();
  const W = 900, H = 260, left = 50, bottom = 30, top = 10;
  const n = usage.intervals.length;
  const maxL = Math.max(1e-9, ...usage.intervals.map((i) => i.used_l));
  const bw = (W - left - 10) / Math.max(n, 1);
  const axis = document.createElementNS(SVG_NS, "text");
  axis.setAttribute("x", 4); axis.setAttribute("y", top + 10);
  axis.textContent = maxL.toFixed(1) + " L";
  svg.appendChild(axis);
  usage.intervals.forEach((iv, k) => {
    const h = (iv.used_l / maxL) * (H - top - bottom);
    const r = document.createElementNS(SVG_NS, "rect");
    r.setAttribute("class", "bar");
    r.setAttribute("x", (left + k * bw).toFixed(2));
    r.setAttribute("y", (H - bottom - h).toFixed(2));
    r.setAttribute("width", Math.max(bw - 1, 0.5).toFixed(2));
    r.setAttribute("height", h.toFixed(2));
    r.dataset.start = iv.start;
    r.dataset.usedL = String(iv.used_l);
    const title = document.createElementNS(SVG_NS, "title");
    title.textContent = iv.start + ": " + iv.used_l + " L" + (iv.peak_flow_lpm != null ? ", peak " + iv.peak_flow_lpm + " L/min" : "");
    r.appendChild(title);
    svg.appendChild(r);
  });
  const first = document.createElementNS(SVG_NS, "text");
  first.setAttribute("x", left); first.setAttribute("y", H - 10);
  first.textContent = n ? usage.intervals[0].start.slice(0, 16) : "no data";
  svg.appendChild(first);
}

async function showUsage(ev) {
  if (ev) ev.preventDefault();
  $("#usage-error").textContent = "";
  const meter = $("#meter").value;
  if (!meter) return;
  const params = usageParams();
  try {
    const usage = await api("/v1/meters/" + encodeURIComponent(meter) + "/usage?" + params);
    drawChart(usage);
    $("#usage-summary").textContent = "Total " + usage.total_l + " L" +
      (usage.peak_flow_lpm != null ? " · peak flow " + usage.peak_flow_lpm + " L/min" : "") +
      (usage.night_min_l_per_h != null ? " · night minimum " + usage.night_min_l_per_h + " L/h" : "");
    $("#csv").href = "/v1/meters/" + encodeURIComponent(meter) + "/usage.csv?" + params;
  } catch (err) {
    $("#usage-error").textContent = err.message;
  }
}

// The CSV link needs the token too: fetch it and hand the browser a blob.
async function downloadCsv(ev) {
  ev.preventDefault();
  const text = await api($("#csv").getAttribute("href"));
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  a.download = "usage-" + $("#meter").value + ".csv";
  a.click();
}

async function loadResident(me) {
  $("#resident").hidden = false;
  fillTable("#accounts", me.accounts, [(a) => a.key, (a) => a.name, (a) => a.balance_yuan, (a) => a.meters.join(", ")]);
  const list = $("#my-alerts");
  list.replaceChildren(...me.alerts.map((a) => { const li = document.createElement("li"); li.textContent = a.title + " (" + a.kind + ")"; return li; }));
  if (!me.alerts.length) list.textContent = "No open alerts.";
  fillSelect("#meter", me.meters);
  fillSelect("#photo-meter", me.meters);
}

async function loadUtility() {
  $("#utility").hidden = false;
  const hours = Number($("#silent-hours").value) || 24;
  const [meters, silent, alerts, rejections] = await Promise.all([
    api("/v1/meters"), api("/v1/fleet/silent?hours=" + hours), api("/v1/fleet/alerts"), api("/v1/fleet/rejections?limit=50"),
  ]);
  const silentH = new Map(silent.map((s) => [s.meter_id, s.silent_h]));
  fillTable("#fleet", meters, [(m) => m.meter_id, (m) => m.last_reading_at, (m) => m.last_total_l,
    (m) => (silentH.has(m.meter_id) ? silentH.get(m.meter_id) + " h" : "")]);
  fillTable("#alerts", alerts, [(a) => a.opened_at, (a) => a.meter_id || "", (a) => a.kind, (a) => a.state, (a) => a.title]);
  fillTable("#rejections", rejections, [(r) => r.received_at, (r) => r.topic, (r) => r.reason, (r) => r.detail]);
  fillSelect("#meter", meters.map((m) => m.meter_id));
}

function showPhoto(result) {
  photoId = result.photo_id;
  $("#photo-result").hidden = false;
  $("#photo-reading").textContent = result.value_m3 == null ? "(none)" : String(result.value_m3);
  const words = { stored: "stored", confirmed: "confirmed and stored", needs_confirmation: "please confirm or correct" };
  $("#photo-status").textContent = words[result.status] || result.status;
  $("#confirm-value").value = result.value_m3 == null ? "" : result.value_m3;
  $("#confirm-form").hidden = result.status !== "needs_confirmation";
}

async function uploadPhoto(ev) {
  ev.preventDefault();
  $("#photo-error").textContent = "";
  const file = $("#photo-file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("photo", file);
  try {
    showPhoto(await api("/v1/meters/" + encodeURIComponent($("#photo-meter").value) + "/photos", { method: "POST", body: form }));
  } catch (err) {
    $("#photo-error").textContent = err.message;
  }
}

async function confirmPhoto(ev) {
  ev.preventDefault();
  $("#photo-error").textContent = "";
  const raw = $("#confirm-value").value;
  const body = raw === "" ? {} : { value_m3: Number(raw) };
  try {
    showPhoto(await api("/v1/photos/" + photoId + "/confirm", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    }));
  } catch (err) {
    $("#photo-error").textContent = err.message;
  }
}

async function start() {
  $("#login-error").textContent = "";
  let me;
  try {
    me = await api("/v1/me");
  } catch (err) {
    $("#login-error").textContent = err.message;
    return;
  }
  sessionStorage.setItem("wm_token", token);
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#logout").hidden = false;
  $("#who").textContent = me.role + ": " + me.subject;
  const today = new Date();
  $("#stop").value = isoDate(new Date(today.getTime() + 86400000));
  $("#start").value = isoDate(new Date(today.getTime() - 6 * 86400000));
  if (me.role === "resident") await loadResident(me); else await loadUtility();
  await showUsage();
  document.body.dataset.ready = "1";
}

$("#login-form").addEventListener("submit", (ev) => { ev.preventDefault(); token = $("#token").value.trim(); start(); });
$("#logout").addEventListener("click", () => { sessionStorage.removeItem("wm_token"); location.reload(); });
$("#usage-form").addEventListener("submit", showUsage);
$("#csv").addEventListener("click", downloadCsv);
$("#photo-form").addEventListener("submit", uploadPhoto);
$("#confirm-form").addEventListener("submit", confirmPhoto);
$("#silent-hours").addEventListener("change", loadUtility);
if (token) start();
