"""Where the tests' payloads lie: tests/fixtures/, inside the checkout. `channels/<channel>/` holds the
published payloads of each sales channel and carrier; channels/SOURCES.md says where each came from and
under which licence."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHANNEL_FIXTURES = FIXTURES / "channels"
