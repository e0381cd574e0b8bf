"""The one InfluxDB HTTP client: URL parsing, /write, /query (several statements per request), and
error mapping to StoreError. The store (writes, contract reads) and the read side (flows, fleet) share it.

Only /write (line protocol) and /query (InfluxQL) are used: every major version serves them (1.x;
2.x's v1 compatibility API, database = bucket; 3.x). influxdb-client's WriteApi posts to
/api/v2/write, which 1.x lacks, and drops batches after retries.
"""

from __future__ import annotations

import base64
import http.client
import re
import ssl
import threading
import time
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlparse

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
        if auth is not None:
            basic = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            headers = {"Authorization": f"Basic {basic}"}
        self._writer = _Writer(base_url, headers, timeout_s)

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
            status, text = self._writer.post(f"/write?{urlencode(params)}", body)
        except (OSError, http.client.HTTPException) as err:
            raise StoreError(f"InfluxDB write failed: {err!r}") from err
        if status != 204:
            raise StoreError(f"InfluxDB write answered {status}: {text[:300].decode(errors='replace')}")

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
        self._writer.close()


def records(rows: Rows) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """Each value row as a dict by column name, with its series' tags."""
    return [(tags, dict(zip(cols, vals, strict=True))) for tags, cols, values in rows for vals in values]


class _Writer:
    """POST /write over one kept-alive `http.client` connection (one request at a time).

    Not httpx: each httpx request makes a reference cycle (request, stream, pool request) that holds the
    request's body until the cyclic garbage collector runs — 1 MB per 10,000-line write — and the ingest
    worker does not let the collector walk its heap between batches (ingest/collector.py). This path
    makes no cycles. A kept-alive connection the server closed while idle is opened again and the write
    sent once more (a /write of the same points is idempotent).
    """

    def __init__(self, base_url: str, headers: dict[str, str], timeout_s: float):
        u = urlparse(base_url)
        self._https = u.scheme == "https"
        self._host = u.hostname or "localhost"
        self._port = u.port or (443 if self._https else 80)
        self._timeout_s = timeout_s
        self._headers = {**headers, "Content-Type": "text/plain; charset=utf-8"}
        if u.username and "Authorization" not in headers:  # http://user:password@host (as httpx reads it)
            basic = base64.b64encode(f"{unquote(u.username)}:{unquote(u.password or '')}".encode()).decode()
            self._headers["Authorization"] = f"Basic {basic}"
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout_s, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout_s)

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """(status, response body); OSError or http.client.HTTPException when it could not be sent."""
        with self._lock:
            reused = self._conn is not None
            while True:
                conn = self._conn or self._connect()
                self._conn = None
                try:
                    conn.request("POST", path, body=body, headers=self._headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    if reused:  # the server may have closed the idle connection: once more, on a new one
                        reused = False
                        continue
                    raise
                if not resp.will_close:
                    self._conn = conn
                else:
                    conn.close()
                return resp.status, data

    def close(self) -> None:
        """Close the kept-alive connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
