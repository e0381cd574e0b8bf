"""Prometheus self-metrics of the ingest (names follow Prometheus conventions)."""

from prometheus_client import Counter, Gauge, Histogram

RECEIVED = Counter("wm_ingest_messages_received", "MQTT messages received")
WRITTEN = Counter("wm_ingest_readings_written", "Readings confirmed written by the store")
ACKED = Counter("wm_ingest_messages_acked", "Messages acknowledged to the broker after the store confirmed")
REJECTED = Counter("wm_ingest_messages_rejected", "Messages rejected into the dead-letter store", ["reason"])
DUPLICATES = Counter("wm_ingest_readings_duplicate", "Readings already stored (redeliveries, replays)")
EVENTS = Counter(
    "wm_ingest_reading_events",
    "What readings meant against the meter's state "
    "(new, duplicate, conflict, late, gap, new_boot, reset, seq_restart, total_decrease, impossible_flow)",
    ["kind"],
)
MISSING = Counter("wm_ingest_readings_missing", "Sequence numbers skipped by meters (gaps opened)")
FILLED = Counter("wm_ingest_readings_filled", "Late readings that filled a known gap")
METERS = Gauge(
    "wm_ingest_meters", "Meters whose state this worker holds (the series-limit guard counts these)"
)
SKIPPED = Counter("wm_ingest_messages_other_shard", "Messages acknowledged unread: another shard's meter")
STORE_ERRORS = Counter("wm_ingest_store_errors", "Store writes that failed and will be retried")
BATCH_SECONDS = Histogram("wm_ingest_batch_write_seconds", "Time to write one batch to the store")
BATCH_READINGS = Histogram(
    "wm_ingest_batch_readings",
    "Readings per store write",
    buckets=(1, 10, 100, 500, 1000, 2000, 5000, 10000, 50000),
)
LAG_SECONDS = Histogram(
    "wm_ingest_reading_lag_seconds",
    "Device timestamp to stored, per batch (newest reading); "
    "for the minute reading this is publish-to-stored",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400),
)
RECEIVE_TO_STORED = Histogram(
    "wm_ingest_receive_to_stored_seconds",
    "Message received to stored and acked",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
INFLIGHT = Gauge("wm_ingest_inflight_messages", "Messages received and not yet acknowledged")
CONNECTED = Gauge("wm_ingest_broker_connected", "1 while connected and subscribed to the broker")
