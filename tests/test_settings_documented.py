"""Every ORDERMESH_* setting is in README's configuration table, so that the README stays true."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices

from ordermesh.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def _variable(name: str) -> str:
    alias = Settings.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"ORDERMESH_{name.upper()}"


def test_every_setting_has_a_row_in_the_readme() -> None:
    table = README.read_text(encoding="utf-8")
    variables = [_variable(name) for name in Settings.model_fields]
    assert len(variables) > 30
    assert [v for v in variables if f"| `{v}` |" not in table] == []
