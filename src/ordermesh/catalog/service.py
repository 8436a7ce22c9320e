"""The catalog: a merchant's SKUs, unique by code within the merchant."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ordermesh.catalog.events import SkusAdded
from ordermesh.catalog.models import Sku
from ordermesh.catalog.schemas import SkuCreate, SkuUpdate, SkuUpsert
from ordermesh.domain_events import publish
from ordermesh.errors import Conflict, FieldError, Invalid, NotFound
from ordermesh.merchants.service import get_merchant
from ordermesh.money import fits_currency, minor_units
from ordermesh.paging import paginate
from ordermesh.scoping import get_scoped

MAX_BULK_ITEMS = 1000
# Columns a PATCH or upsert may not set to null.
_REQUIRED = frozenset({"code", "name", "currency", "active", "requires_shipping"})


@dataclass(frozen=True)
class UpsertedSku:
    index: int
    sku: Sku
    created: bool


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    items: list[UpsertedSku] = field(default_factory=list)


def create_sku(session: Session, *, merchant_id: int, data: SkuCreate, actor: str) -> Sku:
    """Create a SKU; its code must be new for the merchant (409 if not)."""
    merchant = get_merchant(session, merchant_id=merchant_id)
    if _find(session, merchant_id, data.code) is not None:
        raise Conflict(f"SKU {data.code!r} already exists")
    values = data.model_dump(exclude={"merchant_id"}, exclude_none=True)
    values.setdefault("currency", merchant.default_currency)
    values.setdefault("active", True)
    values.setdefault("requires_shipping", True)
    _raise_first(_price_problems(values.get("price"), values["currency"], prefix=""))
    sku = Sku(merchant_id=merchant_id, **values)
    with _codes_unique(session):
        session.add(sku)
    publish(session, SkusAdded(merchant_id, actor))
    return sku


def get_sku(session: Session, *, sku_id: int, merchant_scope: int | None) -> Sku:
    """A SKU the caller may see, else 404 (another merchant's included)."""
    return get_scoped(session, Sku, sku_id, what="SKU", merchant_scope=merchant_scope)


def find_sku(session: Session, *, merchant_id: int, code: str, field: str = "sku") -> Sku:
    """A merchant's SKU by code, else 404 naming the code."""
    sku = _find(session, merchant_id, code)
    if sku is None:
        raise NotFound(f"SKU {code!r} not found", [FieldError(field, f"no SKU with code {code!r}")])
    return sku


def list_skus(
    session: Session,
    *,
    merchant_scope: int | None,
    active: bool | None,
    q: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Sku], str | None]:
    """A page of SKUs by id; `q` matches part of the code, name or barcode, ignoring case."""
    statement = select(Sku)
    if merchant_scope is not None:
        statement = statement.where(Sku.merchant_id == merchant_scope)
    if active is not None:
        statement = statement.where(Sku.active == active)
    if q and q.strip():
        pattern = "%" + _escape_like(q.strip()) + "%"
        statement = statement.where(
            or_(
                Sku.code.ilike(pattern, escape="\\"),
                Sku.name.ilike(pattern, escape="\\"),
                Sku.barcode.ilike(pattern, escape="\\"),
            )
        )
    return paginate(session, statement, Sku.id, limit=limit, cursor=cursor)


def update_sku(session: Session, *, sku_id: int, merchant_scope: int | None, changes: SkuUpdate) -> Sku:
    """Change the fields sent; a new code must be free within the merchant (409 if not)."""
    sku = get_sku(session, sku_id=sku_id, merchant_scope=merchant_scope)
    updates = _changes(changes)
    if "code" in updates and updates["code"] != sku.code and _find(session, sku.merchant_id, updates["code"]):
        raise Conflict(f"SKU {updates['code']!r} already exists")
    if {"price", "currency"} & updates.keys():
        price, currency = updates.get("price", sku.price), updates.get("currency", sku.currency)
        _raise_first(_price_problems(price, currency, prefix=""))
    with _codes_unique(session):
        for name, value in updates.items():
            setattr(sku, name, value)
    return sku


