"""Accounts, tiered tariffs, prepaid ledger, payments, balance warnings, alerts and bill forecasts."""
