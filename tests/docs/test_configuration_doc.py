"""docs/configuration.md names every setting with its environment variable and its default."""

from __future__ import annotations

import re
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from strongroom.kms.config import Settings

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"


def _rows() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"`[a-z0-9_]+`", cells[0]):
            rows[cells[0].strip("`")] = cells
    return rows


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.mark.parametrize("setting", [f.name for f in fields(Settings)])
def test_every_setting_is_documented_with_its_variable_and_default(setting: str) -> None:
    rows = _rows()
    assert setting in rows, f"docs/configuration.md has no row for {setting}"
    _, _, variable, default, meaning = rows[setting]
    assert f"STRONGROOM_{setting.upper()}" in variable
    field = next(f for f in fields(Settings) if f.name == setting)
    assert field.default is not MISSING
    value = _shown(field.default)
    if value == "":
        assert default.startswith("empty"), f"{setting}: default should read 'empty ...'"
    else:
        assert f"`{value}`" in default, f"{setting}: default is {value!r}, doc says {default!r}"
    assert meaning


def test_no_row_names_a_setting_that_does_not_exist() -> None:
    names = {f.name for f in fields(Settings)}
    assert set(_rows()) <= names
