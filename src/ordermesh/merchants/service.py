"""Merchants and API keys (all operator business); which locations a merchant uses: locations/service.py."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ordermesh.auth import create_api_key, key_cache
from ordermesh.base import utcnow
from ordermesh.domain_events import publish
from ordermesh.errors import Conflict, Invalid, NotFound
from ordermesh.merchants import Role
from ordermesh.merchants.events import KeyBindingLocation
from ordermesh.merchants.models import ApiKey, Merchant
from ordermesh.paging import paginate


def create_merchant(session: Session, *, code: str, name: str, default_currency: str) -> Merchant:
    """Create a merchant; its code is unique (409 if taken)."""
    if session.scalar(select(Merchant.id).where(Merchant.code == code)) is not None:
        raise Conflict(f"a merchant with code {code!r} already exists")
    merchant = Merchant(code=code, name=name, default_currency=default_currency)
    try:
        with session.begin_nested():  # a concurrent duplicate becomes a 409, not a failed transaction
            session.add(merchant)
    except IntegrityError:
        raise Conflict(f"a merchant with code {code!r} already exists") from None
    return merchant


def get_merchant(session: Session, *, merchant_id: int, scope: int | None = None) -> Merchant:
    """A merchant the caller may see (its own, or any for the operator), else 404."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None or (scope is not None and scope != merchant_id):
        raise NotFound(f"merchant {merchant_id} not found")
    return merchant


def list_merchants(
    session: Session, *, scope: int | None, limit: int, cursor: str | None
) -> tuple[Sequence[Merchant], str | None]:
    """A page of merchants: all for the operator, only its own for a merchant key."""
    statement = select(Merchant)
    if scope is not None:
        statement = statement.where(Merchant.id == scope)
    return paginate(session, statement, Merchant.id, limit=limit, cursor=cursor)


def issue_api_key(
    session: Session, *, role: Role, name: str, merchant_id: int | None, location_id: int | None
) -> tuple[ApiKey, str]:
    """Create a key for an existing merchant and/or location; returns it with the raw token (shown once)."""
    check_binding(session, role=role, merchant_id=merchant_id, location_id=location_id)
    return create_api_key(session, role=role, name=name, merchant_id=merchant_id, location_id=location_id)


def check_binding(session: Session, *, role: Role, merchant_id: int | None, location_id: int | None) -> None:
    """What a role may be bound to, for API keys and dashboard users alike (422 naming the field)."""
    if role is Role.operator and (merchant_id is not None or location_id is not None):
        field = "merchant_id" if merchant_id is not None else "location_id"
        raise Invalid.field(field, "an operator sees every merchant and location: leave it out")
    if role is Role.merchant and location_id is not None:
        raise Invalid.field("location_id", "a merchant role is not bound to a location: leave it out")
    if merchant_id is not None and session.get(Merchant, merchant_id) is None:
        raise Invalid.field("merchant_id", f"merchant {merchant_id} does not exist")
    if location_id is not None:  # the locations domain rules on the binding (ordermesh.reactions)
        publish(session, KeyBindingLocation(role, merchant_id, location_id))


def revoke_api_key(session: Session, *, key_id: int) -> ApiKey:
    """Revoke a key for good (409 if it already is)."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    if key.revoked_at is not None:
        raise Conflict(f"API key {key_id} is already revoked")
    key.revoked_at = utcnow()
    session.flush()
    # This process forgets verified keys at once; others do within the key cache's lifetime.
    key_cache.clear()
    return key
