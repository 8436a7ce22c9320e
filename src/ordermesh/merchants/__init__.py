"""Merchants (tenants) and the API keys that act for them."""

from enum import StrEnum


class Role(StrEnum):
    operator = "operator"  # the 3PL or brand ops admin: every merchant
    merchant = "merchant"  # one brand: its own data only
    warehouse = "warehouse"  # one location's floor work
