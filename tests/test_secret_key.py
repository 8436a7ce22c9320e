"""ORDERMESH_SECRET_KEY: a Fernet key is used as it is, a passphrase is stretched with scrypt and a salt,
and credentials stored under the old unstretched passphrase stay readable until `channels rekey`."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet, InvalidToken
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ordermesh import keys
from ordermesh.channels.crypto import (
    CredentialsUnreadable,
    decrypt_credentials,
    encrypt_credentials,
    needs_rekey,
)
from ordermesh.channels.models import Channel
from ordermesh.config import get_settings
from tests.channels_support import ACCESS_TOKEN, WEBHOOK_SECRET, connect_shopify
from tests.cli_support import run, use_database
from tests.world import World

PASSPHRASE = "correct horse battery staple"
CREDENTIALS = {"access_token": "shpat_secret", "webhook_secret": "whsec-123456"}


@pytest.fixture(autouse=True)
def _settings_read_afresh() -> Iterator[None]:
    yield
    get_settings.cache_clear()  # the key each test set is gone with its environment


def use_secret_key(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    """ORDERMESH_SECRET_KEY for the rest of the test (settings are read when first used: read them again)."""
    monkeypatch.setenv(keys.SECRET_KEY_ENV, key)
    get_settings.cache_clear()


def unstretched(passphrase: str, credentials: dict[str, str]) -> str:
    """What credentials looked like when a passphrase was hashed once with SHA-256 (the old form)."""
    key = base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest())
    return Fernet(key).encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()


def test_a_fernet_key_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    use_secret_key(monkeypatch, key)
    stored = encrypt_credentials(CREDENTIALS)
    assert json.loads(Fernet(key.encode()).decrypt(stored.encode())) == CREDENTIALS
    assert decrypt_credentials(stored) == CREDENTIALS and not needs_rekey(stored)


def test_a_passphrase_is_stretched_with_scrypt_and_a_salt(monkeypatch: pytest.MonkeyPatch) -> None:
    use_secret_key(monkeypatch, PASSPHRASE)
    stored = encrypt_credentials(CREDENTIALS)
    prefix, salt, token = stored.split("$")
    assert prefix == "scrypt1" and len(base64.urlsafe_b64decode(salt + "==")) == 16
    derived = hashlib.scrypt(
        PASSPHRASE.encode(),
        salt=base64.urlsafe_b64decode(salt + "=="),
        n=2**15,
        r=8,
        p=1,
        maxmem=64 * 1024 * 1024,
        dklen=32,
    )
    assert json.loads(Fernet(base64.urlsafe_b64encode(derived)).decrypt(token.encode())) == CREDENTIALS
    with pytest.raises(InvalidToken):  # the one-step SHA-256 key of old opens nothing new
        Fernet(base64.urlsafe_b64encode(hashlib.sha256(PASSPHRASE.encode()).digest())).decrypt(token.encode())
    assert decrypt_credentials(stored) == CREDENTIALS
    use_secret_key(monkeypatch, "another passphrase")
    with pytest.raises(CredentialsUnreadable):
        decrypt_credentials(stored)


def test_credentials_stored_under_the_unstretched_passphrase_stay_readable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_secret_key(monkeypatch, PASSPHRASE)
    old = unstretched(PASSPHRASE, CREDENTIALS)
    assert decrypt_credentials(old) == CREDENTIALS
    assert needs_rekey(old)


def test_purpose_keys_differ_by_purpose_and_by_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    use_secret_key(monkeypatch, PASSPHRASE)
    tracking = keys.purpose_key("tracking-links")
    assert tracking != keys.purpose_key("something-else") and len(tracking) == 32
    use_secret_key(monkeypatch, Fernet.generate_key().decode())
    assert keys.purpose_key("tracking-links") != tracking


def test_rekey_stores_old_credentials_stretched_and_the_api_still_reads_them(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_secret_key(monkeypatch, PASSPHRASE)
    channel_id = connect_shopify(client, world, "http://127.0.0.1:9")
    with session_factory() as session, session.begin():
        channel = session.get(Channel, channel_id)
        assert channel is not None and channel.credentials_encrypted.startswith("scrypt1$")
        credentials = {"access_token": ACCESS_TOKEN, "webhook_secret": WEBHOOK_SECRET}
        channel.credentials_encrypted = unstretched(PASSPHRASE, credentials)  # as an older release wrote
    shown = client.get(f"/v1/channels/{channel_id}", headers=world.acme)
    assert shown.status_code == 200
    assert shown.json()["credential_fields"] == ["access_token", "webhook_secret"]

    with use_database(monkeypatch, database_url):
        result = run("channels", "rekey")
    assert result.exit_code == 0, result.output
    assert "1 channels' credentials stored anew" in result.output
    with session_factory() as session:
        stored = session.scalars(select(Channel.credentials_encrypted)).one()
    assert stored.startswith("scrypt1$") and decrypt_credentials(stored) == credentials
    with use_database(monkeypatch, database_url):
        assert "0 channels' credentials stored anew" in run("channels", "rekey").output
