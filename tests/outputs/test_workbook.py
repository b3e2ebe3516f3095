"""The council workbook, opened back with openpyxl (and calamine) and checked cell by cell."""

from __future__ import annotations

import datetime as dt
import zipfile

import numpy as np
import pandas as pd
import pytest
import xlsxwriter
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from spendmap.outputs import workbook
from spendmap.outputs.workbook import GBP, GBP_PENCE, INT, SHARE

from .conftest import FORMULA, HOSTILE, RUTLAND, WAKEFIELD, make_awards

SHEETS = ["Summary", "Awards", "Small grants", "Duplication", "Duplication awards", "CRA allocation", "Notes"]


@pytest.fixture(scope="module")
def wakefield_book(rendered_site):
    _, result, tables = rendered_site
    path = result.profiles[WAKEFIELD].parent / "wakefield_grant_profile.xlsx"
    return load_workbook(path), path, tables


def test_sheets_and_layout(wakefield_book):
    wb, _, _ = wakefield_book
    assert wb.sheetnames == SHEETS
    for name in SHEETS:
        ws = wb[name]
        assert ws.freeze_panes == "A2", name
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), name
        assert ws["A1"].font.bold, name
    aw = wb["Awards"]
    assert aw.auto_filter.ref == "A1:T17"  # 20 columns, header + 16 awards
    # Widths in characters; the file stores Excel's own figure for them (36 characters: 36.71).
    assert int(aw.column_dimensions["I"].width) == 36  # recipient
    assert int(aw.column_dimensions["G"].width) == 40  # scheme


def test_summary_cells(wakefield_book):
    wb, _, tables = wakefield_book
    ws = wb["Summary"]
    rows = {ws.cell(r, 1).value: ws.cell(r, 2) for r in range(2, ws.max_row + 1)}
    assert [ws["A1"].value, ws["B1"].value] == ["Figure", "Value"]
    assert rows["Council"].value == "Wakefield"
    assert rows["GSS code"].value == WAKEFIELD
    assert rows["Financial year"].value == "2016-17"
    assert rows["Grant awards"].value == 16 and rows["Grant awards"].number_format == INT
    assert rows["Grant schemes"].value == 5
    assert rows["Recipients"].value == 15
    assert rows["Total grants"].value == 3_723_500 and rows["Total grants"].number_format == GBP
    small = rows["Share of awards under £100k (all recipients)"]
    assert small.value == pytest.approx(10 / 16) and small.number_format == SHARE
    assert rows["Share of awards under £100k (the council itself)"].value == 0
    assert rows["Duplication findings"].value == 2
    cra = tables.cra_allocation
    cra = cra[cra["la_code"] == WAKEFIELD]
    assert rows["CRA identifiable spending allocated"].value == pytest.approx(cra["allocated_gbp"].sum())
    label = "CRA per head (the region's, by construction)"
    assert rows[label].value == pytest.approx(cra["per_head_gbp"].sum())
    assert rows[label].number_format == GBP_PENCE


def test_award_rows_cell_by_cell(wakefield_book):
    wb, _, _ = wakefield_book
    ws = wb["Awards"]
    header = [c.value for c in ws[1]]
    assert header[:9] == [
        "Award id",
        "Award date",
        "Department",
        "Funder (as published)",
        "Managed by",
        "Scheme code",
        "Scheme",
        "Award title",
        "Recipient",
    ]
    expected = make_awards()
    expected = expected[expected["la_code"] == WAKEFIELD].reset_index(drop=True)
    col = {h: i + 1 for i, h in enumerate(header)}
    for r, award in expected.iterrows():
        row = r + 2
        assert ws.cell(row, col["Award id"]).value == award["award_id"]
        date = ws.cell(row, col["Award date"])
        assert date.value == dt.datetime.combine(award["award_date"].date(), dt.time())
        assert date.number_format == "yyyy-mm-dd"
        assert ws.cell(row, col["Department"]).value == award["department"]
        assert ws.cell(row, col["Scheme"]).value == award["scheme_title"]
        assert ws.cell(row, col["Recipient"]).value == award["recipient_name"]  # verbatim, incl. hostile
        assert ws.cell(row, col["Managed by"]).value is None
        amount = ws.cell(row, col["Amount"])
        assert amount.value == award["amount_gbp"] and amount.data_type == "n"
        assert amount.number_format == GBP_PENCE
        assert ws.cell(row, col["To the council"]).value == ("yes" if award["is_council_recipient"] else "no")
        assert ws.cell(row, col["Source row"]).value == award["source_row"]
    assert ws.max_row == 17


