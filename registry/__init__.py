"""The meter registry: the single source of which meters exist and where each is in its life."""

from registry.lifecycle import MeterRecord, Registry, RegistryEventOut, State

__all__ = ["MeterRecord", "Registry", "RegistryEventOut", "State"]
