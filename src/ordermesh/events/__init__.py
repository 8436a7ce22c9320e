"""Side effects leave through the transactional outbox; the worker delivers them."""

from enum import StrEnum


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its next attempt
    delivered = "delivered"  # the receiver answered 2xx
    dead = "dead"  # out of attempts; replay puts it back to pending
