"""Validation, estimation and editing (VEE) of meter readings: raw stays raw, a validated series is derived."""
