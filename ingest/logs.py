"""Structured logs: one JSON object per line, extra fields passed as `extra={"fields": {...}}`."""

from __future__ import annotations

import json
import logging
import time


class JsonFormatter(logging.Formatter):
    """{"t": ISO time, "level", "logger", "msg", ...fields} per record."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "t": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def setup(level: int = logging.INFO) -> None:
    """Send every log record to stderr as JSON."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # One line per HTTP request to InfluxDB is noise at thousands of writes a minute (and CPU).
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))
