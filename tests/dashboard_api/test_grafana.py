"""Grafana folder: valid JSON/YAML, known datasources, InfluxQL that InfluxDB runs, metrics that exist."""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

import httpx
import yaml
from prometheus_client import REGISTRY

import ingest.metrics  # noqa: F401  (registers the wm_ingest_* metrics)
from core.readings import Reading, Rejection
from storage.readings.influx import InfluxStore

ROOT = Path(__file__).resolve().parents[2] / "grafana"
DASHBOARD = ROOT / "dashboards" / "water-metering.json"


def _targets(dash: dict):
    for panel in dash["panels"]:
        for t in panel["targets"]:
            yield panel, t


def test_provisioning_files_parse_and_reference_each_other():
    sources = yaml.safe_load((ROOT / "provisioning/datasources/water.yml").read_text())
    providers = yaml.safe_load((ROOT / "provisioning/dashboards/water.yml").read_text())
    assert providers["providers"][0]["type"] == "file"
    by_uid = {d["uid"]: d for d in sources["datasources"]}
    assert by_uid["wm-influx"]["type"] == "influxdb"
    assert by_uid["wm-prometheus"]["type"] == "prometheus"
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and dash["panels"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel, target in _targets(dash):
        assert target["datasource"]["uid"] in by_uid, panel["title"]
        assert target["datasource"]["type"] == by_uid[target["datasource"]["uid"]]["type"]
    titles = " ".join(p["title"] for p in dash["panels"]).lower()
    for topic in ("fleet flow", "usage of $meter", "rejected", "store health"):
        assert topic in titles


def test_prometheus_queries_name_metrics_the_ingest_exports():
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    exported = {m.name + sfx for m in REGISTRY.collect() for sfx in suffixes.get(m.type, ("",))}
    dash = json.loads(DASHBOARD.read_text())
    names = {n for _p, t in _targets(dash) if "expr" in t for n in re.findall(r"wm_ingest_\w+", t["expr"])}
    assert names, "the dashboard shows ingest health"
    assert names <= exported, names - exported


def test_influxql_panels_run_on_influxdb(influx):
    db = f"graf_{secrets.token_hex(3)}"
    store = InfluxStore.at(influx.url, db)
    now = int(time.time()) // 60 * 60
    store.write_readings(
        [
            Reading(m, now - 3600 + 60 * k, 1000 * k * (i + 1), k, 1)
            for i, m in enumerate(("m-1", "m-2"))
            for k in range(61)
        ]
    )
    store.write_rejections([Rejection("wm/v1/x/readings", "bad_json", "not JSON", b"{", time.time())])
    dash = json.loads(DASHBOARD.read_text())
    meter_q = next(v for v in dash["templating"]["list"] if v["name"] == "meter")["query"]
    subst = {"$timeFilter": "time > now() - 2h", "$__interval": "5m", "$every": "15m", "$meter": "(m-1|m-2)"}
    queries = [meter_q] + [t["query"] for _p, t in _targets(dash) if "query" in t]
    assert len(queries) >= 5
    for q in queries:
        for k, v in subst.items():
            q = q.replace(k, v)
        resp = httpx.get(f"{influx.url}/query", params={"db": db, "q": q})
        result = resp.json()["results"][0]
        assert resp.status_code == 200 and "error" not in result, (q, result)
        assert result.get("series"), f"no data for {q}"
    store.close()
