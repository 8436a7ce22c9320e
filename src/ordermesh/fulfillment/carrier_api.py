"""Carrier webhooks in: EasyPost `tracker.updated`, signed with the webhook's secret. The carrier layer
reads the document; fulfillment moves the shipments it names."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, Request

from ordermesh.carriers.easypost import parse_tracker_updated, signature_valid
from ordermesh.config import get_settings
from ordermesh.errors import Forbidden, Invalid, Unauthorized
from ordermesh.fulfillment import tracked, tracking
from ordermesh.fulfillment.schemas import WebhookResult
from ordermesh.openapi import problems
from ordermesh.web_support import DbSession

router = APIRouter(tags=["tracking"])


@router.post("/carriers/easypost/webhook", openapi_extra=problems(401, 403))
async def easypost_webhook(
    request: Request,
    session: DbSession,
    x_hmac_signature: Annotated[str | None, Header()] = None,
) -> WebhookResult:
    """An EasyPost tracker update: the shipment with that tracking number moves to its newest status.
    Needs ORDERMESH_EASYPOST_WEBHOOK_SECRET; unsigned or wrongly signed calls answer 401."""
    secret = get_settings().easypost_webhook_secret
    if not secret:
        raise Forbidden("EasyPost webhooks are not enabled: set ORDERMESH_EASYPOST_WEBHOOK_SECRET")
    body = await request.body()
    if not signature_valid(secret, body, x_hmac_signature):
        raise Unauthorized("missing or wrong X-Hmac-Signature")
    try:
        document = json.loads(body)
    except ValueError:
        raise Invalid.field("body", "not JSON") from None
    update = parse_tracker_updated(document)
    events = [
        tracking.TrackingEvent(tracked(d.status), d.message, d.occurred_at, d.place) for d in update.details
    ]
    result = WebhookResult(matched=False)
    for shipment_id in tracking.shipments_by_tracking_number(session, tracking_number=update.tracking_code):
        shipment, recorded = tracking.record_tracking(
            session,
            shipment_id=shipment_id,
            events=events,
            source="easypost",
            actor="carrier:easypost",
            estimated_delivery=update.estimated_delivery,
        )
        result = WebhookResult(
            matched=True, shipment_id=shipment.id, status=shipment.status, events_recorded=recorded
        )
    return result
