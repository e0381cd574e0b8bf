"""Every I/O adapter, one of each: the readings store (InfluxDB, SQLite) and the SQL database.

Depends only on core; the domain services (ingest, billing, leaks, vee) and interfaces use it.
"""
