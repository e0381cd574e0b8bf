// Time-series charts with ECharts (vendored): a real time axis drawn in the account's zone, bars of
// litres per interval, and where given the billing period's running total against the tier bands.
import { html, useEffect, useRef, wallMs } from "./core.mjs";

const BAND_COLOURS = ["rgba(46,125,50,0.10)", "rgba(245,124,0,0.12)", "rgba(198,40,40,0.12)"];

function useEChart(option, deps, t) {
  const ref = useRef(null);
  useEffect(() => {
    const el = ref.current;
    const chart = window.echarts.init(el, null, { renderer: "svg", locale: t.lang === "zh" ? "ZH" : "EN" });
    chart.setOption(option);
    const ro = new ResizeObserver(() => chart.resize());
    ro.observe(el);
    return () => { ro.disconnect(); chart.dispose(); };
  }, deps);
  return ref;
}

// usage: the API's usage body; tz: the zone to draw in; tiers: [{from_l, to_l, yuan_per_m3}] and
// cumulative: [[ms, m3 used in period]] (both optional).
export function UsageChart({ t, f, usage, tz, tiers, cumulative, label, id }) {
  const bars = usage.intervals.map((i) => {
    const a = wallMs(i.start, tz), b = wallMs(i.end, tz);
    return [(a + b) / 2, i.used_l];
  });
  const series = [{
    name: t("usage.used"), type: "bar", data: bars, barMaxWidth: 24, itemStyle: { color: "#1565c0" },
    large: bars.length > 600,
  }];
  const yAxis = [{ type: "value", name: "L", axisLabel: { formatter: (v) => f.num(v, 0, 2) } }];
  if (cumulative && tiers) {
    const top = Math.max(...cumulative.map((c) => c[1] ?? 0), 0);
    const areas = tiers
      .map((b, k) => {
        const from = Number(b.from_l) / 1000;
        const to = b.to_l == null ? Math.max(top * 1.15, from * 1.15) : Number(b.to_l) / 1000;
        return [{ yAxis: from, name: `${k + 1}: ${f.money(b.yuan_per_m3)}/m³`, itemStyle: { color: BAND_COLOURS[k % 3] } }, { yAxis: to }];
      })
      .filter(([a]) => a.yAxis <= top * 1.15 || a.yAxis === 0);
    series.push({
      name: t("usage.cumulative"), type: "line", yAxisIndex: 1, data: cumulative, showSymbol: false, step: "end",
      lineStyle: { color: "#6a1b9a", width: 2 }, itemStyle: { color: "#6a1b9a" },
      markArea: { silent: true, label: { position: "insideTopLeft", color: "#333", fontSize: 10 }, data: areas },
    });
    yAxis.push({ type: "value", name: "m³", position: "right", splitLine: { show: false } });
  }
  const option = {
    useUTC: true,
    animation: false,
    aria: { enabled: true },
    grid: { left: 48, right: cumulative ? 48 : 16, top: 32, bottom: 56, containLabel: false },
    tooltip: { trigger: "axis", valueFormatter: (v) => (v == null ? "–" : f.num(v, 0, 3)) },
    legend: { top: 0, type: "scroll" },
    xAxis: { type: "time", axisLabel: { hideOverlap: true } },
    yAxis,
    dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
    series,
  };
  const ref = useEChart(option, [usage, tz, t.lang, tiers, cumulative], t);
  return html`<div class="chart" id=${id} ref=${ref} role="img" aria-label=${label}></div>`;
}

// Lines over time: [{name, points: [[iso, value]], colour}] drawn in `tz`.
export function LineChart({ t, f, lines, tz, label, id, unit }) {
  const option = {
    useUTC: true,
    animation: false,
    grid: { left: 64, right: 16, top: 32, bottom: 40 },
    tooltip: { trigger: "axis", valueFormatter: (v) => (v == null ? "–" : f.num(v, 0, 3)) },
    legend: { top: 0 },
    xAxis: { type: "time", axisLabel: { hideOverlap: true } },
    yAxis: { type: "value", name: unit, scale: true, axisLabel: { formatter: (v) => f.num(v) } },
    series: lines.map((l) => ({
      name: l.name, type: "line", showSymbol: l.points.length < 80, step: "end",
      data: l.points.map(([iso, v]) => [wallMs(iso, tz), v]), lineStyle: { color: l.colour }, itemStyle: { color: l.colour },
    })),
  };
  const ref = useEChart(option, [lines, tz, t.lang], t);
  return html`<div class="chart" id=${id} ref=${ref} role="img" aria-label=${label}></div>`;
}
