"""MQTT → store ingest: validate meter readings and write each exactly once."""
