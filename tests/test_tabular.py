"""CSV for French spreadsheets (``dote.tabular``): formulas neutralised, columns as declared."""

from __future__ import annotations

import csv
import io

import pytest

from dote.tabular import csv_text


def test_every_cell_is_quoted_formulas_are_inert_and_missing_columns_are_empty() -> None:
    text = csv_text(["a", "b", "c"], [{"a": "=1+1", "b": "-x", "c": "ok"}, {"c": "@SUM(A1)", "a": "\tz"}])
    assert text.startswith("\ufeff") and text.endswith("\r\n")
    assert text.splitlines()[0] == '\ufeff"a";"b";"c"'
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert rows == [["a", "b", "c"], ["'=1+1", "'-x", "ok"], ["'\tz", "", "'@SUM(A1)"]]


def test_a_key_that_is_no_column_is_refused() -> None:
    with pytest.raises(ValueError, match="inconnues"):
        csv_text(["a"], [{"a": "1", "z": "2"}])
