// What both apps share: the UI kit (Preact + htm), strings per language, locale formatting in a given
// time zone, and API calls whose errors become sentences in the reader's language.
import { h, render } from "preact";
import { useEffect, useMemo, useRef, useState, useCallback } from "preact/hooks";
import htm from "htm";
import en from "../i18n/en.mjs";
import zh from "../i18n/zh.mjs";

export const html = htm.bind(h);
export { render, useEffect, useMemo, useRef, useState, useCallback };

const TABLES = { en, zh };
const LOCALES = { en: "en-GB", zh: "zh-CN" };

export function initialLang() {
  const saved = localStorage.getItem("wm_lang");
  if (saved in TABLES) return saved;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
}

// A translator for one language: t("key", {name: value}); a missing key shows the English text.
export function translator(lang) {
  const table = TABLES[lang] || en;
  const t = (key, params = {}) => {
    const text = table[key] ?? en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (_, k) => (params[k] ?? ""));
  };
  t.has = (key) => key in table;
  t.lang = lang;
  t.locale = LOCALES[lang] || "en-GB";
  return t;
}

// -- formatting (numbers, money, volumes, times in a given IANA zone) ------------------------------

export function fmt(t) {
  const loc = t.locale;
  const num = (v, digits = 0, max = digits) =>
    new Intl.NumberFormat(loc, { minimumFractionDigits: digits, maximumFractionDigits: max }).format(Number(v));
  const money = (v) =>
    v == null ? "–" : new Intl.NumberFormat(loc, { style: "currency", currency: "CNY", currencyDisplay: "narrowSymbol" }).format(Number(v));
  const litres = (v) => t("unit.l", { v: num(v, 0, 1) });
  const m3 = (litresValue, digits = 3) => t("unit.m3", { v: num(Number(litresValue) / 1000, digits) });
  const volume = (v) => (Math.abs(Number(v)) >= 1000 ? m3(v, 2) : litres(v));
  const date = (iso, tz) => (iso ? new Intl.DateTimeFormat(loc, { timeZone: tz, dateStyle: "medium" }).format(asDate(iso)) : "–");
  const dateTime = (iso, tz) =>
    iso ? new Intl.DateTimeFormat(loc, { timeZone: tz, dateStyle: "medium", timeStyle: "short" }).format(asDate(iso)) : "–";
  const month = (ym) => {
    const [y, m] = ym.split("-").map(Number);
    return new Intl.DateTimeFormat(loc, { timeZone: "UTC", year: "numeric", month: "long" }).format(new Date(Date.UTC(y, m - 1, 1)));
  };
  const day = (isoDate) => {
    const [y, m, d] = isoDate.split("-").map(Number);
    return new Intl.DateTimeFormat(loc, { timeZone: "UTC", dateStyle: "medium" }).format(new Date(Date.UTC(y, m - 1, d)));
  };
  return { num, money, litres, m3, volume, date, dateTime, month, day };
}

function asDate(v) {
  return v instanceof Date ? v : new Date(v);
}

// Wall-clock fields of an instant in a zone, as milliseconds of a UTC date with the same fields: charts
// with useUTC then draw the zone's local time whatever the browser's own zone is.
export function wallMs(iso, tz) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(asDate(iso));
  const f = Object.fromEntries(parts.map((p) => [p.type, p.value]));
  return Date.UTC(+f.year, +f.month - 1, +f.day, +f.hour, +f.minute, +f.second);
}

// -- the API -----------------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}`);
    this.status = status;
    this.detail = detail;
  }
}

export const session = {
  get token() { return sessionStorage.getItem("wm_token") || ""; },
  set token(v) { v ? sessionStorage.setItem("wm_token", v) : sessionStorage.removeItem("wm_token"); },
};

// fetch with the session's token; a network failure is an ApiError with status 0
async function send(path, method, headers, body) {
  try {
    return await fetch(path, { method, headers: { Authorization: "Bearer " + session.token, ...headers }, body });
  } catch (err) {
    throw new ApiError(0, String(err));
  }
}

export async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  let body = options.body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  const resp = await send(path, options.method || "GET", headers, body);
  const type = resp.headers.get("content-type") || "";
  const data = resp.status === 204 ? null : type.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) throw new ApiError(resp.status, detailText(data));
  return data;
}

// A binary resource behind the token (a meter photo) as an object URL for <img>; revoke it when done.
export async function apiObjectUrl(path) {
  const resp = await send(path, "GET", {}, undefined);
  if (!resp.ok) throw new ApiError(resp.status, "");
  return URL.createObjectURL(await resp.blob());
}

function detailText(data) {
  const d = data && data.detail !== undefined ? data.detail : data;
  if (Array.isArray(d)) return d.map((e) => [(e.loc || []).slice(1).join("."), e.msg].filter(Boolean).join(": ")).join("; ");
  return typeof d === "string" ? d : "";
}

// An error as a sentence in the reader's language: a message for the context if there is one.
export function human(t, err, context) {
  if (!(err instanceof ApiError)) return t("err.500");
  const params = { detail: err.detail || "" };
  if (context && t.has(`err.${context}.${err.status}`)) return t(`err.${context}.${err.status}`, params);
  if (t.has(`err.${err.status}`)) return t(`err.${err.status}`, params);
  return t(err.status >= 500 ? "err.500" : "err.400", params);
}

// A hook: load data from the API; `reload()` fetches again.
export function useApi(path, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    let alive = true;
    setState((s) => ({ ...s, loading: true }));
    api(path).then(
      (data) => alive && setState({ data, error: null, loading: false }),
      (error) => alive && setState({ data: null, error, loading: false }),
    );
    return () => { alive = false; };
  }, [path, tick, ...deps]);
  return { ...state, reload: () => setTick((n) => n + 1) };
}

// An error line (role=alert) or nothing.
export function ErrorLine({ t, error, context }) {
  return error ? html`<p class="error" role="alert">${human(t, error, context)}</p>` : null;
}

// Sign in with a token; calls onIn(me) once /v1/me accepts it.
export function SignIn({ t, onIn, title }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    session.token = token.trim();
    try {
      onIn(await api("/v1/me"));
    } catch (err) {
      session.token = "";
      setError(err);
    }
  };
  return html`<main class="signin">
    <h1>${title}</h1>
    <form onSubmit=${submit} id="signin-form">
      <label>${t("signin.token")}<input id="token" type="password" autocomplete="off" required
        value=${token} onInput=${(e) => setToken(e.target.value)} /></label>
      <button type="submit" class="primary">${t("signin.submit")}</button>
    </form>
    <${ErrorLine} t=${t} error=${error} />
  </main>`;
}