def test_formula_like_text_is_stored_as_text(wakefield_book):
    wb, path, _ = wakefield_book
    ws = wb["Awards"]
    recipients = {c.value: c for c in ws["I"][1:]}
    for text in (FORMULA, "+44 Cycling CIC", "@Law Centre", "-Minus Trust"):
        cell = recipients[text]
        assert cell.data_type == "s", text  # never "f": it cannot run as a formula
        assert cell.quotePrefix, text
    assert recipients[HOSTILE].data_type == "s"
    # The duplication awards sheet lists the same names, one award per row, as text.
    dup = wb["Duplication awards"]
    names = {c.value: c for c in dup["E"][1:]}
    assert names[FORMULA].data_type == "s" and names[FORMULA].quotePrefix
    # An independent reader sees text, not a formula.
    book = CalamineWorkbook.from_path(str(path))
    rows = book.get_sheet_by_name("Awards").to_python()
    assert FORMULA in [r[8] for r in rows]


def test_other_sheets(wakefield_book):
    wb, _, tables = wakefield_book
    sg = wb["Small grants"]
    assert [c.value for c in sg[2]] == ["All recipients located in the council area", 16, 10, 0.625, 100_000]
    assert [c.value for c in sg[3]] == ["The council itself", 2, 0, 0, 100_000]
    assert sg["D2"].number_format == SHARE and sg["E2"].number_format == GBP
    dup = wb["Duplication"]
    assert dup.max_row == 3
    assert dup.cell(2, 2).value.startswith("3 DfT schemes to ")
    assert [dup.cell(2, c).value for c in (3, 4, 5, 9, 10)] == [
        "transport",
        "Within a department",
        "DfT",
        11,
        3_453_500,
    ]
    # Each finding's awards, one per row, adding up to the finding.
    per_award = wb["Duplication awards"]
    first = [per_award.cell(r, 8).value for r in range(2, per_award.max_row + 1)
             if per_award.cell(r, 1).value == 1]
    aw = tables.awards
    dft = aw[(aw["la_code"] == WAKEFIELD) & (aw["department"] == "DfT") & (aw["policy_area"] == "transport")]
    assert len(first) == len(dft) == 11 and sum(first) == pytest.approx(dft["amount_gbp"].sum())
    cra = wb["CRA allocation"]
    values = [cra.cell(r, 3).value for r in range(2, cra.max_row + 1)]
    expected = tables.cra_allocation[tables.cra_allocation["la_code"] == WAKEFIELD]["allocated_gbp"]
    assert sorted(values, reverse=True) == values  # largest first
    assert sum(values) == pytest.approx(expected.sum())
    assert cra["C2"].number_format == GBP
    notes = wb["Notes"]
    text = "\n".join(
        f"{notes.cell(r, 1).value}: {notes.cell(r, 2).value}" for r in range(2, notes.max_row + 1)
    )
    assert "HM Treasury, Country and Regional Analysis 2018: Open Government Licence v3.0" in text
    assert "Small-grant threshold: Awards under £100k" in text
    assert "Population: ONS mid-2020 estimates" in text


def test_council_without_awards_workbook(rendered_site):
    _, result, _ = rendered_site
    wb = load_workbook(result.profiles[RUTLAND].parent / "rutland_grant_profile.xlsx")
    ws = wb["Awards"]
    assert ws.max_row == 3 and ws["A3"].value == "No grant awards were placed in Rutland."
    notes = wb["Notes"]
    assert notes["A2"].value == "No awards"
    summary = {
        wb["Summary"].cell(r, 1).value: wb["Summary"].cell(r, 2).value
        for r in range(2, wb["Summary"].max_row + 1)
    }
    assert summary["Grant awards"] == 0 and summary["Total grants"] == 0
    assert summary["CRA identifiable spending allocated"] > 0


def test_workbook_frame_with_pandas(wakefield_book):
    """The Awards sheet read as a table sums to the council's net total."""
    _, path, _ = wakefield_book
    df = pd.read_excel(path, sheet_name="Awards", engine="calamine")
    assert len(df) == 16 and df["Amount"].sum() == 3_723_500


# --- the row XML against XlsxWriter's own cell writer -------------------------------------------------

ODD_TEXT = [
    "plain", FORMULA, "+44", "-x", "@x", "\tTab first", "\rCR first", "a\x01b\x1fc", "_x0041_ literal",
    " leading", "trailing ", "a & b < c > d \"q\" 'a'", "non\ufffechar\uffff", "line\nbreak", "x" * 40_000,
    "😀" * 20_000, "", "£ é ü", None, pd.NA, float("nan"), 1, True, 2.5,
]


def _odd_frame() -> pd.DataFrame:
    """Every kind of value a workbook column meets: hostile and odd text, missing values of each sort,
    numbers as floats, ints, numpy ints, bools and text, dates of every type."""
    n = len(ODD_TEXT)

    def cycle(values: list) -> list:
        return [values[i % len(values)] for i in range(n)]

    numbers = [1.5, float("nan"), float("inf"), -float("inf"), None, pd.NA, np.int64(3), "12", True,
               0.1 + 0.2, -7.25, 1e17, 2.5, 3.5]
    dates = [pd.Timestamp("2016-07-01"), pd.NaT, dt.date(2017, 3, 31), None, "2016-13-45",
             dt.datetime(2016, 5, 4, 12, 30, tzinfo=dt.UTC), pd.Timestamp("2017-01-01 06:00", tz="UTC")]
    return pd.DataFrame({
        "award_id": [f"id-{i}" for i in range(n)],
        "award_date": pd.Series(cycle(dates), dtype=object),
        "department": ODD_TEXT,
        "title": pd.Series(ODD_TEXT[::-1], dtype="string"),
        "recipient_name": pd.Series(ODD_TEXT, dtype=object),
        "is_council_recipient": pd.Series(cycle([True, False, None, np.True_]), dtype=object),
        "amount_gbp": pd.Series(cycle(numbers), dtype=object),
        "source_row": pd.Series(cycle(numbers), dtype=object),
        "geo_method": pd.Series(cycle(["postcode", None]), dtype="string"),
    })


