"""Locations (warehouses, stores) owned by the operator and enabled per merchant."""

from enum import StrEnum


class LocationKind(StrEnum):
    warehouse = "warehouse"
    store = "store"
