"""Prometheus self-metrics of the ingest (names follow Prometheus conventions)."""

from prometheus_client import Counter, Gauge, Histogram

RECEIVED = Counter("wm_ingest_messages_received", "MQTT messages received")
WRITTEN = Counter("wm_ingest_readings_written", "Readings confirmed written by the store")
REJECTED = Counter("wm_ingest_messages_rejected", "Messages rejected into the dead-letter store", ["reason"])
STORE_ERRORS = Counter("wm_ingest_store_errors", "Store writes that failed and will be retried")
BATCH_SECONDS = Histogram("wm_ingest_batch_write_seconds", "Time to write one batch to the store")
LAG_SECONDS = Histogram("wm_ingest_reading_lag_seconds", "Device timestamp to stored, per batch (newest reading)",
                        buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400))
INFLIGHT = Gauge("wm_ingest_inflight_messages", "Messages received and not yet acknowledged")
