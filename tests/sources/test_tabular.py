"""Tests for spendmap.sources.tabular: finding a table in CSV and workbook files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from spendmap.errors import InputError
from spendmap.sources.tabular import normalise_header, read_table
from tests.helpers.ods import write_ods

ALIASES = {
    "identifier": "award_id",
    "amount awarded": "amount",
    "recipient org:name": "recipient",
    "funding org:name": "funder",
}
REQUIRED = ["award_id", "amount", "recipient"]


def _read(path: Path, **kw):
    kw.setdefault("preferred_sheets", ("#Awards", "Awards"))
    return read_table(path, aliases=ALIASES, required=REQUIRED, what="grants register", **kw)


def _xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Recipient Org:Name ", "recipient org:name"),
        ("Managed by: Organisation Name", "managed by:organisation name"),
        ("#Awards", "awards"),
        ("Amount\u00a0 Awarded\n", "amount awarded"),
        ("Recipient Org : Location : 0 : Geographic Code", "recipient org:location:0:geographic code"),
        (None, ""),
        (2016.0, "2016"),
        (12.5, "12.5"),
    ],
)
def test_normalise_header(text, expected):
    assert normalise_header(text) == expected


CSV_ROWS = (
    "Grants register\n"  # a title line above the header
    "\n"
    "Identifier,Amount Awarded,Recipient Org:Name,Funding Org:Name,Extra note\n"
    "A1,100,Caf\u00e9 Trust,DfE,x\n"
    "\n"
    "A2,\u00a3200,Leeds City Council,DfE,\n"
)


@pytest.mark.parametrize(
    ("encoding", "newline", "bom"),
    [("utf-8", "\n", False), ("utf-8", "\r\n", True), ("cp1252", "\r", False), ("cp1252", "\r\n", False)],
)
def test_csv_encodings_and_line_endings(tmp_path, encoding, newline, bom):
    path = tmp_path / "register.csv"
    data = CSV_ROWS.replace("\n", newline).encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    t = _read(path)
    assert t.sheet is None and t.sheet_names == []
    assert t.header_row == 3
    assert t.blank_rows_skipped == 1
    assert list(t.frame.columns) == ["award_id", "amount", "recipient", "funder", "Extra note", "source_row"]
    assert t.frame["recipient"].tolist() == ["Caf\u00e9 Trust", "Leeds City Council"]
    assert t.frame["amount"].tolist() == ["100", "\u00a3200"]
    assert t.frame["source_row"].tolist() == [4, 6]
    assert t.frame["Extra note"].tolist() == ["x", None]
    assert t.headers_found == ["Identifier", "Amount Awarded", "Recipient Org:Name", "Funding Org:Name",
                               "Extra note"]


def test_ods_preferred_sheet_after_cover_and_notes(tmp_path):
    path = write_ods(tmp_path / "reg.ods", {
        "Cover": [["Government Grants Register"], ["Identifier", "Amount Awarded"]],
        "Notes": [["Note 1"]],
        "#Awards": [["Awards 2022 to 2023"], [], [], ["Identifier", "Amount Awarded", "Recipient Org:Name"],
                    ["A1", 10.0, "X"], [" ", "", "  "], ["A2", 20.0, "Y"]],
    })
    t = _read(path)
    assert t.sheet == "#Awards"
    assert t.sheet_names == ["Cover", "Notes", "#Awards"]
    assert t.header_row == 4
    assert t.blank_rows_skipped == 1  # whitespace-only cells are blank
    assert t.frame["amount"].tolist() == [10.0, 20.0]
    assert t.frame["source_row"].tolist() == [5, 7]


def test_sheet_found_by_header_when_no_preferred_name(tmp_path):
    # The real 2016-17 sheet name has a trailing space and no 'Awards' name.
    path = _xlsx(tmp_path / "reg.xlsx", {
        "Read me": [["This workbook lists grants"], ["Identifier means the GGIS id"]],
        "GGIS_Grant_Awards_2016_to_2017 ": [["Identifier", "Amount Awarded", "Recipient Org:Name"],
                                             ["A1", 5, "Z"]],
    })
    t = _read(path)
    assert t.sheet == "GGIS_Grant_Awards_2016_to_2017 "
    assert t.header_row == 1
    assert t.frame["award_id"].tolist() == ["A1"]


def test_preferred_sheet_name_ignores_case_hash_and_spaces(tmp_path):
    path = _xlsx(tmp_path / "reg.xlsx", {
        "Other": [["Identifier", "Amount Awarded", "Recipient Org:Name", "Funding Org:Name"],
                  ["B", 1, "Q", "F"]],
        " AWARDS ": [["Identifier", "Amount Awarded", "Recipient Org:Name"], ["A", 2, "R"]],
    })
    t = _read(path)
    assert t.sheet == " AWARDS "
    assert t.frame["award_id"].tolist() == ["A"]


def test_duplicate_alias_keeps_first_and_original_header_for_second(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("Identifier,Amount Awarded,Recipient Org:Name,Amount Awarded\nA,1,R,2\n")
    t = _read(path)
    assert list(t.frame.columns) == ["award_id", "amount", "recipient", "Amount Awarded", "source_row"]
    assert t.original_headers["amount"] == "Amount Awarded"


# ----------------------------------------------------------------------------- bad input

def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        _read(tmp_path / "nope.xlsx")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.ods"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty \(0 bytes\)"):
        _read(path)


def test_csv_with_only_blank_lines(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("\n\n , ,\n")
    with pytest.raises(InputError, match="has no rows"):
        _read(path)


def test_html_saved_as_ods(tmp_path):
    path = tmp_path / "register.ods"
    path.write_text("<!DOCTYPE html><html><head><title>Sign in</title></head><body>Login</body></html>")
    with pytest.raises(InputError) as exc:
        _read(path)
    msg = str(exc.value)
    assert str(path) in msg and "HTML web page" in msg and "grants register" in msg


def test_truncated_zip(tmp_path):
    good = write_ods(tmp_path / "good.ods", {"#Awards": [["Identifier", "Amount Awarded"]] * 50})
    bad = tmp_path / "bad.ods"
    bad.write_bytes(good.read_bytes()[:300])
    with pytest.raises(InputError, match="zip archive that is not a readable spreadsheet"):
        _read(bad)


def test_zip_that_is_not_a_spreadsheet(tmp_path):
    path = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.txt", "hello")
    with pytest.raises(InputError, match="could not be read as a spreadsheet"):
        _read(path)


def test_no_sheet_with_header_lists_sheets(tmp_path):
    path = write_ods(tmp_path / "reg.ods", {"Cover": [["Register"]], "Data": [["a", "b"], [1, 2]]})
    with pytest.raises(InputError) as exc:
        _read(path)
    msg = str(exc.value)
    assert "['Cover', 'Data']" in msg and "'identifier'" in msg and str(path) in msg


def test_missing_required_columns_message(tmp_path):
    path = _xlsx(tmp_path / "reg.xlsx", {"Awards": [["Title"], ["Identifier", "Funding Org:Name", "Value"],
                                                     ["A", "F", 1]]})
    with pytest.raises(InputError) as exc:
        _read(path)
    msg = str(exc.value)
    assert str(path) in msg
    assert "sheet 'Awards'" in msg and "header on row 2" in msg
    assert "'amount'" in msg and "'recipient'" in msg and "'amount awarded'" in msg
    assert "['Identifier', 'Funding Org:Name', 'Value']" in msg


def test_preferred_sheet_without_header_falls_back_to_header_search(tmp_path):
    path = write_ods(tmp_path / "reg.ods", {
        "#Awards": [["This sheet moved: see 'Data'"]],
        "Data": [["Identifier", "Amount Awarded", "Recipient Org:Name"], ["A", 3.0, "R"]],
    })
    t = _read(path)
    assert t.sheet == "Data" and t.frame["amount"].tolist() == [3.0]


def test_csv_that_is_an_html_page(tmp_path):
    path = tmp_path / "grants.csv"
    path.write_text("<!DOCTYPE html>\n<html><body>Service unavailable</body></html>\n")
    with pytest.raises(InputError, match="has a CSV name but looks like an HTML web page"):
        _read(path)
