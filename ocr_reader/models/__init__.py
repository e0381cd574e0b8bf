"""Shipped recogniser weights (built by `python -m ocr_reader.train`)."""
