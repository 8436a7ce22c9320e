"""Users of the dashboard: creating and inviting them, signing in and out, their sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ordermesh.auth import Principal
from ordermesh.base import utcnow
from ordermesh.errors import Invalid, NotFound, Unauthorized
from ordermesh.merchants import Role
from ordermesh.merchants.models import Merchant
from ordermesh.merchants.service import check_binding
from ordermesh.users.models import User, UserSession
from ordermesh.users.passwords import hash_password, password_problem, verify_password
from ordermesh.users.schemas import UserIn


def token_hash(raw: str) -> str:
    """What is kept of a session or invitation token: its SHA-256 (the tokens are long and random)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def create_user(session: Session, *, user: UserIn, password: str | None) -> User:
    """A user with a password, or (None) one who sets it through an invitation; 422 naming the field."""
    check_binding(session, role=user.role, merchant_id=user.merchant_id, location_id=user.location_id)
    if user.role is Role.merchant and user.merchant_id is None:
        raise Invalid.field("merchant_id", "a merchant user needs a merchant")
    if user.role is Role.warehouse and user.location_id is None:
        raise Invalid.field("location_id", "a warehouse associate needs a location")
    if password is not None and (problem := password_problem(password)):
        raise Invalid.field("password", problem)
    row = User(
        email=user.email,
        name=user.name,
        role=user.role.value,
        merchant_id=user.merchant_id,
        location_id=user.location_id,
        password_hash=hash_password(password) if password is not None else None,
    )
    try:
        with session.begin_nested():  # a concurrent duplicate becomes a clean 422, not a failed transaction
            if session.scalar(select(User.id).where(User.email == user.email)) is not None:
                raise Invalid.field("email", "a user with this email exists already")
            session.add(row)
    except IntegrityError:
        raise Invalid.field("email", "a user with this email exists already") from None
    return row


def invite_user(session: Session, *, user: UserIn, valid_for: timedelta) -> tuple[User, str]:
    """Create a user without a password and return the one-time token of the link that sets it."""
    row = create_user(session, user=user, password=None)
    raw = secrets.token_urlsafe(32)
    row.invite_hash, row.invite_expires_at = token_hash(raw), utcnow() + valid_for
    session.flush()
    return row, raw


def open_invitation(session: Session, *, token: str) -> User:
    """The user an invitation token belongs to, while it is open; 404 otherwise."""
    user = session.scalar(select(User).where(User.invite_hash == token_hash(token)))
    if user is None or user.invite_expires_at is None or user.invite_expires_at <= utcnow():
        raise NotFound("this invitation link is not valid (used, expired or mistyped)")
    return user


def accept_invitation(session: Session, *, token: str, password: str) -> User:
    """Set the invited user's password; the link then stops working."""
    user = open_invitation(session, token=token)
    if problem := password_problem(password):
        raise Invalid.field("password", problem)
    user.password_hash = hash_password(password)
    user.invite_hash = user.invite_expires_at = None
    session.flush()
    return user


def check_password(session: Session, *, email: str, password: str) -> User:
    """The active user with this email and password; 401 otherwise (the same answer for every cause)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    matches = verify_password(user.password_hash if user else None, password)
    if user is None or not matches or user.disabled_at is not None:
        raise Unauthorized("wrong email or password")
    return user


@dataclass(frozen=True)
class SignedIn:
    """A session's user as a principal, with what the dashboard keeps per session."""

    principal: Principal
    session_id: int
    csrf_token: str
    acting_merchant_id: int | None  # the operator's chosen merchant (None: all)
    email: str

    @property
    def merchant_scope(self) -> int | None:
        """The merchant every page is limited to: the user's own, or the operator's choice."""
        scope = self.principal.merchant_scope()
        return self.acting_merchant_id if scope is None and self.principal.is_operator else scope


def open_session(session: Session, *, user: User, lasts: timedelta) -> str:
    """A new session for the user; returns the raw token for the cookie (only its hash is kept)."""
    raw = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=token_hash(raw),
            csrf_token=secrets.token_urlsafe(32),
            expires_at=utcnow() + lasts,
        )
    )
    session.execute(
        delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at <= utcnow())
    )
    session.flush()
    return raw


def signed_in(session: Session, *, token: str, now: datetime | None = None) -> SignedIn | None:
    """The session of a cookie's token, if it exists, has not expired and its user is active."""
    row = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == token_hash(token))
    ).one_or_none()
    if row is None:
        return None
    user_session, user = row
    if user_session.expires_at <= (now or utcnow()) or user.disabled_at is not None:
        return None
    return SignedIn(
        principal=principal_of(user),
        session_id=user_session.id,
        csrf_token=user_session.csrf_token,
        acting_merchant_id=user_session.acting_merchant_id,
        email=user.email,
    )


def principal_of(user: User) -> Principal:
    """The user as the same kind of principal an API key of its role gives."""
    return Principal(
        key_id=None,
        role=Role(user.role),
        merchant_id=user.merchant_id,
        location_id=user.location_id,
        name=user.name,
        user_id=user.id,
    )


def end_session(session: Session, *, token: str) -> None:
    """Sign out: the session's row is deleted, so its cookie is worthless."""
    session.execute(delete(UserSession).where(UserSession.token_hash == token_hash(token)))


def choose_merchant(session: Session, *, signed: SignedIn, merchant_id: int | None) -> None:
    """The operator's merchant switcher: limit the dashboard to one merchant (None: all)."""
    if not signed.principal.is_operator:
        raise Invalid.field("merchant_id", "only an operator switches merchants")
    if merchant_id is not None and session.get(Merchant, merchant_id) is None:
        raise Invalid.field("merchant_id", f"merchant {merchant_id} does not exist")
    row = session.get(UserSession, signed.session_id)
    if row is not None:
        row.acting_merchant_id = merchant_id
        session.flush()


def list_users(session: Session) -> list[User]:
    """Every user, oldest first (for the operator's users page)."""
    return list(session.scalars(select(User).order_by(User.id)))
