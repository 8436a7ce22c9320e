"""What every router shares: the session and principal dependencies, pagination and problem responses."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from ordermesh.auth import Principal, authenticate, bearer_key_hash, key_cache
from ordermesh.base import utcnow
from ordermesh.config import get_settings
from ordermesh.errors import Invalid, TooManyRequests
from ordermesh.inputs import MAX_ID
from ordermesh.security import TokenBuckets, retry_after

T = TypeVar("T")


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (or rolled back on error).

    Not committed once the request's deadline has passed: its client has had a 503 (the commit settles
    the deadline first, see ordermesh.deadlines).
    """
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_session, scope="function")]


# Declares the bearer scheme in the OpenAPI document for every route that needs a key; the header is
# read as sent (a malformed one answers 401 from bearer_key_hash).
BEARER = HTTPBearer(
    scheme_name="bearer", auto_error=False, description="An API key: `Authorization: Bearer om_...`"
)


async def get_principal(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
) -> Principal:
    # Async, so that a key found in the cache (nearly every request) costs no hop to a worker thread.
    key_hash = bearer_key_hash(request.headers.get("authorization"))
    principal = key_cache.get(key_hash)
    if principal is None:
        principal = await run_in_threadpool(_look_up_key, request.app.state.sessionmaker, key_hash)
    _count_request(getattr(request.app.state, "key_limiter", None), principal)
    return principal


def _count_request(limiter: TokenBuckets | None, principal: Principal) -> None:
    """Take one request from the key's allowance (ORDERMESH_API_RATE_LIMIT); 429 when it is spent."""
    if limiter is None or (principal.is_operator and not get_settings().api_rate_limit_operator):
        return
    wait = limiter.take(principal.key_id)
    if wait > 0:
        raise TooManyRequests("this API key's request rate limit is reached", retry_after=retry_after(wait))


def count_client_attempt(request: Request, limiter: TokenBuckets | None, what: str) -> None:
    """Take one attempt from the client address's allowance for `what`; 429 when it is spent."""
    if limiter is None:
        return
    wait = limiter.take(request.client.host if request.client else "")
    if wait > 0:
        raise TooManyRequests(f"too many {what} from this address", retry_after=retry_after(wait))


def _look_up_key(factory: sessionmaker[Session], key_hash: str) -> Principal:
    # A session of its own, closed at once: on SQLite a transaction held open for the whole request
    # would keep the write lock from the request's own unit of work.
    with factory() as session:
        return authenticate(session, key_hash, cache_seconds=get_settings().api_key_cache_seconds)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_clock() -> Callable[[], datetime]:
    """What "now" is for promises and cut-offs; tests replace this dependency to stand at a chosen time."""
    return utcnow


Clock = Annotated[Callable[[], datetime], Depends(get_clock)]


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


Limit = Annotated[int, Query(ge=1, le=500, description="Page size")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]


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
    id_column: InstrumentedAttribute[int],
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool = False,
) -> tuple[Sequence[Any], str | None]:
    """Keyset pagination on an id column: stable under inserts, O(limit) per page."""
    after = decode_cursor(cursor)
    if after is not None:
        statement = statement.where(id_column < after if newest_first else id_column > after)
    statement = statement.order_by(id_column.desc() if newest_first else id_column).limit(limit + 1)
    rows = session.scalars(statement).all()
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].id)
