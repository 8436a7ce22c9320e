"""EasyPost documents: `tracker.updated` webhooks (signature check and translation into our tracking
events) and ScanForms (the close-out document of a manifest). Pure.

EasyPost signs each webhook with the secret set on the webhook: header `X-Hmac-Signature` carries
`hmac-sha256-hex=` + HMAC-SHA256(NFKD(secret), raw body) in hex.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ordermesh.carriers.base import CloseOutFailed, ScanForm, TrackingStatus
from ordermesh.errors import Invalid
from ordermesh.signatures import same_signature

SIGNATURE_HEADER = "X-Hmac-Signature"
SIGNATURE_PREFIX = "hmac-sha256-hex="

# EasyPost tracker statuses and what they say about the parcel; None: nothing to record yet.
STATUS_MAP: dict[str, TrackingStatus | None] = {
    "unknown": None,
    "pre_transit": None,
    "in_transit": TrackingStatus.in_transit,
    "available_for_pickup": TrackingStatus.out_for_delivery,
    "out_for_delivery": TrackingStatus.out_for_delivery,
    "delivered": TrackingStatus.delivered,
    "return_to_sender": TrackingStatus.exception,
    "failure": TrackingStatus.exception,
    "error": TrackingStatus.exception,
    "cancelled": TrackingStatus.exception,
}


@dataclass(frozen=True)
class TrackingDetail:
    status: TrackingStatus
    message: str
    occurred_at: datetime
    place: str | None


@dataclass(frozen=True)
class TrackerUpdate:
    tracking_code: str
    carrier: str | None
    status: TrackingStatus | None
    details: list[TrackingDetail]
    estimated_delivery: date | None = None  # the carrier's latest estimate, a date at the destination


def sign(secret: str, body: bytes) -> str:
    key = unicodedata.normalize("NFKD", secret).encode()
    return SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and same_signature(sign(secret, body), header.strip())


def parse_tracker_updated(event: Any) -> TrackerUpdate:
    """The tracker of a `tracker.updated` event; 422 naming the field when the document is not one."""
    if not isinstance(event, dict):
        raise Invalid.field("body", "an EasyPost event object is expected")
    if event.get("description") != "tracker.updated":
        raise Invalid.field("description", f"expected 'tracker.updated', got {event.get('description')!r}")
    tracker = event.get("result")
    if not isinstance(tracker, dict) or tracker.get("object") != "Tracker":
        raise Invalid.field("result", "a Tracker object is expected")
    code = tracker.get("tracking_code")
    if not isinstance(code, str) or not code.strip():
        raise Invalid.field("result.tracking_code", "required")
    details = tracker.get("tracking_details") or []
    if not isinstance(details, list):
        raise Invalid.field("result.tracking_details", "a list is expected")
    return TrackerUpdate(
        tracking_code=code.strip(),
        carrier=tracker.get("carrier"),
        status=_status(tracker.get("status"), "result.status"),
        details=[
            detail
            for index, raw in enumerate(details)
            if (detail := _detail(raw, f"result.tracking_details.{index}")) is not None
        ],
        estimated_delivery=_estimate(tracker),
    )


def _estimate(tracker: dict[str, Any]) -> date | None:
    """The tracker's estimated delivery date: the carrier's local date when given
    (`carrier_detail.est_delivery_date_local`), else the date of `est_delivery_date` as written (EasyPost
    writes a date as midnight UTC, which is no moment to convert). None when absent or unreadable."""
    detail = tracker.get("carrier_detail")
    for value in ((detail or {}).get("est_delivery_date_local") if isinstance(detail, dict) else None,
                  tracker.get("est_delivery_date")):  # fmt: skip
        if isinstance(value, str) and len(value) >= 10:
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                continue
    return None


def _status(value: Any, field: str) -> TrackingStatus | None:
    if value not in STATUS_MAP:
        raise Invalid.field(field, f"unknown tracker status {value!r}")
    return STATUS_MAP[value]


def _detail(raw: Any, field: str) -> TrackingDetail | None:
    if not isinstance(raw, dict):
        raise Invalid.field(field, "a TrackingDetail object is expected")
    status = _status(raw.get("status"), f"{field}.status")
    if status is None:
        return None
    return TrackingDetail(
        status=status,
        message=str(raw.get("message") or raw.get("description") or status.value)[:300],
        occurred_at=_time(raw.get("datetime"), f"{field}.datetime"),
        place=_place(raw.get("tracking_location")),
    )


def _time(value: Any, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Invalid.field(field, f"not an ISO-8601 time: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _place(location: Any) -> str | None:
    if not isinstance(location, dict):
        return None
    parts = [location.get(key) for key in ("city", "state", "zip", "country")]
    text = ", ".join(str(part) for part in parts if part)
    return text[:200] or None


# --- ScanForms: the close-out document of an end-of-day manifest ---------------------------------------

SCAN_FORM_STATUSES = ("creating", "created", "failed")


def scan_form_body(shipment_ids: list[str]) -> dict[str, Any]:
    """The body of `POST /v2/scan_forms`: the EasyPost shipments to put on one form."""
    return {"shipments": [{"id": shipment_id} for shipment_id in shipment_ids]}


def parse_scan_form(document: Any) -> ScanForm:
    """A ScanForm answer as our ScanForm: its id (`sf_...`), `form_url` (None while `creating`) and
    `tracking_codes`; CloseOutFailed, in our words, when it is no ScanForm or EasyPost says it `failed`."""
    if not isinstance(document, dict) or document.get("object") != "ScanForm":
        raise CloseOutFailed("EasyPost answered something that is not a ScanForm")
    form_id = document.get("id")
    if not isinstance(form_id, str) or not re.fullmatch(r"sf_[A-Za-z0-9]{1,56}", form_id):
        raise CloseOutFailed("EasyPost's ScanForm has no usable id")
    status = document.get("status")
    if status == "failed":
        message = document.get("message")
        why = f": {' '.join(str(message).split())[:200]}" if message else ""
        raise CloseOutFailed(f"EasyPost could not make ScanForm {form_id}{why}")
    url = document.get("form_url")
    if url is not None and not (isinstance(url, str) and len(url) <= 500 and url.startswith("https://")):
        raise CloseOutFailed(f"EasyPost's ScanForm {form_id} has no usable form_url")
    codes = document.get("tracking_codes") or []
    return ScanForm(
        id=form_id,
        form_url=url if status != "creating" else None,
        tracking_codes=tuple(str(code) for code in codes) if isinstance(codes, list) else (),
    )
