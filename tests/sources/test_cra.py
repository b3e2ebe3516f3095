"""The CRA database reader: the bundled 2018 edition and crafted files in other editions' layouts."""

from __future__ import annotations

import csv

import numpy as np
import openpyxl
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from spendmap.errors import InputError
from spendmap.paths import BUNDLED_CRA, reference_path
from spendmap.sources.cra import (
    COUNTRY_LEVEL,
    CRA_LONG_COLUMNS,
    NON_REGIONAL,
    NOT_IDENTIFIABLE,
    OUTSIDE_UK,
    REGIONAL,
    identifiable_regional,
    normalise_region,
    read_cra,
)

YEARS = ["2013-14", "2014-15", "2015-16", "2016-17", "2017-18"]


@pytest.fixture(scope="module")
def bundled():
    return read_cra()


@pytest.fixture(scope="module")
def raw_sheet() -> pd.DataFrame:
    """The data sheet read directly with calamine, independently of the reader."""
    rows = (
        CalamineWorkbook.from_path(str(reference_path(*BUNDLED_CRA)))
        .get_sheet_by_name("CRA 2018 database")
        .to_python()
    )
    return pd.DataFrame(rows[1:], columns=rows[0])


# --- the bundled edition ------------------------------------------------------------------------


def test_bundled_edition_shape(bundled, raw_sheet):
    assert bundled.sheet == "CRA 2018 database"
    assert bundled.header_row == 1
    assert bundled.units == "thousands"  # stated in the Metadata sheet: "£'000s"
    assert bundled.rows_read == len(raw_sheet) == 21_135
    assert bundled.years == YEARS
    assert len(bundled.frame) == 21_135 * 5
    assert bundled.rejects.empty
    assert list(bundled.frame.columns) == CRA_LONG_COLUMNS
    assert bundled.frame["region_code"].isna().sum() == (1576 + 274) * 5  # OUTSIDE UK + NON-REGIONAL


@pytest.mark.parametrize("fy", YEARS)
def test_bundled_totals_reconcile_with_the_sheet(bundled, raw_sheet, fy):
    s = bundled.summary()["totals_gbp_by_year"][fy]
    region = raw_sheet["NUTS Region"]
    ident = raw_sheet["ID/non-ID"] == "ID"
    regional = ~region.isin(["OUTSIDE UK", "NON-REGIONAL"])
    col = raw_sheet[fy].astype(float)
    assert s["allocated_identifiable_regional"] == round(col[ident & regional].sum() * 1000, 2)
    assert s["not_allocated_outside_uk"] == round(col[ident & (region == "OUTSIDE UK")].sum() * 1000, 2)
    assert s["not_allocated_non_identifiable"] == round(col[~ident].sum() * 1000, 2)
    assert sum(s.values()) == pytest.approx(col.sum() * 1000, abs=0.01)
    assert set(s) == {
        "allocated_identifiable_regional",
        "not_allocated_outside_uk",
        "not_allocated_non_identifiable",
    }


def test_bundled_2016_17_identifiable_figure(bundled):
    # £600.3bn identifiable spend in the UK's regions and nations (computed above from the sheet).
    assert (
        bundled.summary()["totals_gbp_by_year"]["2016-17"]["allocated_identifiable_regional"]
        == 600_311_868_000
    )


def test_bundled_region_labels(bundled):
    f = bundled.frame
    yorks = f[f["region_label"].str.contains("Yorkshire")]
    assert set(yorks["region_label"]) == {
        "ENGLAND_Yorkshire and the Humber",
        "ENGLAND_Yorkshire and The Humber",
    }
    assert set(yorks["region_code"]) == {"E12000003"}
    assert set(f.loc[f["region_label"] == "ENGLAND_East", "region_code"]) == {"E12000006"}
    assert set(f["region_code"].dropna()) == {f"E1200000{i}" for i in range(1, 10)} | {
        "S92000003",
        "W92000004",
        "N92000002",
    }
    assert len(identifiable_regional(f)) == (21_135 - 1576 - 274) * 5


