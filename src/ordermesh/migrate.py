"""Schema changes go through Alembic only; this runs them for the CLI, the server and the tests.

The migrations ship inside the package (`ordermesh/migrations/`, package data), so an installed Ordermesh
migrates its database with no checkout and no alembic.ini around it. Their history has one head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from ordermesh.db import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """Alembic's configuration for the database at `url`, built in code from the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (by default the one head of the history)."""
    engine = make_engine(url, pool_size=1, lock_timeout_ms=0, statement_timeout_ms=0)
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


def downgrade(url: str, revision: str) -> None:
    engine = make_engine(url, pool_size=1, lock_timeout_ms=0, statement_timeout_ms=0)
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
    engine.dispose()
