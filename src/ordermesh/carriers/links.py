"""What the customer sees of a carrier: its display name and a link to its own public tracking page for
a tracking number. Pure.

Carriers are named as packages record them: a label bought here carries the registered carrier's code,
a label given by hand (or reported by EasyPost) a carrier's name such as "UPS", "FedEx" or "DHLExpress".
A carrier without a public tracking page (the built-in rate card) gets no link: never a broken one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class PublicTracking:
    name: str
    url_template: str | None  # "{}" is replaced by the URL-quoted tracking number


PUBLIC_TRACKING: dict[str, PublicTracking] = {
    "ups": PublicTracking("UPS", "https://www.ups.com/track?tracknum={}"),
    "usps": PublicTracking("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}"),
    "fedex": PublicTracking("FedEx", "https://www.fedex.com/fedextrack/?trknbr={}"),
    "dhl": PublicTracking(
        "DHL", "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={}"
    ),
    "dhlexpress": PublicTracking(
        "DHL Express",
        "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={}",
    ),
}


def _key(carrier: str) -> str:
    return re.sub(r"[^a-z0-9]", "", carrier.lower())


def carrier_link(carrier: str | None, tracking_number: str | None, *, registered_name: str | None = None
                 ) -> tuple[str | None, str | None]:  # fmt: skip
    """The carrier's display name and its public tracking URL for the number (None when it has none)."""
    if not carrier:
        return None, None
    known = PUBLIC_TRACKING.get(_key(carrier))
    if known is None:
        return registered_name or carrier, None
    if not known.url_template or not tracking_number or not tracking_number.strip():
        return known.name, None
    return known.name, known.url_template.format(quote(tracking_number.strip(), safe=""))
