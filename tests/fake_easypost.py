"""A fake EasyPost API on the fake server of tests/fake_channels.py: `POST /v2/scan_forms` and
`GET /v2/scan_forms/{id}`, answering the documented ScanForm (tests/fixtures/channels/carriers/
easypost_scan_form_create.json) for the shipments it knows, with EasyPost's rules: HTTP basic auth with
the API key as user name, and a shipment goes on one ScanForm at most."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

from tests.fake_channels import FakeChannelServer, FakeRequest, FakeResponse
from tests.payloads import CHANNEL_FIXTURES

SCAN_FORM = CHANNEL_FIXTURES / "carriers" / "easypost_scan_form_create.json"


@dataclass
class FakeEasyPost:
    api_key: str
    shipments: dict[str, str] = field(default_factory=dict)  # EasyPost shipment id -> tracking code
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_status: str = "created"  # what the next new form says: created, creating or failed

    def authorised(self, request: FakeRequest) -> bool:
        expected = base64.b64encode(f"{self.api_key}:".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"


def _error(status: int, code: str, message: str) -> FakeResponse:
    return FakeResponse(status, {"error": {"code": code, "message": message, "errors": []}})


def install_easypost(server: FakeChannelServer, *, api_key: str) -> FakeEasyPost:
    fake = FakeEasyPost(api_key)
    template = json.loads(SCAN_FORM.read_text())

    def create(request: FakeRequest, _match: re.Match[str]) -> FakeResponse:
        if not fake.authorised(request):
            return _error(401, "APIKEY.REQUIRED", "Invalid or missing API key")
        ids = [shipment["id"] for shipment in request.json().get("shipments", [])]
        on_a_form = {code for form in fake.forms.values() for code in form["tracking_codes"]}
        if not ids or any(i not in fake.shipments or fake.shipments[i] in on_a_form for i in ids):
            return _error(
                422, "SCAN_FORM.SHIPMENTS.INVALID", "Shipments are unknown or on a ScanForm already"
            )
        form_id = f"sf_{len(fake.forms) + 1:032x}"
        status, fake.next_status = fake.next_status, "created"
        form = {
            **template,
            "id": form_id,
            "status": status,
            "message": "USPS could not accept the shipments" if status == "failed" else None,
            "form_url": template["form_url"] if status == "created" else None,
            "tracking_codes": [fake.shipments[i] for i in ids],
        }
        if status != "failed":
            fake.forms[form_id] = form
        return FakeResponse(200, form)

    def retrieve(request: FakeRequest, match: re.Match[str]) -> FakeResponse:
        if not fake.authorised(request):
            return _error(401, "APIKEY.REQUIRED", "Invalid or missing API key")
        form = fake.forms.get(match["id"])
        if form is None:
            return _error(404, "NOT_FOUND", "The requested resource could not be found.")
        form.update(status="created", form_url=template["form_url"])  # made by now
        return FakeResponse(200, form)

    server.route("POST", r"/v2/scan_forms", create)
    server.route("GET", r"/v2/scan_forms/(?P<id>sf_\w+)", retrieve)
    return fake
