"""Tests for spendmap.sources.grants: every register layout, odd values and bad input."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from spendmap import schemas
from spendmap.errors import InputError
from spendmap.paths import BUNDLED_GRANTS, reference_path
from spendmap.sources.grants import (
    GRANT_COLUMN_ALIASES,
    normalise_header,
    parse_amounts,
    parse_dates,
    read_grants,
)
from tests.helpers.ods import write_ods

MODERN_HEADER = [
    "Identifier", "Title", "Description", "Currency", "Amount Awarded", "Grant Programme:Code",
    "Grant Programme:Title", "Award Date", "Recipient Org:Identifier", "Recipient Org:Name",
    "Recipient Org:Charity Number", "Recipient Org:Company Number", "Recipient Org:Street Address",
    "Recipient Org:City", "Recipient Org:Country", "Recipient Org:Postal Code", "Funding Org:Identifier",
    "Funding Org:Name", "Managed by: Organisation Name", "Allocation Method", "From an open call?",
    "Award Authority Act: Authority Act Name", "Last modified", "Award type", "Number of recipients",
]


def _modern_row(ident, amount, when, name="Wakefield Council", postcode="WF1 2EB", n_recipients=1.0,
                dept="Department for Education", **over):
    values = dict(zip(MODERN_HEADER, [
        ident, "Holiday activities", "Funding", "GBP", amount, "SCH-1", "HAF", when,
        "GB-LAE-WKF", name, None, None, "Town Hall", "Wakefield", "United Kingdom", postcode,
        "GB-GOR-D6", dept, "Education and Skills Funding Agency", "Formula", "No",
        "Education Act 2002", "2023-05-01T00:00:00Z", "Grant", n_recipients,
    ], strict=True))
    values.update(over)
    return [values[h] for h in MODERN_HEADER]


def _xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


# ----------------------------------------------------------------------------- the bundled real file

@pytest.fixture(scope="module")
def bundled():
    return read_grants(reference_path(*BUNDLED_GRANTS))


def test_bundled_2016_17_register(bundled):
    path = reference_path(*BUNDLED_GRANTS)
    # Independent figures: a plain pandas read of the same sheet.
    direct = pd.read_excel(path, engine="calamine")
    assert len(direct) == 3351
    assert direct["Amount Awarded"].sum() == 3_920_986_733

    info = bundled.info
    assert info["rows_read"] == 3351
    assert info["rows_accepted"] + info["rows_rejected"] == 3351
    assert info["amount_in_gbp"] == 3_920_986_733
    assert info["amount_accepted_gbp"] + info["amount_rejected_gbp"] == info["amount_in_gbp"]
    assert info["fy"] == "2016-17" and info["fy_source"] == "file name"
    assert info["sheet"] == "GGIS_Grant_Awards_2016_to_2017 " and info["header_row"] == 1
    assert info["n_zero_value"] == 109 == int((direct["Amount Awarded"] == 0).sum())
    assert info["bytes"] == path.stat().st_size
    assert info["sha256"].startswith("9a4619ec20eb5efe")

    awards = bundled.awards
    assert len(awards) == 3351 and bundled.rejects.empty
    assert awards["amount_gbp"].sum() == 3_920_986_733
    assert awards["department_raw"].value_counts().to_dict() == {
        "Department for Transport": 2577, "Ministry of Justice": 774}
    assert (awards["amount_gbp"] == 0).sum() == 109
    assert list(awards.columns[: len(schemas.AWARD_COLUMNS)]) == schemas.AWARD_COLUMNS
    assert awards["award_id"].is_unique
    assert (awards["fy"] == "2016-17").all()
    # Every row is traceable to its sheet row.
    assert awards["source_row"].tolist() == list(range(2, 3353))


def test_bundled_values_typed(bundled):
    first = bundled.awards.iloc[0]
    assert first["award_id"] == "360G-cabinetoffice-GA-060679"
    assert first["recipient_name"] == "Transport for London"
    assert first["recipient_postcode"] == "SW1H 0TL"
    assert first["award_date"] == pd.Timestamp("2016-10-03")
    assert first["scheme_code"] == "SCH-000003403"
    assert first["location_codes"] == "K02000001" and first["location_code_types"] == "CTRY"
    assert not first["is_redacted"]
    # Charity numbers stored as numbers in the workbook come out without '.0'.
    cab = bundled.awards[bundled.awards["award_id"] == "360G-cabinetoffice-GA-035383"].iloc[0]
    assert cab["recipient_charity_number"] == "279057" and cab["recipient_id"] == "279057"
    assert pd.isna(bundled.awards["is_council_recipient"]).all()
    assert pd.isna(bundled.awards["la_code"]).all()


# ----------------------------------------------------------------------------- modern register layouts

def test_modern_ods_with_cover_notes_and_title_rows(tmp_path):
    rows = [
        ["Government Grants Register 2022 to 2023"],
        ["Awards made by central government departments"],
        [],
        MODERN_HEADER,
        _modern_row("GA-1", 1500.5, date(2022, 6, 1)),
        _modern_row("GA-2", 200.0, date(2021, 9, 30), name="Redacted", postcode="Redacted",
                    **{"Recipient Org:Identifier": "Redacted", "Recipient Org:City": "Redacted"}),
        _modern_row("GA-3", 75000.0, date(2022, 4, 15), name="Various individuals", n_recipients=412.0,
                    **{"Award type": "Aggregated award"}),
        [],
        ["Source: Cabinet Office, Government Grants Information System"],
    ]
    path = write_ods(tmp_path / "2024-03-19_Government_Grants_Register_2022_to_2023.ods", {
        "Cover sheet": [["Government Grants Register"], ["Contents"]],
        "Notes": [["Note", "Text"], ["1", "Identifier is the GGIS identifier"]],
        "#Awards": rows,
    })
    read = read_grants(path)
    info = read.info
    assert info["sheet"] == "#Awards" and info["header_row"] == 4
    assert info["fy"] == "2022-23" and info["fy_source"] == "file name"
    assert info["rows_read"] == 4 and info["rows_accepted"] == 3 and info["rows_rejected"] == 1
    assert info["blank_rows_skipped"] == 1
    assert info["n_redacted"] == 1 and info["n_aggregated"] == 1
    assert info["amount_in_gbp"] == 76700.5 == info["amount_accepted_gbp"]

    a = read.awards.set_index("award_id")
    assert a.loc["GA-1", "amount_gbp"] == 1500.5
    assert a.loc["GA-1", "managing_body"] == "Education and Skills Funding Agency"
    assert a.loc["GA-1", "award_type"] == "Grant"
    assert a.loc["GA-1", "department_raw"] == "Department for Education"
    assert a.loc["GA-1", "award_date"] == pd.Timestamp("2022-06-01")
    assert a.loc["GA-1", "source_row"] == 5 and a.loc["GA-1", "source_sheet"] == "#Awards"
    assert a.loc["GA-1", "number_of_recipients"] == 1 and not a.loc["GA-1", "is_aggregated"]
    # Redacted: kept, flagged, named "Redacted", with no postcode or id to place it by.
    assert a.loc["GA-2", "is_redacted"] and a.loc["GA-2", "recipient_name"] == "Redacted"
    assert pd.isna(a.loc["GA-2", "recipient_postcode"]) and pd.isna(a.loc["GA-2", "recipient_id"])
    assert pd.isna(a.loc["GA-2", "recipient_city"])
    assert a.loc["GA-3", "is_aggregated"] and a.loc["GA-3", "number_of_recipients"] == 412
    assert (read.awards["fy"] == "2022-23").all()

    rej = read.rejects
    assert list(rej.columns) == schemas.REJECT_COLUMNS + schemas.REJECT_EXTRA_COLUMNS
    assert rej.loc[0, "source_row"] == 9  # rows 1-3 preamble, 4 header, 5-7 awards, 8 blank
    assert rej.loc[0, "reason"].startswith("not an award row")
    assert "Source: Cabinet Office" in rej.loc[0, "reason"]
    assert json.loads(rej.loc[0, "original_values"]) == {
        "Identifier": "Source: Cabinet Office, Government Grants Information System"}


def test_awards_xlsx_with_excel_serial_and_text_dates(tmp_path):
    # 'Awards' sheet (no '#'), dates as Excel serial numbers, ISO text, dd/mm/yyyy text and junk.
    rows = [
        MODERN_HEADER,
        _modern_row("S-1", 10, 44713),  # serial 44713 = 2022-06-01
        _modern_row("S-2", 20, "2022-07-15"),
        _modern_row("S-3", 30, "15/08/2022"),
        _modern_row("S-4", 40, "sometime in 2022"),
        _modern_row("S-5", 50, datetime(2023, 1, 2, 13, 45)),
    ]
    path = _xlsx(tmp_path / "register.xlsx", {"Cover": [["Register"]], "Awards": rows})
    read = read_grants(path)
    a = read.awards.set_index("award_id")
    assert a["award_date"].tolist()[:3] == [pd.Timestamp("2022-06-01"), pd.Timestamp("2022-07-15"),
                                            pd.Timestamp("2022-08-15")]
    assert pd.isna(a.loc["S-4", "award_date"])  # kept, date unknown
    assert a.loc["S-5", "award_date"] == pd.Timestamp("2023-01-02")
    assert read.info["rows_accepted"] == 5
    # No year in the file or sheet name: the modal financial year of the award dates.
    assert read.info["fy"] == "2022-23" and read.info["fy_source"] == "award dates"


def test_year_from_sheet_name_and_year_override(tmp_path):
    rows = [MODERN_HEADER, _modern_row("Y-1", 10, date(2019, 5, 1))]
    path = _xlsx(tmp_path / "export.xlsx", {"Grants awarded 2019-20": rows})
    read = read_grants(path)
    assert read.info["fy"] == "2019-20" and read.info["fy_source"] == "sheet name"
    # A year given that contradicts the sheet's is the wrong file, not an override.
    with pytest.raises(InputError, match=r"is for 2019-20 \(from its sheet name\).*run is for 2020-21"):
        read_grants(path, year="2020-21")
    assert read_grants(path, year="2019-20").info["fy_source"] == "sheet name"
    with pytest.raises(InputError, match="not a financial year"):
        read_grants(path, year="2020")


def test_no_year_anywhere_is_an_input_error(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Identifier,Amount Awarded,Recipient Org:Name,Funding Org:Name\nA,1,R,F\n")
    with pytest.raises(InputError) as exc:
        read_grants(path)
    assert "--year" in str(exc.value) and str(path) in str(exc.value)
    assert read_grants(path, year="2021-22").info["rows_accepted"] == 1


def test_grantnav_360giving_csv_locations(tmp_path):
    header = ("Identifier,Title,Amount Awarded,Award Date,Recipient Org:Identifier,Recipient Org:Name,"
              "Recipient Org:Postal Code,Recipient Org:Location:0:Geographic Code,"
              "Recipient Org:Location:0:Geographic Code Type,Recipient Org:Location:1:Geographic Code,"
              "Recipient Org:Location:1:Geographic Code Type,Beneficiary Location:0:Geographic Code,"
              "Beneficiary Location:0:Geographic Code Type,Beneficiary Location:1:Geographic Code,"
              "Beneficiary Location:1:Geographic Code Type,Funding Org:Identifier,Funding Org:Name,"
              "Funding Org:Department,Grant Programme:Title,Data Source,Publisher:Name")
    lines = [
        header,
        "360G-X-1,Youth,5000,2020-06-01,GB-CHC-1,Wakefield Youth Trust,WF1 1AA,E08000036,MD,"
        "E12000003,RGN,E08000036,MD,E06000001; E06000002,UA,GB-GOR-D1,Department for Culture Media and Sport,"
        "Youth Team,Youth Fund,https://example.org,DCMS",
        "360G-X-2,Sport,\"2,500.00\",2020-07-01,GB-COH-2,Durham Sport CIC,DH1 5UQ,,,,,,,,,"
        "GB-GOR-D1,Department for Culture Media and Sport,,Sport Fund,,DCMS",
    ]
    path = tmp_path / "grantnav-20240101.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    read = read_grants(path)
    a = read.awards.set_index("award_id")
    assert read.info["sheet"] is None and read.info["fy"] == "2020-21"
    assert read.info["fy_source"] == "award dates"
    # Recipient locations first, then beneficiary ones; a repeated (code, type) is listed once; a cell
    # listing two codes gives each the cell's type.
    assert a.loc["360G-X-1", "location_codes"] == "E08000036; E12000003; E06000001; E06000002"
    assert a.loc["360G-X-1", "location_code_types"] == "MD; RGN; UA; UA"
    assert pd.isna(a.loc["360G-X-2", "location_codes"]) and pd.isna(a.loc["360G-X-2", "location_code_types"])
    assert a.loc["360G-X-1", "department_raw"] == "Department for Culture Media and Sport"
    assert "funder_department" not in a.columns  # a sub-unit of the funder: not a schema column
    assert a.loc["360G-X-2", "amount_gbp"] == 2500.0
    assert a.loc["360G-X-1", "source_row"] == 2 and pd.isna(a.loc["360G-X-1", "source_sheet"])


def test_cp1252_cr_only_csv_with_pound_strings(tmp_path):
    text = ("Identifier,Amount Awarded,Award Date,Recipient Org:Name,Funding Org:Name,Currency\r"
            "C-1,\"\u00a31,234.50\",01/04/2018,Caf\u00e9 des Arts,Arts Council England,GBP\r"
            "C-2,\"(1,000)\",02/04/2018,R\u00e9seau,Arts Council England,GBP\r"
            "C-3,,03/04/2018,Blank Amount Ltd,Arts Council England,GBP\r"
            "C-4,about 5k,03/04/2018,Vague Ltd,Arts Council England,GBP\r"
            "C-5,100,04/04/2018,Euro Ltd,Arts Council England,EUR\r"
            "C-1,99,05/04/2018,Copy Ltd,Arts Council England,GBP\r")
    path = tmp_path / "grants_2018-19.csv"
    path.write_bytes(text.encode("cp1252"))
    read = read_grants(path)
    a = read.awards.set_index("award_id")
    assert a.index.tolist() == ["C-1", "C-2"]
    assert a.loc["C-1", "amount_gbp"] == 1234.5 and a.loc["C-2", "amount_gbp"] == -1000.0
    assert a.loc["C-1", "recipient_name"] == "Caf\u00e9 des Arts"
    assert a.loc["C-1", "award_date"] == pd.Timestamp("2018-04-01")
    assert read.info["fy"] == "2018-19" and read.info["fy_source"] == "file name"
    rej = read.rejects.set_index("source_row")["reason"].to_dict()
    assert rej == {
        4: "amount missing",
        5: "amount not a number: 'about 5k'",
        6: "currency is not GBP: EUR",
        7: f"duplicate award id (also in input {read.info['input_id']} ({path}) row 2)",
    }
    info = read.info
    assert info["rows_read"] == 6 and info["rows_accepted"] + info["rows_rejected"] == 6
    assert info["amount_accepted_gbp"] == 234.5
    assert info["amount_rejected_gbp"] == 199.0  # the EUR row and the duplicate
    assert info["amount_in_gbp"] == info["amount_accepted_gbp"] + info["amount_rejected_gbp"]
    original = json.loads(read.rejects.iloc[0]["original_values"])
    assert original["Recipient Org:Name"] == "Blank Amount Ltd" and "Amount Awarded" not in original


def test_utf8_bom_csv(tmp_path):
    path = tmp_path / "register 2021-22.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "Identifier,Amount Awarded,Recipient Org:Name,Funding Org:Name\r\n"
                     "B-1,\u00a35,\u00c9cole Trust,Home Office\r\n".encode())
    read = read_grants(path)
    assert read.awards["award_id"].tolist() == ["B-1"]  # the BOM is not part of the first header
    assert read.awards["recipient_name"].tolist() == ["\u00c9cole Trust"]
    assert read.awards["amount_gbp"].tolist() == [5.0]


def test_footnote_and_total_rows_are_rejected_not_summed_in(tmp_path):
    rows = [MODERN_HEADER, _modern_row("F-1", 100.0, date(2022, 5, 1)),
            ["Total", None, None, None, 100.0], ["* figures provisional"]]
    path = _xlsx(tmp_path / "Grants 2022-23.xlsx", {"Awards": rows})
    read = read_grants(path)
    assert read.info["rows_accepted"] == 1
    assert read.rejects["source_row"].tolist() == [3, 4]
    assert read.rejects["reason"].str.startswith("not an award row").all()
    assert read.info["amount_accepted_gbp"] == 100.0 and read.info["amount_rejected_gbp"] == 100.0


# ----------------------------------------------------------------------------- value parsers

def test_parse_amounts():
    s = pd.Series(["£1,234.50", "(1,000)", "-£50", "£-50", " 12 ", "GBP 7", 3.5, 4, "(£2,000.50)",
                   None, "   ", "n/a", "1.2.3", "-"], dtype=object)
    values, bad = parse_amounts(s)
    assert values.iloc[:9].tolist() == [1234.5, -1000.0, -50.0, -50.0, 12.0, 7.0, 3.5, 4.0, -2000.5]
    assert values.iloc[9:].isna().all()
    assert bad.iloc[:11].isna().all()  # numbers, blanks and whitespace are not "bad" text
    assert bad.iloc[11:].tolist() == [f"amount not a number: {t}" for t in ("'n/a'", "'1.2.3'", "'-'")]


def test_parse_dates():
    s = pd.Series([date(2020, 4, 1), datetime(2020, 4, 2, 10, 0), 43924.0, "2020-04-04",
                   "2020-04-05T00:00:00Z", "06/04/2020", "43928", "2020-04-08T00:00:00+01:00",
                   "9 April 2020", None, "not a date", 5.0, "2020-13-45"], dtype=object)
    out = parse_dates(s)
    assert out.iloc[:9].tolist() == [pd.Timestamp(f"2020-04-0{d}") for d in range(1, 10)]
    assert out.iloc[9:].isna().all()  # blank, junk, and a number too small to be an award date
    assert str(out.dtype) == "datetime64[ns]"


def test_arrow_text_reads_as_the_same_cells_as_python_objects():
    """The Arrow CSV reader's columns take a one-pass Arrow route when every cell is a plain decimal or
    an ISO date; one other cell anywhere sends the column down the cell-by-cell route, with its reasons.
    Either way the values are those of the same cells given as Python objects."""
    def arrow(cells):
        return pd.Series(pd.array(cells, dtype="string[pyarrow]"))

    plain = ["1", " 2.50 ", None, "-3", "007", "0.1000000000000000055511151231257827", "123456789.987654321"]
    mixed = [*plain, "£1,234.50", "(1,000)", "n/a", "1,2345"]
    for cells in (plain, mixed):
        fast, fast_bad = parse_amounts(arrow(cells))
        slow, slow_bad = parse_amounts(pd.Series(cells, dtype=object))
        assert fast.equals(slow) and fast_bad.fillna("").tolist() == slow_bad.fillna("").tolist()
    assert parse_amounts(arrow(plain))[0].tolist()[:2] == [1.0, 2.5]
    assert parse_amounts(arrow(mixed))[1].dropna().tolist() == [
        "amount not a number: 'n/a'", "amount not a number: '1,2345'"]

    iso = ["2016-12-04", " 2017-01-01 ", None, "1949-01-01", "2020-02-29"]
    for cells in (iso, [*iso, "2021-02-31"], [*iso, "06/04/2020"]):
        assert parse_dates(arrow(cells)).equals(parse_dates(pd.Series(cells, dtype=object)))
    # 1949 is not a plausible award date; 31 February is no date, and does not become 3 March.
    assert parse_dates(arrow([*iso, "2021-02-31"])).tolist() == [
        pd.Timestamp("2016-12-04"), pd.Timestamp("2017-01-01"), pd.NaT, pd.NaT, pd.Timestamp("2020-02-29"),
        pd.NaT]


# ----------------------------------------------------------------------------- bad input

def test_html_saved_as_ods(tmp_path):
    path = tmp_path / "Government_Grants_Register_2022_to_2023.ods"
    path.write_text("<html><body><h1>404 Not Found</h1></body></html>")
    with pytest.raises(InputError) as exc:
        read_grants(path)
    assert "HTML web page" in str(exc.value) and str(path) in str(exc.value)


def test_empty_file(tmp_path):
    path = tmp_path / "grants.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_grants(path)


def test_missing_columns_names_file_sheet_columns_and_headers(tmp_path):
    path = write_ods(tmp_path / "reg_2022_to_2023.ods", {
        "Cover": [["Register"]],
        "#Awards": [["Identifier", "Title", "Recipient Org:Name", "Award Date"],
                    ["A", "T", "R", date(2022, 5, 1)]],
    })
    with pytest.raises(InputError) as exc:
        read_grants(path)
    msg = str(exc.value)
    assert str(path) in msg and "sheet '#Awards'" in msg
    assert "'amount_gbp'" in msg and "'department_raw'" in msg and "'funding org:name'" in msg
    assert "['Identifier', 'Title', 'Recipient Org:Name', 'Award Date']" in msg


def test_no_awards_sheet_lists_sheets(tmp_path):
    path = write_ods(tmp_path / "reg.ods", {"Cover": [["Register"]], "Notes": [["Note"], ["text"]],
                                            "Schemes": [["Scheme", "Value"], ["X", 1.0]]})
    with pytest.raises(InputError) as exc:
        read_grants(path)
    msg = str(exc.value)
    assert "['Cover', 'Notes', 'Schemes']" in msg and "grants register" in msg


def test_parse_dates_two_digit_years_and_implausible_dates():
    s = pd.Series(["06/04/20", "1/2/0020", "0020-01-01", date(20, 1, 1), "31/12/2150"], dtype=object)
    out = parse_dates(s)
    assert out.iloc[0] == pd.Timestamp("2020-04-06")
    assert out.iloc[1:].isna().all()  # years outside 1950-2099 are not award dates


def test_grantnav_xlsx_export(tmp_path):
    header = ["Identifier", "Title", "Amount Awarded", "Award Date", "Recipient Org:Name",
              "Recipient Org:Location:0:Geographic Code", "Recipient Org:Location:0:Geographic Code Type",
              "Funding Org:Name", "Funding Org:Department"]
    rows = [header,
            ["360G-Y-1", "Grant", 1200, date(2021, 5, 4), "Luton Foodbank", "E06000032", "UA",
             "Department for Levelling Up, Housing and Communities", None],
            ["360G-Y-2", "Grant", 800, date(2021, 6, 4), "Hackney CVS", "E09000012", "LONB",
             "Department for Levelling Up, Housing and Communities", None]]
    path = _xlsx(tmp_path / "grantnav-2021-22.xlsx", {"grants": rows})
    read = read_grants(path)
    assert read.info["sheet"] == "grants" and read.info["fy"] == "2021-22"
    assert read.awards["location_codes"].tolist() == ["E06000032", "E09000012"]
    assert read.awards["location_code_types"].tolist() == ["UA", "LONB"]
    assert read.awards["amount_gbp"].sum() == 2000


# ----------------------------------------------------------------------------- totals never inflate

SHORT_HEADER = "Identifier,Amount Awarded,Recipient Org:Name,Funding Org:Name\n"


def _read_csv(tmp_path, rows: str, header: str = SHORT_HEADER, name: str = "grants 2021-22.csv"):
    path = tmp_path / name
    path.write_text(header + rows)
    return read_grants(path)


def test_total_footer_with_a_name_but_no_identifier_or_funder_is_rejected(tmp_path):
    """The issue's case: 'Total' under the recipient column, the register's sum in the amount column."""
    rows = [MODERN_HEADER, _modern_row("T-1", 100.0, date(2022, 5, 1)),
            _modern_row("T-2", 50.0, date(2022, 5, 1))]
    footer = [None] * len(MODERN_HEADER)
    footer[MODERN_HEADER.index("Recipient Org:Name")] = "Total"
    footer[MODERN_HEADER.index("Amount Awarded")] = 150.0
    path = _xlsx(tmp_path / "Grants 2022-23.xlsx", {"Awards": rows + [footer]})
    read = read_grants(path)
    assert read.awards["award_id"].tolist() == ["T-1", "T-2"]
    assert read.awards["amount_gbp"].sum() == 150.0
    (reason,) = read.rejects["reason"]
    assert reason.startswith("not an award row") and "'Total'" in reason


def test_non_finite_amounts_are_rejected(tmp_path):
    read = _read_csv(tmp_path, "N-1,1e400,Big Ltd,Home Office\nN-2,inf,Inf Ltd,Home Office\n"
                     "N-3,-Infinity,Neg Ltd,Home Office\nN-4,nan,NaN Ltd,Home Office\n"
                     "N-5,10,Fine Ltd,Home Office\n")
    assert read.awards["award_id"].tolist() == ["N-5"]
    reasons = read.rejects.set_index("source_row")["reason"].to_dict()
    assert reasons[2] == "amount is not a finite number: 1e400"
    assert [reasons[3], reasons[4], reasons[5]] == [
        "amount not a number: 'inf'", "amount not a number: '-Infinity'", "amount not a number: 'nan'"]
    assert read.info["amount_in_gbp"] == 10.0 and read.info["amount_rejected_gbp"] == 0.0
    json.dumps(read.info, allow_nan=False)  # the manifest's part from this input is valid JSON


def test_amount_over_the_ceiling_is_kept_flagged_and_counted(tmp_path):
    from spendmap.sources.grants import AMOUNT_CEILING_GBP

    read = _read_csv(tmp_path, f"C-1,{AMOUNT_CEILING_GBP * 4:.0f},Typo Ltd,Home Office\n"
                     f"C-2,{AMOUNT_CEILING_GBP:.0f},Edge Ltd,Home Office\nC-3,-2e10,Minus Ltd,Home Office\n")
    a = read.awards.set_index("award_id")
    assert a["amount_over_ceiling"].to_dict() == {"C-1": True, "C-2": False, "C-3": True}
    assert read.info["data_quality"]["amount_over_ceiling"] == 2
    assert read.info["data_quality"]["amount_ceiling_gbp"] == AMOUNT_CEILING_GBP


def test_invalid_dates_are_kept_flagged_and_counted(tmp_path):
    read = _read_csv(tmp_path, "D-1,10,31/02/2021,Feb Ltd,Home Office\n"
                     "D-2,20,01/03/2021,March Ltd,Home Office\nD-3,30,,No Date Ltd,Home Office\n"
                     "D-4,40,soon,Vague Ltd,Home Office\n",
                     header="Identifier,Amount Awarded,Award Date,Recipient Org:Name,Funding Org:Name\n",
                     name="grants 2020-21.csv")
    a = read.awards.set_index("award_id")
    assert len(a) == 4 and read.rejects.empty
    assert a["award_date_invalid"].fillna("").to_dict() == {"D-1": "31/02/2021", "D-2": "", "D-3": "",
                                                            "D-4": "soon"}
    assert pd.isna(a.loc["D-1", "award_date"]) and a.loc["D-2", "award_date"] == pd.Timestamp("2021-03-01")
    assert read.info["data_quality"]["award_date_invalid"] == 2


def test_award_id_repeated_across_inputs_is_rejected_naming_the_first(tmp_path):
    first = tmp_path / "grants_a 2021-22.csv"
    first.write_text("Identifier,Amount Awarded,Recipient Org:Name,Funding Org:Name\n"
                     "X-1,10,One Ltd,Home Office\nX-2,20,Two Ltd,Home Office\n")
    second = tmp_path / "grants_b 2021-22.csv"
    second.write_text("Identifier,Amount Awarded,Recipient Org:Name,Funding Org:Name\n"
                      "X-3,30,Three Ltd,Home Office\nX-2,20,Two Ltd,Home Office\n")
    known: dict[str, str] = {}
    a = read_grants(first, known_ids=known)
    b = read_grants(second, known_ids=known)
    assert a.awards["award_id"].tolist() == ["X-1", "X-2"] and b.awards["award_id"].tolist() == ["X-3"]
    # The earlier input is named by its id (position and sha256): the run adds its path (steps).
    assert b.rejects["reason"].tolist() == [f"duplicate award id (also in input {a.info['input_id']} row 3)"]
    assert b.info["rows_rejected"] == 1 and b.info["amount_rejected_gbp"] == 20.0
    assert set(known) == {"X-1", "X-2", "X-3"}


def test_whitespace_only_rows_are_blank(tmp_path):
    read = _read_csv(tmp_path, "W-1,10,One Ltd,Home Office\n  ,\t,   ,  \nW-2,20,Two Ltd,Home Office\n")
    assert read.info["rows_read"] == 2 and read.info["blank_rows_skipped"] == 1 and read.rejects.empty


# ----------------------------------------------------------------------------- awkward files

def test_csv_field_longer_than_the_csv_module_limit_is_read(tmp_path):
    long = "x" * 200_000  # csv's default limit is 131,072 characters
    path = tmp_path / "grants 2021-22.csv"
    path.write_text("Identifier,Amount Awarded,Recipient Org:Name,Funding Org:Name,Description\n"
                    f'L-1,10,Long Ltd,Home Office,"{long}"\nL-2,20,Short Ltd,Home Office,short\n')
    read = read_grants(path)
    assert read.awards["award_id"].tolist() == ["L-1", "L-2"]
    assert read.awards.set_index("award_id").loc["L-1", "description"] == long
    import csv

    assert csv.field_size_limit() == 131_072  # the process-wide limit is left as it was


def test_utf16_csv_is_read(tmp_path):
    path = tmp_path / "grants 2021-22.csv"
    text = ("Identifier,Amount Awarded,Recipient Org:Name,Funding Org:Name\r\n"
            "U-1,\u00a31,234,\u00c9cole Trust,Home Office\r\n").replace("\u00a31,234", '"\u00a31,234"')
    path.write_bytes(text.encode("utf-16"))  # with a byte-order mark, as Excel's "Unicode text" writes
    read = read_grants(path)
    assert read.awards["recipient_name"].tolist() == ["\u00c9cole Trust"]
    assert read.awards["amount_gbp"].tolist() == [1234.0]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_csv_without_byte_order_mark_is_read(tmp_path, encoding):
    path = tmp_path / "grants 2021-22.csv"
    path.write_bytes(("Identifier,Amount Awarded,Recipient Org:Name,Funding Org:Name\r\n"
                      "U-1,12,Ecole Trust,Home Office\r\n").encode(encoding))
    read = read_grants(path)
    assert read.awards["award_id"].tolist() == ["U-1"] and read.awards["amount_gbp"].tolist() == [12.0]


def test_password_protected_ods_is_named_as_such(tmp_path):
    import zipfile

    path = tmp_path / "grants 2021-22.ods"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml",
                   '<manifest:manifest><manifest:file-entry manifest:full-path="content.xml">'
                   '<manifest:encryption-data manifest:checksum-type="SHA1"/></manifest:file-entry>'
                   "</manifest:manifest>")
        z.writestr("content.xml", b"\x8f\x13encrypted bytes")
    with pytest.raises(InputError, match="password-protected.*save an unprotected copy"):
        read_grants(path)


def test_password_protected_xlsx_is_named_as_such(tmp_path):
    """An encrypted .xlsx is an OLE compound file whose directory names an EncryptedPackage stream."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    directory = "EncryptedPackage".encode("utf-16-le") + bytes(128 - 32)
    path = tmp_path / "grants 2021-22.xlsx"
    path.write_bytes(header + directory + bytes(1024))
    with pytest.raises(InputError, match="password-protected"):
        read_grants(path)


