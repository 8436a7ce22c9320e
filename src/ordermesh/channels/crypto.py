"""Channel credentials encrypted at rest with Fernet, the key from ORDERMESH_SECRET_KEY.

Without that variable (development, tests) a fixed development key is used and a warning is logged
once: anything encrypted with it is readable by whoever has this source code, so never run production
without a key of your own:
    python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from ordermesh.config import get_settings

log = logging.getLogger("ordermesh.channels")

SECRET_KEY_ENV = "ORDERMESH_SECRET_KEY"
# Derived from a public phrase on purpose: it protects nothing, it only lets development run.
DEV_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"ordermesh development key - not secret").digest())


class CredentialsUnreadable(Exception):
    """Stored credentials that the current key cannot decrypt (the key changed?)."""


@lru_cache
def _fernet(key: str | None) -> Fernet:
    if not key:
        log.warning(
            "%s is not set: channel credentials are encrypted with the public development key", SECRET_KEY_ENV
        )
        return Fernet(DEV_KEY)
    try:
        return Fernet(key.encode())
    except ValueError:
        # Any passphrase works: it is stretched into a Fernet key (32 url-safe base64-encoded bytes).
        return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


def fernet() -> Fernet:
    return _fernet(get_settings().secret_key)


def encrypt_credentials(credentials: dict[str, str]) -> str:
    """The credentials as a Fernet token (text), for the database."""
    return fernet().encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()


def decrypt_credentials(token: str) -> dict[str, str]:
    """The credentials back from their Fernet token."""
    try:
        data = json.loads(fernet().decrypt(token.encode()))
    except InvalidToken:
        raise CredentialsUnreadable(
            f"channel credentials cannot be decrypted with {SECRET_KEY_ENV}"
        ) from None
    return {str(k): str(v) for k, v in data.items()}
