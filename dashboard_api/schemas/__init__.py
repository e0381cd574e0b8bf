"""Request and response models (they make the OpenAPI document); one module per group of routes."""

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
