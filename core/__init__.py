"""The domain core: pure Python (stdlib only, no I/O) — ids, units, money, time zones, readings,
the consumption rule and tariffs. Every other package imports these; none is written twice.

Layers (docs/architecture.md): core ← storage ← domain services ← interfaces ← tools.
"""
