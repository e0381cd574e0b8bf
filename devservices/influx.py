"""influxd (Debian's InfluxDB 1.6) on a free port: authentication on, tsi1 index, limits sized for a fleet.

Closed by default (issue 17): `auth-enabled = true`; `start()` creates the admin user (InfluxDB 1.x lets
the first user be created without credentials, and nothing else) with a random password. `url` and
`store_url()` carry the admin's credentials; `add_user()` makes least-privilege users (the API and the
ingest need READ and WRITE on their database, Grafana READ).
"""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path
from urllib.parse import quote

import httpx

from devservices.ports import free_port, wait_listening
from devservices.process import ServiceProcess

CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{workdir}/meta"

[data]
  dir = "{workdir}/data"
  wal-dir = "{workdir}/wal"
  index-version = "tsi1"
  query-log-enabled = false
  # One series per meter in `reading` and one in `usage_1h`: the defaults (1M series, 100k values per
  # tag) refuse the 100,001st meter. Sized for a fleet (docs/schema.md), never unlimited: the limit is
  # the last guard against a runaway of series (the registry and the ingest's max_meters come first).
  max-series-per-database = {max_series}
  max-values-per-tag = {max_values}
  cache-max-memory-size = "2g"

[coordinator]
  query-timeout = "60s"

[http]
  bind-address = "127.0.0.1:{port}"
  auth-enabled = {auth}
  log-enabled = false
  max-body-size = 0

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false
"""


def influxd_binary() -> str:
    found = shutil.which("influxd")
    if not found:
        raise FileNotFoundError("influxd is not installed (apt-get install influxdb)")
    return found


ADMIN = "wm-admin"
MAX_METERS = 1_200_000  # the fleet this config is sized for


class Influx(ServiceProcess):
    name = "influxd"

    def __init__(
        self,
        workdir: Path | None = None,
        port: int | None = None,
        auth: bool = True,
        max_meters: int = MAX_METERS,
    ):
        super().__init__(workdir)
        self.port = port or free_port()
        self.rpc_port = free_port()
        self.auth = auth
        self.max_meters = max_meters
        self.admin_password = secrets.token_urlsafe(18) if auth else ""

    @property
    def config_path(self) -> Path:
        return self.workdir / "influxdb.conf"

    def command(self) -> list[str]:
        return [influxd_binary(), "-config", str(self.config_path)]

    def start(self) -> None:
        self.config_path.write_text(
            CONFIG.format(
                port=self.port,
                rpc_port=self.rpc_port,
                workdir=self.workdir,
                auth="true" if self.auth else "false",
                max_series=3 * self.max_meters,  # reading + usage_1h per meter, and room
                max_values=self.max_meters,
            )
        )
        self._launch()
        try:
            wait_listening(self.port, timeout_s=30)
        except TimeoutError as err:
            raise RuntimeError(f"influxd did not start:\n{self.log_tail()}") from err
        if self.auth and not self._admin_exists:
            self._query(
                f"CREATE USER \"{ADMIN}\" WITH PASSWORD '{self.admin_password}' WITH ALL PRIVILEGES", None
            )
            self._admin_exists = True

    _admin_exists = False

    def _query(self, q: str, auth: tuple[str, str] | None) -> None:
        deadline = time.monotonic() + 15
        while True:
            try:
                resp = httpx.post(
                    f"http://127.0.0.1:{self.port}/query", params={"q": q}, auth=auth, timeout=10
                )
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
                continue
            if resp.status_code == 200 and "error" not in resp.text:
                return
            raise RuntimeError(f"influxd refused {q.split(' WITH PASSWORD')[0]!r}: {resp.text[:200]}")

    def add_user(self, user: str, password: str, database: str, privilege: str = "ALL") -> None:
        """A non-admin user with READ, WRITE or ALL on one database (created if missing)."""
        admin = (ADMIN, self.admin_password)
        self._query(f'CREATE DATABASE "{database}"', admin)
        self._query(f"CREATE USER \"{user}\" WITH PASSWORD '{password}'", admin)
        self._query(f'GRANT {privilege} ON "{database}" TO "{user}"', admin)

    def _userinfo(self, user: str | None, password: str | None) -> str:
        if user is None and self.auth:
            user, password = ADMIN, self.admin_password
        return f"{quote(user, safe='')}:{quote(password or '', safe='')}@" if user else ""

    @property
    def url(self) -> str:
        """Base URL with the admin's credentials (tests and benchmarks write through it)."""
        return f"http://{self._userinfo(None, None)}127.0.0.1:{self.port}"

    def store_url(self, database: str = "water", user: str | None = None, password: str | None = None) -> str:
        """A readings store URL (influx://user:password@host:port/db); the admin's unless a user is given."""
        return f"influx://{self._userinfo(user, password)}127.0.0.1:{self.port}/{database}"
