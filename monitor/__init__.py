"""Runs the alert side of the pipeline: leak detection on stored minute data, balance checks, delivery."""
