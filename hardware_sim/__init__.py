"""Runs the firmware unmodified in MicroPython on simulated boards, households and faults."""