def test_a_folder_is_called_a_folder(tmp_path):
    with pytest.raises(InputError, match="is a folder, not a file"):
        read_grants(tmp_path)


# --- the Arrow CSV path (pyarrow.csv) and the row-by-row reader give the same result ------------------

_ODD_REGISTER = (
    "Identifier,Recipient Org:Name,Funding Org:Name,Amount Awarded,Award Date,Recipient Org:Postal Code,"
    "Title,Number of recipients,,Extra\n"
    'GA1,Acme Ltd,Department for Education,"£1,234.50",01/04/2016,SW1A 1AA,"A title\nwith break",1,,x\n'
    "GA2,Beta,Department for Education,(1000),31/02/2017,,t,,,\n"
    "GA2,Beta again,Department for Education,5,2016-05-01,,t,,,\n"
    "GA3,Gamma,Department of Health,inf,42826,,t,3,,\n"
    "GA4,Delta,Department of Health,abc,,,t,,,\n"
    ",,,,,,,,,\n"
    "   ,  ,,\t,,,,,,\n"
    "GA5,Redacted,Home Office,100,2016-06-01,AB1 2CD,t,,,\n"
    'GA6,"Eps ""quoted""",Home Office,=1+2,2016-06-01,,t,,,\n'
    " GA7 , Zeta ,Home Office, 12 ,2016-06-01,,t,,,\n"
    "GA8,Eta,Home Office,,2016-06-01,,t,,,\n"
    'Total,,,"1,000,000",,,,,,\n'
    "Source: x,,,,,,,,,\n\n"
)


