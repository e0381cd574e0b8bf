"""Request and response models (they make the OpenAPI document); one module per group of routes."""

from dashboard_api.schemas.alerts import AlertFull, FeedbackIn, FeedbackOut, LeakFigures
from dashboard_api.schemas.usage import (
    AccountSummaryOut,
    AccountUsageOut,
    AlertOut,
    ConfirmIn,
    ConsumerOut,
    GroupUsageOut,
    IntervalOut,
    MeOut,
    MeterOut,
    PhotoResultOut,
    RejectionOut,
    SilentMeterOut,
    UsageBase,
    UsageOut,
)

__all__ = [
    "AccountSummaryOut",
    "AlertFull",
    "FeedbackIn",
    "FeedbackOut",
    "LeakFigures",
    "AccountUsageOut",
    "AlertOut",
    "ConfirmIn",
    "ConsumerOut",
    "GroupUsageOut",
    "IntervalOut",
    "MeOut",
    "MeterOut",
    "PhotoResultOut",
    "RejectionOut",
    "SilentMeterOut",
    "UsageBase",
    "UsageOut",
]
