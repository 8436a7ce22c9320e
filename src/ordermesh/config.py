"""Settings, read once from the environment (all prefixed ORDERMESH_)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from ordermesh.carriers.services import parse_closed_days, parse_overrides


def _env(name: str, default: str) -> str:
    return os.environ.get(f"ORDERMESH_{name}", default)


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL", "sqlite:///./ordermesh.db"))
    # Largest request body accepted, in bytes; larger ones answer 413 before any parsing.
    max_body_bytes: int = field(default_factory=lambda: int(_env("MAX_BODY_BYTES", str(1024 * 1024))))
    db_pool_size: int = field(default_factory=lambda: int(_env("DB_POOL_SIZE", "20")))
    # Threads per server process for request work (database calls block); see app.lifespan.
    worker_threads: int = field(default_factory=lambda: int(_env("WORKER_THREADS", "8")))
    # Order intake (see orders.batching): threads per server process that place the orders waiting,
    # each batch in one transaction; the most orders one transaction takes; and how long a busy writer
    # waits for more orders to join a batch.
    intake_writers: int = field(default_factory=lambda: int(_env("INTAKE_WRITERS", "1")))
    intake_max_batch: int = field(default_factory=lambda: int(_env("INTAKE_MAX_BATCH", "64")))
    intake_linger_ms: float = field(default_factory=lambda: float(_env("INTAKE_LINGER_MS", "3")))
    # How long a verified API key is trusted from memory before it is looked up again (revocation delay).
    api_key_cache_seconds: float = field(default_factory=lambda: float(_env("API_KEY_CACHE_SECONDS", "30")))
    webhook_timeout_seconds: float = field(default_factory=lambda: float(_env("WEBHOOK_TIMEOUT", "10")))
    webhook_max_attempts: int = field(default_factory=lambda: int(_env("WEBHOOK_MAX_ATTEMPTS", "10")))
    webhook_backoff_base_seconds: float = field(
        default_factory=lambda: float(_env("WEBHOOK_BACKOFF_BASE", "2"))
    )
    webhook_backoff_max_seconds: float = field(
        default_factory=lambda: float(_env("WEBHOOK_BACKOFF_MAX", "3600"))
    )
    # A claimed delivery whose worker died is retried once its lease runs out.
    webhook_lease_seconds: float = field(default_factory=lambda: float(_env("WEBHOOK_LEASE", "60")))
    log_json: bool = field(default_factory=lambda: _env("LOG_JSON", "1") == "1")
    # INFO logs one line per request; WARNING keeps only problems (for load tests).
    log_level: str = field(default_factory=lambda: _env("LOG_LEVEL", "INFO").upper())
    # The secret set on the EasyPost webhook: its tracker updates are accepted only when signed with it.
    easypost_webhook_secret: str = field(default_factory=lambda: _env("EASYPOST_WEBHOOK_SECRET", ""))
    # The operator's carrier service per order service level, over each carrier's defaults (JSON:
    # {"carrier": {"overnight": "service", ...}}; see carriers/services.py). Bad JSON stops start-up.
    carrier_services: dict[str, dict[str, str]] = field(
        default_factory=lambda: parse_overrides(_env("CARRIER_SERVICES", ""))
    )
    # Each carrier's own closed days, on top of weekends and the public holidays of the country it picks
    # up in (JSON: {"carrier": ["2026-12-26", ...]}); promises assume the default carrier's.
    carrier_closed_days: dict[str, frozenset[date]] = field(
        default_factory=lambda: parse_closed_days(_env("CARRIER_CLOSED_DAYS", ""))
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
