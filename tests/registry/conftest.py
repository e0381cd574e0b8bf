"""The API environment of tests/dashboard_api (stores, accounts, an operator and two residents)."""

from tests.dashboard_api.conftest import make_env, sample, sample_store_file  # noqa: F401  (fixtures)
