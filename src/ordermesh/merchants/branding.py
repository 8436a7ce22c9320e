"""A merchant's brand on its printed documents: name, logo, return instructions and return address."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.base import utcnow
from ordermesh.errors import Invalid, NotFound
from ordermesh.merchants.logos import Logo, LogoRefused, check_logo
from ordermesh.merchants.models import Merchant, MerchantBranding
from ordermesh.merchants.service import get_merchant


@dataclass(frozen=True)
class Brand:
    """What a document prints of the merchant's brand (the brand name defaults to the merchant's)."""

    merchant_id: int
    brand_name: str
    brand_name_set: bool
    return_instructions: str | None
    return_address: dict[str, Any] | None
    logo: bytes | None
    logo_content_type: str | None
    logo_width: int | None
    logo_height: int | None
    updated_at: Any


def _row(session: Session, merchant_id: int, *, lock: bool = False) -> MerchantBranding | None:
    statement = select(MerchantBranding).where(MerchantBranding.merchant_id == merchant_id)
    return session.scalars(statement.with_for_update() if lock else statement).one_or_none()


def _brand(merchant: Merchant, row: MerchantBranding | None) -> Brand:
    return Brand(
        merchant_id=merchant.id,
        brand_name=(row.brand_name if row and row.brand_name else merchant.name),
        brand_name_set=bool(row and row.brand_name),
        return_instructions=row.return_instructions if row else None,
        return_address=row.return_address if row else None,
        logo=row.logo if row else None,
        logo_content_type=row.logo_content_type if row else None,
        logo_width=row.logo_width if row else None,
        logo_height=row.logo_height if row else None,
        updated_at=row.updated_at if row else None,
    )


def get_brand(session: Session, *, merchant_id: int, scope: int | None = None) -> Brand:
    """The merchant's brand (404 for a merchant the caller may not see)."""
    merchant = get_merchant(session, merchant_id=merchant_id, scope=scope)
    return _brand(merchant, _row(session, merchant.id))


def _editable(session: Session, merchant_id: int, scope: int | None) -> tuple[Merchant, MerchantBranding]:
    merchant = get_merchant(session, merchant_id=merchant_id, scope=scope)
    # The merchant's row lock makes two first edits take turns (PostgreSQL): one inserts, one updates.
    session.execute(select(Merchant.id).where(Merchant.id == merchant.id).with_for_update())
    row = _row(session, merchant.id, lock=True)
    if row is None:
        row = MerchantBranding(merchant_id=merchant.id)
        session.add(row)
    return merchant, row


def set_brand(
    session: Session,
    *,
    merchant_id: int,
    scope: int | None,
    brand_name: str | None,
    return_instructions: str | None,
    return_address: dict[str, Any] | None,
) -> Brand:
    """Replace the brand's name, return instructions and return address (None clears one); the logo stays."""
    merchant, row = _editable(session, merchant_id, scope)
    row.brand_name, row.return_instructions, row.return_address = (
        brand_name,
        return_instructions,
        return_address,
    )
    row.updated_at = utcnow()
    session.flush()
    return _brand(merchant, row)


def set_logo(
    session: Session, *, merchant_id: int, scope: int | None, data: bytes, content_type: str | None
) -> Brand:
    """Keep the uploaded logo (422 on `logo` when it is no PNG or JPEG within the caps)."""
    merchant = get_merchant(session, merchant_id=merchant_id, scope=scope)
    try:
        logo: Logo = check_logo(data, content_type)
    except LogoRefused as refused:
        raise Invalid.field("logo", str(refused)) from None
    merchant, row = _editable(session, merchant.id, scope)
    row.logo, row.logo_content_type = data, logo.content_type
    row.logo_width, row.logo_height, row.updated_at = logo.width, logo.height, utcnow()
    session.flush()
    return _brand(merchant, row)


def delete_logo(session: Session, *, merchant_id: int, scope: int | None) -> Brand:
    """Remove the logo (404 when there is none)."""
    merchant = get_merchant(session, merchant_id=merchant_id, scope=scope)
    row = _row(session, merchant.id, lock=True)
    if row is None or row.logo is None:
        raise NotFound(f"merchant {merchant.id} has no logo")
    row.logo = row.logo_content_type = row.logo_width = row.logo_height = None
    row.updated_at = utcnow()
    session.flush()
    return _brand(merchant, row)
