"""The server's secret key (ORDERMESH_SECRET_KEY) and the keys derived from it, one per use.

The variable holds either a Fernet key (32 random bytes, url-safe base64: the recommended form) or a
passphrase. A passphrase is never used as a key directly: it is stretched with scrypt and a salt
(`stretch`), which makes guessing it from stolen ciphertext cost ~0.1 s and 32 MiB per guess.

Without the variable (development, tests) a public development key is used and a warning is logged
once: whatever it protects is readable by anyone with this source code. Generate a key with
    python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from functools import lru_cache

from ordermesh.config import get_settings

log = logging.getLogger("ordermesh.keys")

SECRET_KEY_ENV = "ORDERMESH_SECRET_KEY"
# Derived from a public phrase on purpose: it protects nothing, it only lets development run.
DEV_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"ordermesh development key - not secret").digest())
# scrypt cost: N=2**15, r=8 (32 MiB), p=1; every derived key is cached for the process.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024


def secret_key() -> str | None:
    """ORDERMESH_SECRET_KEY as set (None or empty: the development key is used)."""
    return get_settings().secret_key or None


def fernet_key_bytes(text: str) -> bytes | None:
    """The 32 key bytes when `text` is a Fernet key (url-safe base64 of 32 bytes), else None."""
    try:
        raw = base64.urlsafe_b64decode(text.encode())
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 and len(text) == 44 else None


@lru_cache(maxsize=64)
def stretch(passphrase: str, salt: bytes) -> bytes:
    """32 key bytes from a passphrase and a salt, with scrypt (cached: each pair costs once per process)."""
    return hashlib.scrypt(
        passphrase.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=SCRYPT_MAXMEM, dklen=32
    )


@lru_cache(maxsize=8)
def _warn_development_key(_once: None = None) -> None:
    log.warning("%s is not set: secrets are protected with the public development key", SECRET_KEY_ENV)


def root_key() -> bytes:
    """The 32 bytes every purpose key is derived from: the Fernet key itself, or the stretched passphrase."""
    key = secret_key()
    if key is None:
        _warn_development_key()
        return base64.urlsafe_b64decode(DEV_KEY)
    raw = fernet_key_bytes(key)
    return raw if raw is not None else stretch(key, b"ordermesh/root-key")


def purpose_key(purpose: str) -> bytes:
    """A key for one use only (e.g. "tracking-links"): HMAC-SHA256 of the purpose under the root key."""
    return hmac.new(root_key(), f"ordermesh/{purpose}".encode(), hashlib.sha256).digest()