def upsert_skus(
    session: Session, *, merchant_id: int, items: Sequence[SkuUpsert], actor: str
) -> UpsertResult:
    """Create or update SKUs by code, all or nothing; errors name the item (`items.3.name`)."""
    merchant = get_merchant(session, merchant_id=merchant_id)
    if len(items) > MAX_BULK_ITEMS:
        raise Invalid.field("items", f"at most {MAX_BULK_ITEMS} items per request")
    codes = [item.code for item in items]
    existing = {
        sku.code: sku
        for sku in session.scalars(
            select(Sku).where(Sku.merchant_id == merchant_id, Sku.code.in_(set(codes)))
        )
    }
    _check_upsert(items, existing, merchant.default_currency)
    result = UpsertResult()
    with _codes_unique(session):
        for index, item in enumerate(items):
            updates = _changes(item)
            sku = existing.get(item.code)
            if sku is None:
                updates.setdefault("currency", merchant.default_currency)
                updates.setdefault("active", True)
                updates.setdefault("requires_shipping", True)
                sku = Sku(merchant_id=merchant_id, **updates)
                session.add(sku)
                result.created += 1
            else:
                for name, value in updates.items():
                    setattr(sku, name, value)
                result.updated += 1
            result.items.append(UpsertedSku(index, sku, created=item.code not in existing))
    if result.created:
        publish(session, SkusAdded(merchant_id, actor))
    return result


def _check_upsert(items: Sequence[SkuUpsert], existing: dict[str, Sku], default_currency: str) -> None:
    """Every problem of the batch at once, so that a file can be fixed in one go."""
    errors: list[FieldError] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.code in first_index:
            errors.append(FieldError(f"items.{index}.code", f"repeats items.{first_index[item.code]}.code"))
            continue
        first_index[item.code] = index
        for name in sorted(item.model_fields_set & _REQUIRED):
            if getattr(item, name) is None:
                errors.append(FieldError(f"items.{index}.{name}", "may not be null"))
        known = existing.get(item.code)
        if known is None and item.name is None:
            errors.append(FieldError(f"items.{index}.name", "required to create a new SKU"))
        price = item.price if "price" in item.model_fields_set else (known.price if known else None)
        currency = item.currency or (known.currency if known else default_currency)
        errors.extend(_price_problems(price, currency, prefix=f"items.{index}."))
    if errors:
        raise Invalid.of(errors)


def _price_problems(price: Decimal | None, currency: str, *, prefix: str) -> list[FieldError]:
    """A price must be payable in its currency: no cents for JPY, at most 2 decimals for USD."""
    if price is None or fits_currency(price, currency):
        return []
    return [FieldError(f"{prefix}price", f"{currency} has {minor_units(currency)} decimal places at most")]


def _raise_first(errors: list[FieldError]) -> None:
    if errors:
        raise Invalid(f"{errors[0].field}: {errors[0].message}", errors)


def _changes(data: SkuUpdate | SkuUpsert) -> dict[str, Any]:
    """The fields sent, refusing null for those that cannot be empty."""
    updates = data.model_dump(exclude_unset=True)
    for name, value in updates.items():
        if value is None and name in _REQUIRED:
            raise Invalid.field(name, "may not be null")
    return updates


def _find(session: Session, merchant_id: int, code: str) -> Sku | None:
    return session.scalar(select(Sku).where(Sku.merchant_id == merchant_id, Sku.code == code))


@contextmanager
def _codes_unique(session: Session) -> Iterator[None]:
    """Write in a savepoint: a code taken concurrently is a clean 409, not a dead transaction."""
    try:
        with session.begin_nested():
            yield
    except IntegrityError:
        raise Conflict("a SKU with this code was created at the same time; retry") from None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
