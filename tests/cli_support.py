"""Running the `ordermesh` command in-process against a test database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from click.testing import Result
from typer.testing import CliRunner

from ordermesh import db
from ordermesh.cli import app
from ordermesh.config import get_settings

KEY_PATTERN = re.compile(r"om_[A-Za-z0-9_-]{43}")


def forget_cached_settings() -> None:
    """Settings, engine and sessionmaker are cached per process; a new database URL needs fresh ones."""
    if db.get_engine.cache_info().currsize:
        db.get_engine().dispose()
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    db.get_sessionmaker.cache_clear()


@contextmanager
def use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> Iterator[None]:
    """Point the command line at `url` (and a wide terminal, so Rich tables do not wrap) for one test."""
    monkeypatch.setenv("ORDERMESH_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "200")
    forget_cached_settings()
    try:
        yield
    finally:
        forget_cached_settings()


def run(*args: str) -> Result:
    """Invoke `ordermesh <args>` and return what it printed and its exit code."""
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def keys_in(output: str) -> list[str]:
    return KEY_PATTERN.findall(output)