@pytest.mark.parametrize(
    ("label", "code", "category"),
    [
        ("ENGLAND_North East", "E12000001", REGIONAL),
        ("North East", "E12000001", REGIONAL),
        ("Yorkshire and the Humber", "E12000003", REGIONAL),
        ("Yorkshire and The Humber", "E12000003", REGIONAL),
        ("Yorkshire and Humberside", "E12000003", REGIONAL),
        ("Yorkshire & the Humber", "E12000003", REGIONAL),
        ("ENGLAND_East", "E12000006", REGIONAL),
        ("Eastern", "E12000006", REGIONAL),
        ("East of England", "E12000006", REGIONAL),
        ("  london ", "E12000007", REGIONAL),
        ("SCOTLAND", "S92000003", REGIONAL),
        ("WALES", "W92000004", REGIONAL),
        ("NORTHERN IRELAND", "N92000002", REGIONAL),
        ("OUTSIDE UK", None, OUTSIDE_UK),
        ("Outside the UK", None, OUTSIDE_UK),
        ("NON-REGIONAL", None, NON_REGIONAL),
        ("Not Identifiable", None, NOT_IDENTIFIABLE),
        ("UK", None, COUNTRY_LEVEL),
        ("England", None, COUNTRY_LEVEL),
        ("Mercia", None, None),
    ],
)
def test_normalise_region(label, code, category):
    assert normalise_region(label) == (code, category)


# --- crafted files in other editions' layouts ---------------------------------------------------

# (department, function, subfunction, ID, CAP/CUR, sector, region, 2016-17, 2017-18)
ROWS = [
    (
        "Department for Transport",
        "4. of which: transport",
        "4.5 of which: railway",
        "ID",
        "CAP",
        "CG",
        "ENGLAND_North East",
        1000.5,
        2000,
    ),
    (
        "Department for Transport",
        "4. of which: transport",
        "4.5 of which: railway",
        "ID",
        "CUR",
        "CG",
        "Yorkshire and the Humber",
        300,
        None,
    ),
    (
        "Department for Education",
        "9. Education",
        "9.2 Secondary education",
        "ID",
        "CUR",
        "LG",
        "SCOTLAND",
        1234.5,
        -10,
    ),
    (
        "Department for Education",
        "9. Education",
        "9.2 Secondary education",
        "ID",
        "CUR",
        "CG",
        "OUTSIDE UK",
        50,
        60,
    ),
    (
        "HM Treasury",
        "1. of which: public and common services",
        "1.3 General services",
        "Non-ID",
        "CUR",
        "CG",
        "NON-REGIONAL",
        700,
        800,
    ),
]
EXPECTED_THOUSANDS = {  # (source_row offset, fy) -> £
    (0, "2016-17"): 1_000_500.0,
    (0, "2017-18"): 2_000_000.0,
    (1, "2016-17"): 300_000.0,
    (1, "2017-18"): 0.0,
    (2, "2016-17"): 1_234_500.0,
    (2, "2017-18"): -10_000.0,
    (3, "2016-17"): 50_000.0,
    (3, "2017-18"): 60_000.0,
    (4, "2016-17"): 700_000.0,
    (4, "2017-18"): 800_000.0,
}

VARIANTS = {
    "2018": [
        "Department Name",
        "Organisation Name",
        "CRA Segment Code",
        "CRA Segment Name",
        "COFOG Level 0",
        "HMT Function",
        "COFOG Level 1",
        "HMT Subfunction",
        "ID/non-ID",
        "CAP or CUR",
        "CG, LG, PC, BOE",
        "Allocated by HMT or DEPT",
        "NUTS Region",
        "Country",
    ],
    "itl": [
        "Department",
        "Organisation",
        "CRA Segment",
        "CRA Segment Description",
        "COFOG Level 0",
        "HMT Function",
        "COFOG Level 1",
        "HMT Subfunction",
        "ID/non-ID",
        "CAP or CUR",
        "CG, LG, PC, BOE, PSP",
        "Allocated by HMT or DEPT",
        "ITL Region",
        "Country",
    ],
    "older": [
        "Department Name",
        "Organisation Name",
        "CRA Segment",
        "CRA Segment Name",
        "COFOG Level 0",
        "HMT Function",
        "COFOG Level 1",
        "HMT Subfunction",
        "ID/non-ID",
        "CAP or CUR",
        "CG, LG or PC",
        "Allocated by HMT or DEPT",
        "NUTS Region",
        "Country",
    ],
}


def _as_text(v):
    """A value as a later edition stores it: text with thousands separators."""
    if v is None:
        return ""
    return f"{v:,.1f}" if isinstance(v, float) else f"{v:,}"


def _rows(headers, *, text_values: bool, years=("2016-17", "2017-18"), values=None):
    out = [list(headers) + list(years)]
    for i, (dept, func, sub, ident, capcur, sector, region, *vals) in enumerate(ROWS):
        vals = values[i] if values else vals
        cells = [
            dept,
            dept,
            f"SEG{i}",
            f"S{i}-SEGMENT",
            func,
            func,
            sub,
            sub,
            ident,
            capcur,
            sector,
            "DEPT",
            region,
            region.split("_")[0],
        ]
        cells += [_as_text(v) if text_values else v for v in vals]
        out.append(cells)
    return out


