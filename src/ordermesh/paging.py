"""Pages of lists: keyset pagination on an id column, and pages by position for short ordered lists.

Services page their queries with these; the API answers the Page. Cursors are opaque to clients (the
last id, or a position, in url-safe base64) and decoded into the range an id may take.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from ordermesh.errors import Invalid
from ordermesh.inputs import MAX_ID

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        after = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        after = 0
    if not 1 <= after <= MAX_ID:
        raise Invalid.field("cursor", "not a cursor this API returned")
    return after


def page_of(items: Sequence[T], *, limit: int, cursor: str | None) -> Page[T]:
    """A page of a list kept in an order of its own (bins in walking order, events by time): the cursor
    is the position after the page. For short per-location or per-order lists only."""
    start = decode_cursor(cursor) or 0
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return Page(items=page, next_cursor=encode_cursor(start + limit) if more else None)


def paginate(
    session: Session,
    statement: Select[Any],
    id_column: InstrumentedAttribute[int] | ColumnElement[int],
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool = False,
) -> tuple[Sequence[Any], str | None]:
    """Keyset pagination on an id column: stable under inserts, O(limit) per page. The rows are the
    statement's entities, or its rows when it selects several columns (one of them `id`)."""
    after = decode_cursor(cursor)
    if after is not None:
        statement = statement.where(id_column < after if newest_first else id_column > after)
    statement = statement.order_by(id_column.desc() if newest_first else id_column).limit(limit + 1)
    result = session.execute(statement)
    rows = result.scalars().all() if len(statement.column_descriptions) == 1 else result.all()
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].id)
