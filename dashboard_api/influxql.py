"""A small InfluxQL client for the queries the Store contract has no method for (flows, fleet)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import httpx
import orjson

from ingest.store.base import StoreError

_INFLUX_SCHEMES = {"influx": 1, "influx1": 1, "influxdb": 1, "influx2": 2, "influx3": 3}


def regex_any(values: list[str]) -> str:
    """An InfluxQL regex literal matching exactly one of `values`."""
    return "/^(" + "|".join(re.escape(v).replace("/", r"\/") for v in values) + ")$/"


class InfluxQL:
    """GET /query against one database; errors become StoreError like the store's own."""

    def __init__(
        self,
        base_url: str,
        database: str,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 30.0,
    ):
        headers = {"Authorization": f"Token {token}"} if token else {}
        auth = httpx.BasicAuth(username, password or "") if username else None
        self.database = database
        self._http = httpx.Client(base_url=base_url, headers=headers, auth=auth, timeout=timeout_s)

    @classmethod
    def from_store_url(cls, url: str) -> InfluxQL | None:
        """The client for an influx*:// store URL (same form as ingest's); None for other stores."""
        p = urlparse(url)
        if p.scheme not in _INFLUX_SCHEMES:
            return None
        params = {k: v[-1] for k, v in parse_qs(p.query).items()}
        scheme = "https" if params.get("tls") in ("1", "true") else "http"
        return cls(
            f"{scheme}://{p.hostname}:{p.port or 8086}",
            p.path.lstrip("/") or "water",
            token=params.get("token"),
            username=p.username,
            password=p.password,
        )

    def raw(self, q: str) -> httpx.Response:
        """The HTTP answer as InfluxDB gave it (benchmarks time this as the baseline)."""
        return self._http.get("/query", params={"db": self.database, "q": q, "epoch": "s"})

    def series(self, q: str) -> list[tuple[dict, list[list]]]:
        """(tags, rows) of each series the first statement returned."""
        results = self.statements([q])
        return results[0] if results else []

    def statements(self, qs: list[str]) -> list[list[tuple[dict, list[list]]]]:
        """(tags, rows) per series of each statement, all sent in ONE request (`;`-separated).

        InfluxDB 1.x runs the statements in order and answers them together, which saves a
        round trip and an HTTP request per statement.
        """
        try:
            resp = self.raw(";".join(qs))
        except httpx.HTTPError as err:
            raise StoreError(f"InfluxDB query failed: {err}") from err
        if resp.status_code != 200:
            raise StoreError(f"InfluxDB query answered {resp.status_code}: {resp.text[:300]}")
        results = orjson.loads(resp.content).get("results", [])
        out: list[list[tuple[dict, list[list]]]] = [[] for _ in qs]
        for res in results:
            if "error" in res:
                raise StoreError(f"InfluxDB query error: {res['error']}")
            i = res.get("statement_id", 0)
            if 0 <= i < len(qs):
                out[i] = [(s.get("tags", {}), s["values"]) for s in res.get("series", [])]
        return out

    def close(self) -> None:
        self._http.close()
