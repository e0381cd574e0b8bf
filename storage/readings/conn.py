"""The one InfluxDB HTTP client: URL parsing, /write, /query (several statements per request), and
error mapping to StoreError. The store (writes, contract reads) and the read side (flows, fleet) share it.

Only /write (line protocol) and /query (InfluxQL) are used: every major version serves them (1.x;
2.x's v1 compatibility API, database = bucket; 3.x). influxdb-client's WriteApi posts to
/api/v2/write, which 1.x lacks, and drops batches after retries.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import orjson

from storage.readings.base import INFLUX_SCHEMES, StoreError

Rows = list[tuple[dict[str, str], list[str], list[list[Any]]]]  # (tags, columns, values) per series


def quote(value: str) -> str:
    """An InfluxQL string literal's inside."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def regex_any(values: list[str]) -> str:
    """An InfluxQL regex literal matching exactly one of `values`."""
    return "/^(" + "|".join(re.escape(v).replace("/", r"\/") for v in values) + ")$/"


class InfluxConnection:
    """One database (1.x), bucket (2.x) or database (3.x) over HTTP."""

    def __init__(
        self,
        base_url: str,
        database: str,
        version: int = 1,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 30.0,
    ):
        if version not in (1, 2, 3):
            raise ValueError("InfluxDB version must be 1, 2 or 3")
        self.database = database
        self.version = version
        headers = {"Authorization": f"Token {token}"} if token else {}
        auth = httpx.BasicAuth(username, password or "") if username and not token else None
        self._http = httpx.Client(base_url=base_url, headers=headers, auth=auth, timeout=timeout_s)

    @classmethod
    def from_url(cls, url: str) -> InfluxConnection:
        """influx://[user:pass@]host:port/db · influx2://host:port/bucket?token=T · influx3://…?token=T."""
        p = urlparse(url)
        if p.scheme not in INFLUX_SCHEMES:
            raise ValueError(f"not an InfluxDB URL: scheme {p.scheme!r}")
        params = {k: v[-1] for k, v in parse_qs(p.query).items()}
        scheme = "https" if params.get("tls") in ("1", "true") else "http"
        return cls(
            f"{scheme}://{p.hostname}:{p.port or 8086}",
            p.path.lstrip("/") or "water",
            version=INFLUX_SCHEMES[p.scheme],
            token=params.get("token"),
            username=p.username,
            password=p.password,
        )

    def write(self, lines: list[str], precision: str = "s", rp: str | None = None) -> None:
        """Line protocol (into retention policy `rp`, else the default one), confirmed (204) or StoreError."""
        if not lines:
            return
        body = "\n".join(lines).encode()
        params = {"db": self.database, "precision": precision, **({"rp": rp} if rp else {})}
        try:
            resp = self._http.post("/write", params=params, content=body)
        except httpx.HTTPError as err:
            raise StoreError(f"InfluxDB write failed: {err}") from err
        if resp.status_code != 204:
            raise StoreError(f"InfluxDB write answered {resp.status_code}: {resp.text[:300]}")

    def raw(self, q: str, method: str = "GET", epoch: str = "s") -> httpx.Response:
        """The HTTP answer as InfluxDB gave it (benchmarks time this as the baseline)."""
        params = {"db": self.database, "q": q, "epoch": epoch}
        if method == "POST":
            return self._http.post("/query", params=params)
        return self._http.get("/query", params=params)

    def statements(self, qs: list[str], method: str = "GET", epoch: str = "s") -> list[Rows]:
        """(tags, columns, values) per series of each statement, all sent in ONE request (`;`-separated)."""
        if not qs:
            return []
        try:
            resp = self.raw(";".join(qs), method, epoch)
        except httpx.HTTPError as err:
            raise StoreError(f"InfluxDB query failed: {err}") from err
        if resp.status_code != 200:
            raise StoreError(f"InfluxDB query answered {resp.status_code}: {resp.text[:300]}")
        results = orjson.loads(resp.content).get("results", [])
        out: list[Rows] = [[] for _ in qs]
        answered = 0
        for res in results:
            if "error" in res:
                raise StoreError(f"InfluxDB query error: {res['error']}")
            i = res.get("statement_id", 0)
            if 0 <= i < len(qs):
                answered += 1
                out[i] = [
                    (s.get("tags", {}), s.get("columns", []), s["values"]) for s in res.get("series", [])
                ]
        if answered != len(qs):
            raise StoreError(f"InfluxDB answered {answered} of {len(qs)} statements")
        return out

    def series(self, q: str, method: str = "GET", epoch: str = "s") -> Rows:
        """(tags, columns, values) of each series of one statement."""
        return self.statements([q], method, epoch)[0]

    def ping(self, timeout_s: float = 5.0) -> bool:
        """Wait until /ping answers 204 (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if self._http.get("/ping").status_code == 204:
                    return True
            except httpx.HTTPError:
                pass  # not up yet
            time.sleep(0.1)
        return False

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()


def records(rows: Rows) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """Each value row as a dict by column name, with its series' tags."""
    return [(tags, dict(zip(cols, vals, strict=True))) for tags, cols, values in rows for vals in values]