def _write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(["" if c is None else c for c in r] for r in rows)
    return path


def _write_xlsx(path, rows, *, metadata="Levels of expenditure shown are in £'000s.", title_rows=0):
    wb = openpyxl.Workbook()
    meta = wb.active
    meta.title = "Metadata"
    meta["A1"] = "Expenditure 2016-17 to 2017-18"
    if metadata:
        meta["A2"] = metadata
    meta["A4"] = "Department name"
    meta["C4"] = "The part of the public sector responsible for the spending."
    ws = wb.create_sheet("CRA 2021 database")
    for _ in range(title_rows):
        ws.append(["Country and regional analysis"])
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def _values(table):
    f = table.frame
    return {
        (int(r) - table.header_row - 1, fy): v
        for r, fy, v in zip(f["source_row"], f["fy"], f["value_gbp"], strict=True)
    }


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("text_values", [False, True])
def test_header_variants(tmp_path, variant, fmt, text_values):
    rows = _rows(VARIANTS[variant], text_values=text_values)
    if fmt == "csv":
        path = _write_csv(tmp_path / "cra.csv", rows)
    else:
        path = _write_xlsx(tmp_path / "cra.xlsx", rows, title_rows=2)
    table = read_cra(path)
    assert table.sheet == (None if fmt == "csv" else "CRA 2021 database")
    assert table.header_row == (1 if fmt == "csv" else 3)
    assert table.units == "thousands"
    assert table.years == ["2016-17", "2017-18"]
    assert _values(table) == EXPECTED_THOUSANDS
    assert table.blank_cells == 1
    f = table.frame
    assert f["region_code"].fillna("-").tolist()[:5] == ["E12000001", "E12000003", "S92000003", "-", "-"]
    assert f["region_category"].tolist()[:5] == [REGIONAL, REGIONAL, REGIONAL, OUTSIDE_UK, NON_REGIONAL]
    assert f["is_identifiable"].tolist()[:5] == [True, True, True, True, False]
    assert f["sector"].tolist()[:3] == ["CG", "CG", "LG"]
    assert f["segment_name"].iloc[0] == "S0-SEGMENT"
    assert f["subfunction"].iloc[0] == "4.5 of which: railway"
    s = table.summary()["totals_gbp_by_year"]
    assert s["2016-17"] == {
        "allocated_identifiable_regional": 2_535_000.0,
        "not_allocated_outside_uk": 50_000.0,
        "not_allocated_non_identifiable": 700_000.0,
    }


def test_millions_units(tmp_path):
    path = _write_csv(tmp_path / "cra_millions.csv", _rows(VARIANTS["itl"], text_values=True))
    table = read_cra(path, units="millions")
    assert table.units == "millions"
    assert _values(table) == {k: v * 1000 for k, v in EXPECTED_THOUSANDS.items()}


def test_units_contradicting_the_metadata_are_refused(tmp_path):
    path = _write_xlsx(tmp_path / "cra.xlsx", _rows(VARIANTS["2018"], text_values=False))
    with pytest.raises(InputError, match=r"declared to be in £ millions.*notes state £ thousands"):
        read_cra(path, units="millions")
    millions = _write_xlsx(
        tmp_path / "cra_m.xlsx",
        _rows(VARIANTS["2018"], text_values=False),
        metadata="All figures are in £ million.",
    )
    assert read_cra(millions).units == "millions"
    assert read_cra(millions).frame["value_gbp"].iloc[0] == 1_000_500_000.0


def test_pennies_are_kept_exactly(tmp_path):
    # £ thousands with three decimals are whole pounds; floats must not leave 0.9999 fractions.
    vals = [(0.001, 1234.567), (0.1, 0.3), (0.7, 1.1), (2.675, 0), (1e6, 0)]
    path = _write_csv(tmp_path / "cra.csv", _rows(VARIANTS["2018"], text_values=False, values=vals))
    got = read_cra(path).frame
    assert got["value_gbp"].tolist() == [
        1.0,
        100.0,
        700.0,
        2675.0,
        1e9,  # 2016-17
        1_234_567.0,
        300.0,
        1100.0,
        0.0,
        0.0,
    ]  # 2017-18
    assert np.all(np.round(got["value_gbp"] * 100) == got["value_gbp"] * 100)


