"""influxd (Debian's InfluxDB 1.6) on a free port, tsi1 index, limits raised for large fleets."""

from __future__ import annotations

import shutil
from pathlib import Path

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
  # One series per meter: the defaults (1M series, 100k values per tag) refuse the
  # 100,001st meter. 0 = unlimited.
  max-series-per-database = 0
  max-values-per-tag = 0
  cache-max-memory-size = "2g"

[coordinator]
  query-timeout = "60s"

[http]
  bind-address = "127.0.0.1:{port}"
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


class Influx(ServiceProcess):
    name = "influxd"

    def __init__(self, workdir: Path | None = None, port: int | None = None):
        super().__init__(workdir)
        self.port = port or free_port()
        self.rpc_port = free_port()

    @property
    def config_path(self) -> Path:
        return self.workdir / "influxdb.conf"

    def command(self) -> list[str]:
        return [influxd_binary(), "-config", str(self.config_path)]

    def start(self) -> None:
        self.config_path.write_text(
            CONFIG.format(port=self.port, rpc_port=self.rpc_port, workdir=self.workdir)
        )
        self._launch()
        try:
            wait_listening(self.port, timeout_s=30)
        except TimeoutError as err:
            raise RuntimeError(f"influxd did not start:\n{self.log_tail()}") from err

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def store_url(self, database: str = "water") -> str:
        return f"influx://127.0.0.1:{self.port}/{database}"
