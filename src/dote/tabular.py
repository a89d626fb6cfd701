"""Tables for spreadsheets: CSV as French spreadsheets open it, formulas neutralised.

Register and feed text is untrusted: a cell starting with ``=``, ``+``, ``-``, ``@`` (or a
tab or carriage return) would run as a formula in a spreadsheet (CSV injection). Every
table this project writes (the authority's register, open data) goes through here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutral_cell(value: str) -> str:
    """``value`` made inert for a spreadsheet: a leading quote before a formula character."""
    return "'" + value if value[:1] in _FORMULA_STARTS else value


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> str:
    """CSV for French spreadsheets: UTF-8 with a BOM, semicolons, every field quoted, CRLF.

    A row's missing column is an empty cell; a key that is no column is an error."""
    names = list(columns)
    known = frozenset(names)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(names)
    starts = _FORMULA_STARTS
    for row in rows:
        if not known.issuperset(row):
            raise ValueError(f"colonnes inconnues : {sorted(set(row) - known)}")
        values = [row.get(name, "") for name in names]
        writer.writerow([f"'{v}" if v[:1] in starts else v for v in values])  # neutral_cell, inline
    return "\ufeff" + buffer.getvalue()