def test_non_numeric_cells_are_rejected_with_reason(tmp_path):
    vals = [(1, "n/a"), (2, 3), ("..", 4), (5, 6), (7, 8)]
    path = _write_csv(tmp_path / "cra.csv", _rows(VARIANTS["2018"], text_values=False, values=vals))
    table = read_cra(path)
    assert len(table.frame) == 8
    assert table.rejects["source_row"].tolist() == [4, 2]
    assert table.rejects["reason"].tolist() == [
        "2016-17 value is not a number: '..'",
        "2017-18 value is not a number: 'n/a'",
    ]
    assert table.summary()["cells_rejected"] == 2


def test_unknown_region_label_lists_unknown_and_known(tmp_path):
    rows = _rows(VARIANTS["2018"], text_values=False)
    rows[1][12] = "ENGLAND_Mercia"
    rows[2][12] = "Wessex"
    path = _write_csv(tmp_path / "cra.csv", rows)
    with pytest.raises(InputError) as err:
        read_cra(path)
    text = str(err.value)
    assert "unknown region labels ['ENGLAND_Mercia', 'Wessex']" in text
    assert "north east" in text and "outside uk" in text and str(path) in text


def test_no_year_columns(tmp_path):
    rows = [r[:14] for r in _rows(VARIANTS["2018"], text_values=False)]
    path = _write_csv(tmp_path / "cra.csv", rows)
    with pytest.raises(InputError, match="no year columns"):
        read_cra(path)


def test_missing_region_column(tmp_path):
    rows = _rows(VARIANTS["2018"], text_values=False)
    for r in rows:
        del r[12]
    path = _write_xlsx(tmp_path / "cra.xlsx", rows)
    with pytest.raises(InputError, match="lacks required column.*region_label"):
        read_cra(path)


def test_bad_identifiable_flag(tmp_path):
    rows = _rows(VARIANTS["2018"], text_values=False)
    rows[3][8] = "maybe"
    with pytest.raises(InputError, match=r"ID/non-ID column.*\['maybe'\].*rows \[4\]"):
        read_cra(_write_csv(tmp_path / "cra.csv", rows))


def test_unknown_units():
    with pytest.raises(InputError, match="not understood"):
        read_cra(units="billions")


def test_edition_without_the_run_year_is_read_no_further_than_its_header(tmp_path):
    """A value that is not a number would be rejected if values were parsed; for a year the edition does
    not hold, only the header is read: years known, no values, no rejects."""
    vals = [(1, "n/a"), (2, 3), ("..", 4), (5, 6), (7, 8)]
    path = _write_csv(tmp_path / "cra.csv", _rows(VARIANTS["2018"], text_values=False, values=vals))
    table = read_cra(path, years=["2022-23"])
    assert table.years == ["2016-17", "2017-18"] and table.values_read is False
    assert table.frame.empty and table.rejects.empty
    assert table.summary()["total_gbp"] == 0.0 and table.summary()["rows_read"] == 5
    covered = read_cra(path, years=["2017-18"])
    assert covered.values_read is True and len(covered.rejects) == 2


def test_parsed_once_per_content_and_path_applied_every_run(tmp_path):
    """The CRA parse is stored under the file's content: a copy elsewhere reuses it with its own path in
    rejects; changed content parses again."""
    from spendmap.steps import read_cra_once

    vals = [(1, "n/a"), (2, 3), ("..", 4), (5, 6), (7, 8)]
    (tmp_path / "a").mkdir()
    first = _write_csv(tmp_path / "a" / "cra.csv", _rows(VARIANTS["2018"], text_values=False, values=vals))
    cache = tmp_path / "cache"
    one = read_cra_once(str(first), None, ["2016-17"], str(cache))
    assert len(list((cache / "parsed").glob("cra-*.pickle"))) == 1
    second = tmp_path / "b" / "renamed.csv"
    second.parent.mkdir()
    second.write_bytes(first.read_bytes())
    two = read_cra_once(str(second), None, ["2016-17"], str(cache))
    assert len(list((cache / "parsed").glob("cra-*.pickle"))) == 1  # reused, not parsed again
    assert set(one.rejects["source_file"]) == {str(first)}
    assert set(two.rejects["source_file"]) == {str(second)}
    assert two.path == second and two.summary()["path"] == str(second)
    pd.testing.assert_frame_equal(one.frame, two.frame)
    changed = [(9, 3), (2, 3), (1, 4), (5, 6), (7, 8)]
    _write_csv(second, _rows(VARIANTS["2018"], text_values=False, values=changed))
    three = read_cra_once(str(second), None, ["2016-17"], str(cache))
    assert len(list((cache / "parsed").glob("cra-*.pickle"))) == 2 and three.rejects.empty
