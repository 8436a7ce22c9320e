"""The house rules that a reader relies on and a test can check: no source file over 600 lines."""

from __future__ import annotations

from pathlib import Path

import ordermesh

SOURCE = Path(ordermesh.__file__).parent
MAX_LINES = 600


def test_no_source_file_is_over_600_lines() -> None:
    long = {
        str(path.relative_to(SOURCE)): lines
        for path in SOURCE.rglob("*.py")
        if "migrations" not in path.parts and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
