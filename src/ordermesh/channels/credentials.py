"""Stored channel credentials that renew: the framework's side of `connector.CredentialStore`.

A connector whose tokens expire (Shopify's client-credentials and expiring offline tokens) renews them
through `StoredCredentials.renew`: in a transaction of its own, under the channel row's lock (SELECT ... FOR
UPDATE on PostgreSQL; on SQLite every transaction begins IMMEDIATE, holding the one write lock), with the
credentials read again once the lock is held. So of several workers (threads or processes) that find a
token due at once, one asks the channel for a new token and stores it, and the others read it: a refresh
token that the channel replaces at each use is never sent twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ordermesh.base import utcnow
from ordermesh.channels.crypto import decrypt_credentials, encrypt_credentials
from ordermesh.channels.models import Channel


class StoredCredentials:
    """Channels' credentials in the database, renewed one worker at a time."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def renew(
        self, channel_id: int, renew: Callable[[Mapping[str, str]], Mapping[str, str] | None]
    ) -> Mapping[str, str]:
        with self.factory() as session, session.begin():
            stored = session.scalar(
                select(Channel.credentials_encrypted).where(Channel.id == channel_id).with_for_update()
            )
            if stored is None:
                raise LookupError(f"channel {channel_id} is gone")
            credentials = decrypt_credentials(stored)
            changed = renew(credentials)
            if not changed:
                return credentials
            credentials = {**credentials, **changed}
            session.execute(
                update(Channel)
                .where(Channel.id == channel_id)
                .values(credentials_encrypted=encrypt_credentials(credentials), updated_at=utcnow())
            )
            return credentials
