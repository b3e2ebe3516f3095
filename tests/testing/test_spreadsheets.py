"""The streaming ODS and XLSX writers: every kind of cell reads back through python-calamine."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from python_calamine import CalamineWorkbook

from spendmap.testing.spreadsheets import write_ods, write_xlsx

ROWS = [
    ["text", "<b>&'\"", 12.5, 3, True, date(2016, 4, 1), datetime(2017, 3, 31, 12, 30), None, ""],
    [],
    ["after a blank row"],
]


@pytest.mark.parametrize("writer", [write_ods, write_xlsx])
def test_cells_and_sheets_round_trip(tmp_path, writer):
    path = writer(tmp_path / f"book.{writer.__name__[-4:]}",
                  {"Cover & notes": [["Register"]], "#Awards": iter(ROWS)})  # rows may be a generator
    book = CalamineWorkbook.from_path(str(path))
    assert book.sheet_names == ["Cover & notes", "#Awards"]
    rows = book.get_sheet_by_name("#Awards").to_python()
    first = rows[0]
    assert first[:5] == ["text", "<b>&'\"", 12.5, 3, True]
    assert first[5] == date(2016, 4, 1)
    assert first[6] in (datetime(2017, 3, 31, 12, 30), date(2017, 3, 31))  # XLSX keeps whole days only
    assert rows[2][0] == "after a blank row"


@pytest.mark.parametrize("writer", [write_ods, write_xlsx])
def test_many_rows_stream(tmp_path, writer):
    n = 25_000  # several write batches
    path = writer(tmp_path / f"big.{writer.__name__[-4:]}", {"S": ([i, f"r{i}"] for i in range(n))})
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("S").to_python()
    assert len(rows) == n and rows[-1] == [n - 1, f"r{n - 1}"]
