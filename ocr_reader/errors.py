"""The one error the OCR library raises for input that is not a usable meter photo."""

from __future__ import annotations

# Codes a caller can rely on (the upload API maps every one of them to a 4xx answer).
REASONS = (
    "not_an_image",
    "unsupported_format",
    "truncated",
    "too_large",
    "decompression_bomb",
    "no_meter",
    "multiple_meters",
)


class BadImage(ValueError):
    """Input that is not a usable meter photo; `reason` is one of REASONS."""

    def __init__(self, reason: str, message: str | None = None):
        if reason not in REASONS:
            raise ValueError(f"unknown BadImage reason {reason!r}")
        self.reason = reason
        super().__init__(message or reason)
