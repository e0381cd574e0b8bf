"""The apps' API on real stores: the dashboard API fixtures plus the development payment sink."""

from __future__ import annotations

import pytest

from tests.dashboard_api.conftest import make_env, sample, sample_store_file  # noqa: F401  (fixtures)


@pytest.fixture
def env(make_env, monkeypatch):  # noqa: F811
    monkeypatch.setenv("WM_BILLING_PAYMENT_PROVIDER", "dev")
    from billing.config import get_billing_settings

    get_billing_settings.cache_clear()
    yield make_env()
    get_billing_settings.cache_clear()
