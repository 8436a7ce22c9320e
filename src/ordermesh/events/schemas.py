"""Webhook subscriptions and deliveries, in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, model_validator

from ordermesh.events import DeliveryStatus
from ordermesh.inputs import Id, Input

# Every topic the outbox carries; a subscription names some of them, or "*" for all.
TOPICS: tuple[str, ...] = (
    "order.created",
    "order.confirmed",
    "order.backordered",
    "order.cancelled",
    "order.on_hold",
    "order.hold_released",
    "order.alert",  # a channel changed or cancelled an order that had already gone to the floor
    "inventory.changed",
    "shipment.created",
    "shipment.updated",
    "order.shipped",
    "order.delivered",
    "return.created",
    "return.received",
    "return.refunded",
)
WILDCARD = "*"


def normalize_topics(events: list[str]) -> list[str]:
    """The topics deduplicated in their given order; raises ValueError on an unknown one."""
    unknown = [e for e in events if e != WILDCARD and e not in TOPICS]
    if unknown:
        raise ValueError(f"unknown topic(s) {', '.join(unknown)}; known: {', '.join(TOPICS)} or '*'")
    if WILDCARD in events and len(set(events)) > 1:
        raise ValueError("'*' already means every topic: list it alone")
    return list(dict.fromkeys(events))


Topics = Annotated[list[str], Field(min_length=1, max_length=len(TOPICS)), AfterValidator(normalize_topics)]
WebhookUrl = Annotated[HttpUrl, Field(max_length=2000, description="http or https URL receiving the POSTs")]
Secret = Annotated[str, Field(min_length=16, max_length=200, pattern=r"^\S+$")]


class SubscriptionCreate(Input):
    merchant_id: Id | None = Field(default=None, description="Required with an operator key")
    url: WebhookUrl
    events: Topics = Field(description=f"Topics to receive ({', '.join(TOPICS)}), or ['*'] for all")
    secret: Secret | None = Field(default=None, description="Signing secret; generated when omitted")


class SubscriptionUpdate(Input):
    url: WebhookUrl | None = None
    events: Topics | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _no_explicit_nulls(self) -> SubscriptionUpdate:
        # Omit a field to leave it unchanged; null would be ambiguous, so it is refused.
        nulls = [name for name in self.model_fields_set if getattr(self, name) is None]
        if nulls:
            raise ValueError(f"{', '.join(sorted(nulls))} cannot be null (omit a field to keep it)")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the request sets, ready for the service."""
        values: dict[str, Any] = {name: getattr(self, name) for name in self.model_fields_set}
        if "url" in values:
            values["url"] = str(values["url"])
        return values


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: Id
    merchant_id: Id
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="The signing secret: shown this once, never again")


class DeliveryOut(BaseModel):
    id: Id
    merchant_id: Id
    subscription_id: Id
    message_id: str = Field(description="Stable across retries and replays (X-Ordermesh-Message-Id)")
    topic: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class BulkReplay(Input):
    status: Literal["dead", "delivered"] = "dead"
    subscription_id: Id | None = None
    merchant_id: Id | None = Field(default=None, description="Operator only: limit to one merchant")


class ReplayResult(BaseModel):
    replayed: int
