"""Settings: every ORDERMESH_* environment variable, read through one object when first used.

`get_settings()` reads the environment once per process (tests clear its cache after changing it). A field
whose variable name is not `ORDERMESH_` + the field's name in capitals says its name with `_env(...)`;
Python code (tests, benches) may set any field by its name: `Settings(webhook_max_attempts=1)`.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ordermesh.carrier_settings import parse_closed_days, parse_overrides


def _env(name: str, default: Any, **constraints: Any) -> Any:
    """A field read from ORDERMESH_{name} (and settable in code by its field name)."""
    return Field(default, validation_alias=AliasChoices(f"ORDERMESH_{name}"), **constraints)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORDERMESH_", frozen=True, populate_by_name=True, extra="ignore"
    )

    database_url: str = "sqlite:///./ordermesh.db"
    # Largest request body accepted, in bytes; larger ones answer 413 before any parsing.
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    db_pool_size: int = Field(20, gt=0)
    # Bounds on waiting for the database (PostgreSQL applies the first two to every statement of every
    # transaction; 0 turns one off): a row lock held elsewhere, any one statement, and a new connection
    # (or a free one from the pool).
    db_lock_timeout_ms: int = Field(2000, ge=0)
    db_statement_timeout_ms: int = Field(30000, ge=0)
    db_connect_timeout_seconds: int = _env("DB_CONNECT_TIMEOUT", 5, gt=0)
    # A request not answered within this many seconds answers 503 (with Retry-After) and changes
    # nothing, even should its work finish later (see ordermesh.deadlines); 0 turns it off.
    request_deadline_seconds: float = _env("REQUEST_DEADLINE", 10, ge=0)
    # /readyz answers 503 when the database does not answer a SELECT 1 within this many seconds.
    ready_timeout_seconds: float = _env("READY_TIMEOUT", 2, gt=0)
    # The Retry-After of a 503 (deadline passed, database unreachable or busy), in seconds.
    retry_after_seconds: int = _env("RETRY_AFTER", 2, ge=0)
    # Threads per server process for request work (database calls block); see app.lifespan.
    worker_threads: int = Field(8, gt=0)
    # Order intake (see orders.batching): threads per server process that place the orders waiting,
    # each batch in one transaction; the most orders one transaction takes; and how long a busy writer
    # waits for more orders to join a batch.
    intake_writers: int = Field(1, gt=0)
    intake_max_batch: int = Field(64, gt=0)
    intake_linger_ms: float = Field(3, ge=0)
    # How long a verified API key is trusted from memory before it is looked up again (revocation delay).
    api_key_cache_seconds: float = Field(30, ge=0)
    log_json: bool = True
    # INFO logs one line per request; WARNING keeps only problems (for load tests).
    log_level: str = "INFO"
    # The server's secret (see ordermesh.keys): encrypts channel credentials at rest and signs tracking
    # links. A Fernet key, or a passphrase (stretched with scrypt); empty: a public development key.
    secret_key: str = ""
    # Outbound calls (webhooks, channels, carriers) go to public addresses only, unless the operator allows
    # private ones (development, tests with fakes on 127.0.0.1) or names hosts that may be private
    # ("erp.internal,10.0.0.5:8443"). See ordermesh.outbound.
    outbound_allow_private: bool = False
    outbound_allow_hosts: str = ""
    # Per API key: requests a second (0: no limit) and how many may come at once; operator keys are not
    # limited unless API_RATE_LIMIT_OPERATOR=1. Over the limit: 429 with Retry-After. Counted per process.
    api_rate_limit: float = Field(0, ge=0)
    api_rate_burst: int = Field(0, ge=0)
    api_rate_limit_operator: bool = False
    # The public tracking lookup: attempts a minute per client address (0: no limit), all at once at most.
    tracking_lookups_per_minute: float = Field(30, ge=0)
    # The dashboard: how long a sign-in lasts; sign-in attempts a minute per email and per client address
    # (beyond them 429); session cookies marked Secure even over plain HTTP (behind a TLS proxy); how
    # long an invitation link stays valid.
    session_hours: float = Field(12, gt=0)
    sign_in_attempts_per_minute: float = Field(10, gt=0)
    secure_cookies: bool = False
    invite_hours: float = Field(72, gt=0)
    # The dashboard's live updates (server-sent events at /live): how often a stream reads the latest
    # change from the database, and how long one stream lasts before the browser reconnects (resuming
    # from the last change it saw).
    live_poll_seconds: float = Field(1, gt=0, le=60)
    live_stream_seconds: float = Field(300, gt=0)
    # The secret set on the EasyPost webhook: its tracker updates are accepted only when signed with it.
    easypost_webhook_secret: str = ""
    # EasyPost's API (SCAN forms when a manifest of the `easypost` carrier closes): the API key (empty:
    # off) and where the API is.
    easypost_api_key: str = ""
    easypost_api_url: str = Field("https://api.easypost.com", pattern=r"^https?://[^\s/]+(/\S*)?$")
    # The operator's carrier service per order service level, over each carrier's defaults (JSON:
    # {"carrier": {"overnight": "service", ...}}; see carrier_settings.py and carriers/services.py).
    carrier_services: Annotated[dict[str, dict[str, str]], NoDecode] = {}
    # Each carrier's own closed days, on top of weekends and the public holidays of the country it picks
    # up in (JSON: {"carrier": ["2026-12-26", ...]}); promises assume the default carrier's.
    carrier_closed_days: Annotated[dict[str, frozenset[date]], NoDecode] = {}

    # Outgoing webhooks (events.worker).
    webhook_timeout_seconds: float = _env("WEBHOOK_TIMEOUT", 10, gt=0)
    webhook_max_attempts: int = _env("WEBHOOK_MAX_ATTEMPTS", 10, gt=0)
    webhook_backoff_base_seconds: float = _env("WEBHOOK_BACKOFF_BASE", 2, ge=0)
    webhook_backoff_max_seconds: float = _env("WEBHOOK_BACKOFF_MAX", 3600, ge=0)
    # A claimed delivery whose worker died is retried once its lease runs out.
    webhook_lease_seconds: float = _env("WEBHOOK_LEASE", 60, gt=0)

    # Calls to the channels: stock, shipments, acknowledgements (channels.worker).
    channel_timeout_seconds: float = _env("CHANNEL_TIMEOUT", 30, gt=0)
    channel_max_attempts: int = _env("CHANNEL_MAX_ATTEMPTS", 8, gt=0)
    channel_backoff_base_seconds: float = _env("CHANNEL_BACKOFF_BASE", 2, ge=0)
    channel_backoff_max_seconds: float = _env("CHANNEL_BACKOFF_MAX", 900, ge=0)
    channel_lease_seconds: float = _env("CHANNEL_LEASE", 60, gt=0)
    # A listing's stock is pushed at most once in this many seconds; the figure sent is the latest.
    channel_stock_interval_seconds: float = _env("CHANNEL_STOCK_INTERVAL", 1, ge=0)
    # Outbox messages are read past this age only once: a transaction open longer could be missed.
    channel_feed_grace_seconds: float = _env("CHANNEL_FEED_GRACE", 30, ge=0)

    # The nightly forecast job (planning.jobs, `ordermesh planning-worker`): the hour (UTC) each merchant's
    # forecasts are recomputed, and how long a worker owns a claimed job (another takes it over after).
    planning_hour: int = _env("PLANNING_HOUR", 2, ge=0, le=23)
    planning_lease_seconds: float = _env("PLANNING_LEASE", 1800, gt=0)

    # Where Ordermesh is reached from outside (https://orders.example.com): Shopify sends merchants back
    # to it after an install and posts its webhooks to it.
    public_url: str = ""
    # Ordermesh's public Shopify app (Dev Dashboard / Partners): installs by the authorization-code grant.
    shopify_client_id: str = ""
    shopify_client_secret: str = ""
    shopify_scopes: str = (
        "read_orders,write_orders,read_products,read_inventory,write_inventory,read_locations,"
        "read_merchant_managed_fulfillment_orders,write_merchant_managed_fulfillment_orders"
    )

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("carrier_services", mode="before")
    @classmethod
    def _carrier_services(cls, value: Any) -> Any:
        return parse_overrides(value) if isinstance(value, str) else value

    @field_validator("carrier_closed_days", mode="before")
    @classmethod
    def _carrier_closed_days(cls, value: Any) -> Any:
        return parse_closed_days(value) if isinstance(value, str) else value


@lru_cache
def get_settings() -> Settings:
    return Settings()