def _reference_sheet(wb, formats, name, rows, widths, n_rows) -> None:
    """A sheet written cell by cell through XlsxWriter's public writers (the writer before row XML)."""
    ws = wb.add_worksheet(name)
    for i, width in enumerate(widths):
        ws.set_column(i, i, width)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(n_rows, 1), len(widths) - 1)
    for r, cells in enumerate(rows):
        for c, (value, fmt) in enumerate(cells):
            style = formats[fmt] if fmt else None
            if value is None:
                continue
            if isinstance(value, str):
                ws.write_string(r, c, value, style)
            elif isinstance(value, dt.date):
                ws.write_datetime(r, c, value, style)
            else:
                ws.write_number(r, c, value, style)


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_rows_match_xlsxwriter_cell_writer(tmp_path):
    """The row XML written directly is byte for byte what XlsxWriter's write_string / write_number /
    write_datetime write for the same cells (so an XlsxWriter upgrade that changes it fails here)."""
    df = _odd_frame()
    pairs = [("Label", v, "text") for v in ODD_TEXT] + [("n", v, "int") for v in (1.4, None, 7)]
    paths = {}
    for how in ("rows", "cells"):
        path = paths[how] = tmp_path / f"{how}.xlsx"
        # The reference: XlsxWriter's constant-memory mode, whose row XML the rows reproduce.
        options = workbook._OPTIONS if how == "rows" else {**workbook._OPTIONS, "in_memory": False,
                                                           "constant_memory": True}
        wb = xlsxwriter.Workbook(str(path), options)
        wb.set_properties({"created": dt.datetime(2020, 1, 1)})
        formats = workbook._formats(wb)
        workbook._style_attributes(formats)  # the format numbering both writers share
        cols = workbook.AWARD_SHEET_COLUMNS
        if how == "rows":
            workbook._table_sheet(wb, formats, "Awards", df, cols, "none")
            workbook._table_sheet(wb, formats, "Empty", df.iloc[0:0], cols, "No rows.")
            workbook._pairs_sheet(wb, formats, "Notes", ("Note", "Detail"), [28, 110], pairs, wrap=True)
        else:
            header = [(c.header, "header") for c in cols]
            rows = [header] + [
                [workbook._cell(df[c.name].iloc[r], c.kind) if c.name in df else (None, None) for c in cols]
                for r in range(len(df))]
            widths = [c.width for c in cols]
            _reference_sheet(wb, formats, "Awards", rows, widths, len(df))
            _reference_sheet(wb, formats, "Empty", [header, [], [workbook._text("No rows.")]], widths, 0)
            notes = [[("Note", "header"), ("Detail", "header")]] + [
                [workbook._text(label), workbook._cell(v, kind, wrap=kind == "text")]
                for label, v, kind in pairs]
            _reference_sheet(wb, formats, "Notes", notes, [28, 110], len(pairs))
        wb.close()
    rows, cells = _members(paths["rows"]), _members(paths["cells"])
    assert rows.keys() == cells.keys()
    for name in rows:
        assert rows[name] == cells[name], name
    # And read back: the long text cut at Excel's limit, formulas as quoted text, blanks blank.
    ws = load_workbook(paths["rows"])["Awards"]
    recipients = [ws.cell(r, 9).value for r in range(2, len(df) + 2)]
    assert recipients[1] == FORMULA and ws.cell(3, 9).quotePrefix and ws.cell(3, 9).data_type == "s"
    assert recipients[7] == "abc"  # XML-illegal control characters dropped
    assert len(recipients[14]) == 32_767 and recipients[18] is None and recipients[21] == "1"
    assert [ws.cell(r, 17).value for r in range(2, 7)] == [1.5, None, None, None, None]


def test_rich_text_lookalike_stays_text(tmp_path):
    """XlsxWriter would write a text shaped like "<r>...</r>" as raw rich-text XML; here it is escaped
    like any other text, so the cell shows exactly what the data says."""
    text = "<r><t>Bold claim</t></r>"
    path = tmp_path / "rich.xlsx"
    wb = xlsxwriter.Workbook(str(path), workbook._OPTIONS)
    formats = workbook._formats(wb)
    workbook._table_sheet(wb, formats, "Awards", pd.DataFrame({"recipient_name": [text]}),
                          workbook.AWARD_SHEET_COLUMNS, "none")
    wb.close()
    assert load_workbook(path)["Awards"]["I2"].value == text
