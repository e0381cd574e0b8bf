"""Billing settings (env prefix WM_BILLING_), validated once."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class BillingSettings(BaseSettings):
    """Warning thresholds and alert delivery targets.

    The database is the utility's SQL database (storage.config.StorageSettings.sql_url); local days
    are in each account's utility zone (core.tariffs), so neither is a billing setting.
    """

    model_config = SettingsConfigDict(env_prefix="WM_BILLING_")

    low_balance_yuan: Decimal = Field(Decimal("20"), ge=0)
    days_left_warning: int = Field(7, ge=1, le=365)
    evaluate_every_s: int = Field(6 * 3600, ge=60, le=6 * 3600)  # the payment apps check every 6 h
    recent_days: int = Field(7, ge=1, le=60)  # consumption rate = mean of this many charged days
    # Comma-separated webhook URLs that receive every alert event.
    webhooks: str = ""
    mqtt_alerts: bool = True
    mqtt_topic_prefix: str = "wm/v1/alerts"
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    # Payments from the apps: "dev" is the development sink (it pays when asked: demo and tests only);
    # "none" refuses payment orders until a real provider is configured.
    payment_provider: Literal["none", "dev"] = "none"
    # The utility's push gateway: every new resident notification is POSTed here (via the outbox).
    notify_webhook: str = ""

    @field_validator("webhooks")
    @classmethod
    def _urls(cls, v: str) -> str:
        for url in filter(None, (u.strip() for u in v.split(","))):
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"webhook URL must start with http:// or https://, got {url!r}")
        return v

    @field_validator("notify_webhook")
    @classmethod
    def _notify_url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError(f"notify_webhook must start with http:// or https://, got {v!r}")
        return v

    @field_validator("mqtt_topic_prefix")
    @classmethod
    def _topic(cls, v: str) -> str:
        if not v or any(c in v for c in "+#") or v.endswith("/"):
            raise ValueError("mqtt_topic_prefix must be a topic without wildcards or trailing slash")
        return v

    @property
    def webhook_urls(self) -> list[str]:
        return [u.strip() for u in self.webhooks.split(",") if u.strip()]


@lru_cache
def get_billing_settings() -> BillingSettings:
    """Billing settings from the environment, once."""
    return BillingSettings()
