"""Channel credentials encrypted at rest with Fernet, keyed by ORDERMESH_SECRET_KEY (see ordermesh.keys).

What is stored depends on the key:
- a Fernet key: the Fernet token itself;
- a passphrase: `scrypt1$<salt>$<Fernet token>`, the token's key being scrypt(passphrase, salt). Each
  process draws one random salt for what it encrypts, so scrypt runs once per process and salt;
- no key: the Fernet token under the public development key.

Credentials stored before passphrases were stretched (a bare Fernet token under SHA-256(passphrase)) stay
readable; they are stored in the new form the next time the channel's credentials are written, or all at
once with `ordermesh channels rekey`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from ordermesh import keys

SECRET_KEY_ENV = keys.SECRET_KEY_ENV
STRETCHED_PREFIX = "scrypt1$"


class CredentialsUnreadable(Exception):
    """Stored credentials that the current key cannot decrypt (the key changed?)."""


@lru_cache(maxsize=1)
def _process_salt() -> bytes:
    return os.urandom(16)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _stretched(passphrase: str, salt: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(keys.stretch(passphrase, salt)))


def _legacy(passphrase: str) -> Fernet:
    """The key passphrases gave before they were stretched: one unsalted SHA-256 (read only)."""
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest()))


def encrypt_credentials(credentials: dict[str, str]) -> str:
    """The credentials as text for the database (see the module's docstring for its forms)."""
    plain = json.dumps(credentials, sort_keys=True).encode()
    key = keys.secret_key()
    if key is None:
        keys.root_key()  # warns once that the development key is in use
        return Fernet(keys.DEV_KEY).encrypt(plain).decode()
    if keys.fernet_key_bytes(key) is not None:
        return Fernet(key.encode()).encrypt(plain).decode()
    salt = _process_salt()
    return f"{STRETCHED_PREFIX}{_b64(salt)}${_stretched(key, salt).encrypt(plain).decode()}"


def decrypt_credentials(stored: str) -> dict[str, str]:
    """The credentials back from what `encrypt_credentials` stored (or the unstretched form of old)."""
    try:
        data = json.loads(_decrypt(stored))
    except (InvalidToken, ValueError):
        raise CredentialsUnreadable(
            f"channel credentials cannot be decrypted with {SECRET_KEY_ENV}"
        ) from None
    return {str(k): str(v) for k, v in data.items()}


def _decrypt(stored: str) -> bytes:
    key = keys.secret_key()
    if stored.startswith(STRETCHED_PREFIX):
        salt, _, token = stored.removeprefix(STRETCHED_PREFIX).partition("$")
        if key is None or keys.fernet_key_bytes(key) is not None:
            raise InvalidToken  # stored under a passphrase, and the key is no longer one
        return _stretched(key, _unb64(salt)).decrypt(token.encode())
    if key is None:
        return Fernet(keys.DEV_KEY).decrypt(stored.encode())
    if keys.fernet_key_bytes(key) is not None:
        return Fernet(key.encode()).decrypt(stored.encode())
    return _legacy(key).decrypt(stored.encode())


def needs_rekey(stored: str) -> bool:
    """Whether stored credentials are in an older form than the current key would write."""
    key = keys.secret_key()
    passphrase = key is not None and keys.fernet_key_bytes(key) is None
    return passphrase and not stored.startswith(STRETCHED_PREFIX)
