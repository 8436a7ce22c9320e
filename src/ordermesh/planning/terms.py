"""Supplier terms for replenishment (pure): which supplier a SKU is bought from, and the lead time, its
spread, the minimum, the case pack and the unit cost a plan uses, each with where it came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from ordermesh.inbound.rules import LeadTime

# Received purchase orders needed before the measured lead time replaces the stated one.
MIN_MEASURED_SAMPLES = 3
# The spread of a stated lead time, as a share of it, when no measure can be had.
STATED_SPREAD = 0.25


class Source(StrEnum):
    """Where a figure of a plan's supply came from."""

    measured = "measured"  # from the supplier's past receipts
    stated = "stated"  # the supplier's stated lead time
    supplier_sku = "supplier_sku"  # the supplier's terms for this SKU
    supplier = "supplier"  # the supplier's terms for every SKU
    sku = "sku"  # the SKU's own cost (the supplier's is in another currency)
    default = "default"  # the call's fall-back (no supplier), or the default spread of a stated lead time


@dataclass(frozen=True)
class Supply:
    """The call's fall-backs, for SKUs no supplier sells."""

    lead_time_days: float = 14.0
    lead_time_sigma: float = 3.0
    moq: int = 1
    case_pack: int = 1


@dataclass(frozen=True)
class Offer:
    """One active supplier's terms for one SKU."""

    supplier_id: int
    supplier_code: str
    currency: str
    unit_cost: Decimal
    stated_lead_time_days: int
    supplier_moq: int
    supplier_case_pack: int
    sku_moq: int | None  # the supplier SKU's own, where it has one
    sku_case_pack: int | None
    measured: LeadTime


@dataclass(frozen=True)
class SkuSupply:
    """How one SKU is bought: the supplier (None: no supplier sells it) and the figures a plan uses."""

    offer: Offer | None
    lead_time_days: float
    lead_time_sigma: float
    moq: int
    case_pack: int
    unit_cost: Decimal | None  # for valuing stock, in the SKU's currency (None: no cost known)
    sources: dict[str, Source]


def choose(offers: Sequence[Offer]) -> Offer | None:
    """The supplier a SKU is bought from: the cheapest unit cost, then the lowest supplier id."""
    return min(offers, key=lambda offer: (offer.unit_cost, offer.supplier_id), default=None)


def resolve(
    offers: Sequence[Offer], fallback: Supply, *, sku_currency: str, sku_unit_cost: Decimal | None
) -> SkuSupply:
    """The SKU's supply from its chosen supplier, else from the call's fall-backs."""
    offer = choose(offers)
    if offer is None:
        return SkuSupply(
            offer=None,
            lead_time_days=fallback.lead_time_days,
            lead_time_sigma=fallback.lead_time_sigma,
            moq=fallback.moq,
            case_pack=fallback.case_pack,
            unit_cost=sku_unit_cost,
            sources={name: Source.default for name in _FIGURES} | {"unit_cost": Source.sku},
        )
    lead, spread, lead_source, spread_source = _lead_time(offer)
    moq, moq_source = _pick(offer.sku_moq, offer.supplier_moq)
    case_pack, case_source = _pick(offer.sku_case_pack, offer.supplier_case_pack)
    same_currency = offer.currency == sku_currency
    return SkuSupply(
        offer=offer,
        lead_time_days=lead,
        lead_time_sigma=spread,
        moq=moq,
        case_pack=case_pack,
        unit_cost=offer.unit_cost if same_currency else sku_unit_cost,
        sources={
            "lead_time_days": lead_source,
            "lead_time_sigma": spread_source,
            "moq": moq_source,
            "case_pack": case_source,
            "unit_cost": Source.supplier_sku if same_currency else Source.sku,
        },
    )


_FIGURES = ("lead_time_days", "lead_time_sigma", "moq", "case_pack")


def _lead_time(offer: Offer) -> tuple[float, float, Source, Source]:
    measured = offer.measured
    if (
        measured.samples >= MIN_MEASURED_SAMPLES
        and measured.mean_days is not None
        and measured.stdev_days is not None
    ):
        return measured.mean_days, measured.stdev_days, Source.measured, Source.measured
    stated = float(offer.stated_lead_time_days)
    return stated, stated * STATED_SPREAD, Source.stated, Source.default


def _pick(own: int | None, supplier: int) -> tuple[int, Source]:
    return (own, Source.supplier_sku) if own is not None else (supplier, Source.supplier)
