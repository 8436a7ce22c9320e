"""The `easypost` carrier: packages whose labels were bought in EasyPost (given when shipping, with the
EasyPost shipment id) and, when their manifest closes, EasyPost's ScanForm for them.

Buying labels through EasyPost from Ordermesh is not built: `rate` and `buy_label` answer 422, and the
floor gives the labels when shipping (`packages[].carrier_shipment_id` = EasyPost's `shp_...`).
The close-out talks to the network: the caller runs it outside any database transaction.
"""

from __future__ import annotations

import json

import httpx

from ordermesh import outbound
from ordermesh.carriers.base import (
    CloseOutFailed,
    CloseOutRequest,
    Label,
    LabelRequest,
    Rate,
    ScanForm,
    register,
)
from ordermesh.carriers.easypost import parse_scan_form, scan_form_body
from ordermesh.config import get_settings
from ordermesh.errors import Invalid

TIMEOUT_SECONDS = 30.0


class EasyPostCarrier:
    code = "easypost"
    name = "EasyPost"

    def services(self) -> tuple[str, ...]:
        return ()

    def rate(self, request: LabelRequest) -> Rate:
        raise Invalid.field("carrier", "EasyPost labels are bought in EasyPost and given when shipping")

    def buy_label(self, request: LabelRequest) -> Label:
        raise Invalid.field("carrier", "EasyPost labels are bought in EasyPost and given when shipping")

    def close_out(self, request: CloseOutRequest) -> ScanForm:
        """EasyPost's ScanForm of the manifest's packages: `POST /v2/scan_forms` with their EasyPost
        shipments, or, for a form asked for before, `GET /v2/scan_forms/{id}`."""
        settings = get_settings()
        if not settings.easypost_api_key:
            raise CloseOutFailed("EasyPost is not set up: ORDERMESH_EASYPOST_API_KEY is empty")
        missing = [p.tracking_number for p in request.packages if not p.carrier_shipment_id]
        if missing and request.form_id is None:
            raise CloseOutFailed(f"package {missing[0]} has no EasyPost shipment id (shp_...)")
        base = settings.easypost_api_url.rstrip("/")
        with outbound.client(timeout=TIMEOUT_SECONDS) as http:
            auth = httpx.BasicAuth(settings.easypost_api_key, "")
            try:
                if request.form_id is not None:
                    answer = http.get(f"{base}/v2/scan_forms/{request.form_id}", auth=auth)
                else:
                    ids = [p.carrier_shipment_id for p in request.packages if p.carrier_shipment_id]
                    answer = http.post(f"{base}/v2/scan_forms", json=scan_form_body(ids), auth=auth)
            except httpx.HTTPError as error:  # outbound.OutboundRefused included
                raise CloseOutFailed(f"EasyPost: {outbound.failure_reason(error)}") from None
        if not answer.is_success:
            outbound.log_answer("EasyPost ScanForm", url=str(answer.url), status_code=answer.status_code,
                                body=answer.text, reference=request.reference)  # fmt: skip
            raise CloseOutFailed(f"EasyPost answered {outbound.status_reason(answer.status_code)}")
        try:
            document = answer.json()
        except json.JSONDecodeError:
            raise CloseOutFailed("EasyPost's answer is not JSON") from None
        return parse_scan_form(document)


register(EasyPostCarrier())
