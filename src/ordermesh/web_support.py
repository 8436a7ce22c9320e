"""What every router shares: the session and principal dependencies, the clock, the paging parameters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from ordermesh.auth import Principal, authenticate, bearer_key_hash, key_cache
from ordermesh.base import utcnow
from ordermesh.config import get_settings
from ordermesh.errors import TooManyRequests
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


Limit = Annotated[int, Query(ge=1, le=500, description="Page size")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
