"""The layers and the single owners issue 13 asked for, checked so that a regression fails a test.

(`make lint` runs the same import contracts, ruff and mypy; these also run under plain pytest.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PRODUCT = ("core", "storage", "ingest", "billing", "leaks", "vee", "ocr_reader", "dashboard_api", "monitor")


def product_sources() -> dict[str, str]:
    return {str(p.relative_to(REPO)): p.read_text() for pkg in PRODUCT for p in (REPO / pkg).rglob("*.py")}


def test_import_contracts_hold():
    """Layers (tools → interfaces → domain → storage → core), independent domains, no cycles: the package
    graph of f5208de was one cycle of 9 of its 11 packages."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is a test dependency"
    done = subprocess.run([exe, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "BROKEN" not in done.stdout and done.stdout.count("KEPT") >= 4


def test_the_meter_id_rule_is_written_once():
    """f5208de had the pattern in 10 places; now core/ids.py owns it."""
    found = [f for f, text in product_sources().items() if "A-Za-z0-9_-]{1,32}" in text]
    assert found == []  # core/ids.py builds it from METER_ID_CHARS and METER_ID_MAX_LEN
    owners = [f for f, text in product_sources().items() if "METER_ID_CHARS =" in text]
    assert owners == ["core/ids.py"]


def test_one_influxdb_client():
    """f5208de had two (ingest/store/influx.py, dashboard_api/influxql.py), each with its URL parser."""
    talking = [f for f, text in product_sources().items() if re.search(r"""["']/(query|write)["']""", text)]
    assert talking == ["storage/readings/conn.py"]


def test_one_sqlalchemy_engine_factory():
    """f5208de had two (billing/db.py, vee/db.py) with different SQLite guarantees."""
    makers = [f for f, text in product_sources().items() if "create_engine(" in text]
    assert makers == ["storage/sql.py"]


def test_no_hand_written_http_errors_for_backend_outages():
    """f5208de converted StoreError to 503 by hand 9 times and VeeDbError 4 times."""
    src = product_sources()
    assert not [f for f, text in src.items() if "HTTPException(503" in text]
    assert not [
        f for f, text in src.items() if re.search(r"except \(?StoreError", text) and "dashboard_api" in f
    ]
    # domain errors carry no HTTP codes
    assert not [
        f for f, text in src.items() if f.startswith(("billing/", "vee/", "core/")) and "status = 4" in text
    ]


def test_one_default_for_each_database():
    """f5208de: billing's DB defaulted to billing.db in BillingSettings and wm_billing.db in ApiSettings,
    VEE's to vee.db and wm_vee.db: `python -m monitor` and the API opened different databases."""
    from billing.config import BillingSettings
    from dashboard_api.config import ApiSettings
    from ingest.config import IngestSettings
    from monitor.config import MonitorSettings
    from storage.config import StorageSettings

    api = ApiSettings(tokens="a-sixteen-char-token")
    urls = {(s.storage.sql_url, s.storage.readings_url) for s in (api, IngestSettings(), MonitorSettings())}
    assert urls == {(StorageSettings().sql_url, StorageSettings().readings_url)}
    assert not {"db_url", "timezone"} & set(BillingSettings.model_fields)
    assert not {"billing_db_url", "vee_db_url", "store_url"} & set(ApiSettings.model_fields)


def test_old_environment_names_still_reach_the_one_owner(monkeypatch):
    from storage.config import StorageSettings

    monkeypatch.setenv("WM_API_STORE_URL", "sqlite:///old.db")
    monkeypatch.setenv("WM_BILLING_DB_URL", "sqlite:///old-billing.db")
    s = StorageSettings()
    assert (s.readings_url, s.sql_url) == ("sqlite:///old.db", "sqlite:///old-billing.db")
    monkeypatch.setenv("WM_STORAGE_SQL_URL", "sqlite:///new.db")
    assert StorageSettings().sql_url == "sqlite:///new.db"


def test_vee_tables_get_sqlites_guarantees(tmp_path):
    """VEE's engine had no foreign keys, no WAL and deferred locks; it now shares storage.sql's."""
    from sqlalchemy import text

    from storage.sql import Database
    from vee.db import VeeDb

    db = Database(f"sqlite:///{tmp_path / 'wm.db'}")
    vee = VeeDb(db)
    with vee.db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    db.dispose()


@pytest.mark.parametrize(
    "module",
    [
        "ingest",
        "dashboard_api",
        "monitor",
        "ingest.wmbus_bridge",
        "ingest.rollup",
        "devservices.demo",
        "hardware_sim",
    ],
)
def test_python_dash_m_still_starts(module):
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage" in done.stdout.lower()