@pytest.mark.parametrize(("newline", "bom", "arrow"), [
    ("\n", b"", True), ("\r\n", b"", True), ("\r", b"", True), ("\n", b"\xef\xbb\xbf", True),
])
def test_arrow_csv_path_matches_row_reader(tmp_path, monkeypatch, newline, bom, arrow):
    from spendmap.sources import tabular

    path = tmp_path / "Grants_2016_to_2017.csv"
    path.write_bytes(bom + _ODD_REGISTER.replace("\n", newline).encode("utf-8"))
    aliases = {normalise_header(k): v for k, v in GRANT_COLUMN_ALIASES.items()}
    assert (tabular._read_csv_arrow(path, aliases, 40) is not None) is arrow
    fast = read_grants(path)
    monkeypatch.setattr(tabular, "_read_csv_arrow", lambda *a, **k: None)
    slow = read_grants(path)
    pd.testing.assert_frame_equal(fast.awards, slow.awards)
    pd.testing.assert_frame_equal(fast.rejects, slow.rejects)
    assert fast.info == slow.info
    # The repeated id, unreadable and missing amounts, the total and the note are rejected, with reasons.
    assert fast.awards["source_row"].tolist() == [2, 3, 9, 11]
    assert fast.awards["amount_gbp"].tolist() == [1234.5, -1000.0, 100.0, 12.0]
    assert fast.awards["award_date_invalid"].tolist()[1] == "31/02/2017"
    assert fast.rejects["source_row"].tolist() == [4, 5, 6, 10, 12, 13, 14]
    assert fast.rejects["reason"].tolist()[0] == (
        f"duplicate award id (also in input {fast.info['input_id']} ({path}) row 3)")
    assert fast.rejects["reason"].tolist()[-1].startswith("not an award row")
    assert fast.info["blank_rows_skipped"] == 3 and fast.info["rows_read"] == 11


def test_arrow_csv_path_declines_other_encodings_and_ragged_rows(tmp_path):
    from spendmap.sources import tabular

    aliases = {normalise_header(k): v for k, v in GRANT_COLUMN_ALIASES.items()}
    cases = {"cp1252.csv": _ODD_REGISTER.encode("cp1252"), "utf16.csv": _ODD_REGISTER.encode("utf-16"),
             "title.csv": ("My register\n" + _ODD_REGISTER).encode()}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert tabular._read_csv_arrow(path, aliases, 40) is None, name
        assert len(read_grants(path, year="2016-17").awards) == 4, name
