"""Validation, estimation and editing (VEE) of meter readings: raw stays raw, validated is derived."""
