"""The one way to read a row by id for a caller: it must belong to the caller's merchant (any merchant's
for the operator) and, for a warehouse key, to its location; anything else is "not found", so that
another merchant's rows are not even disclosed."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordermesh.base import Base, table
from ordermesh.errors import NotFound

M = TypeVar("M", bound=Base)


def get_scoped(
    session: Session,
    model: type[M],
    object_id: int,
    *,
    what: str,
    merchant_scope: int | None,
    location_scope: int | None = None,
    lock: bool = False,
) -> M:
    """The `model` row with that id in the caller's scope (row-locked on PostgreSQL when asked), else
    NotFound naming `what`."""
    columns = table(model).c
    statement = select(model).where(columns.id == object_id)
    if merchant_scope is not None:
        statement = statement.where(columns.merchant_id == merchant_scope)
    if location_scope is not None:
        statement = statement.where(columns.location_id == location_scope)
    if lock:
        statement = statement.with_for_update()
    found = session.scalars(statement).one_or_none()
    if found is None:
        raise NotFound(f"{what} {object_id} not found")
    return found
