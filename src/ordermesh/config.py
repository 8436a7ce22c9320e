"""Settings, read once from the environment (all prefixed ORDERMESH_)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache


def _env(name: str, default: str) -> str:
    return os.environ.get(f"ORDERMESH_{name}", default)


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL", "sqlite:///./ordermesh.db"))
    # Largest request body accepted, in bytes; larger ones answer 413 before any parsing.
    max_body_bytes: int = field(default_factory=lambda: int(_env("MAX_BODY_BYTES", str(1024 * 1024))))
    db_pool_size: int = field(default_factory=lambda: int(_env("DB_POOL_SIZE", "20")))
    # Bounds on waiting for the database (PostgreSQL applies the first two to every statement of every
    # transaction; 0 turns one off): a row lock held elsewhere, any one statement, and a new connection
    # (or a free one from the pool).
    db_lock_timeout_ms: int = field(default_factory=lambda: int(_env("DB_LOCK_TIMEOUT_MS", "2000")))
    db_statement_timeout_ms: int = field(
        default_factory=lambda: int(_env("DB_STATEMENT_TIMEOUT_MS", "30000"))
    )
    db_connect_timeout_seconds: int = field(default_factory=lambda: int(_env("DB_CONNECT_TIMEOUT", "5")))
    # A request not answered within this many seconds answers 503 (with Retry-After) and changes
    # nothing, even should its work finish later (see ordermesh.deadlines); 0 turns it off.
    request_deadline_seconds: float = field(default_factory=lambda: float(_env("REQUEST_DEADLINE", "10")))
    # /readyz answers 503 when the database does not answer a SELECT 1 within this many seconds.
    ready_timeout_seconds: float = field(default_factory=lambda: float(_env("READY_TIMEOUT", "2")))
    # The Retry-After of a 503 (deadline passed, database unreachable or busy), in seconds.
    retry_after_seconds: int = field(default_factory=lambda: int(_env("RETRY_AFTER", "2")))
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


@lru_cache
def get_settings() -> Settings:
    return Settings()
