"""Department names and org-ids across machinery-of-government changes; the bundled table; bad tables."""

import numpy as np
import pandas as pd
import pytest

from spendmap.errors import InputError
from spendmap.schemas import conform_awards
from spendmap.sources.rules import load_departments
from spendmap.sources.schemes import read_scheme_registers
from spendmap.transforms.departments import apply_departments, unknown_funders

HEADER = "key_type,key,department,short_name,lineage,valid_from,valid_to\n"


@pytest.fixture(scope="module")
def table():
    return load_departments()


def _awards(rows):
    # conform_awards cannot add a missing float column, so every crafted award has an amount.
    return conform_awards(pd.DataFrame([{"amount_gbp": 1.0, **row} for row in rows]))


def test_ids_with_and_without_prefix_and_names(table):
    awards = _awards(
        [
            {
                "award_id": "1",
                "fy": "2016-17",
                "funder_id": "GB-GOR-D9",
                "department_raw": None,
                "amount_gbp": 1.0,
            },
            {"award_id": "2", "fy": "2016-17", "funder_id": "D18", "department_raw": None, "amount_gbp": 1.0},
            {
                "award_id": "3",
                "fy": "2016-17",
                "funder_id": None,
                "department_raw": "MINISTRY OF JUSTICE ",
                "amount_gbp": 1.0,
            },
            {
                "award_id": "4",
                "fy": "2016-17",
                "funder_id": "gb-gor-d2",
                "department_raw": None,
                "amount_gbp": 1.0,
            },
        ]
    )
    out = apply_departments(awards, table)
    assert out["department"].tolist() == ["DfT", "MoJ", "MoJ", "CO"]
    # The raw name is kept as published.
    assert out["department_raw"].tolist()[2] == "MINISTRY OF JUSTICE "


def test_housing_department_names_over_time_share_one_lineage(table):
    names = [
        ("2016-17", "Department for Communities and Local Government"),
        ("2019-20", "Ministry of Housing, Communities and Local Government"),
        ("2022-23", "Department for Levelling Up, Housing & Communities"),
        ("2024-25", "Ministry of Housing, Communities & Local Government"),
        ("2014-15", "DCLG"),
        ("2016-17", "CLG Local Government"),
    ]
    awards = _awards([{"award_id": str(i), "fy": fy, "department_raw": n} for i, (fy, n) in enumerate(names)])
    out = apply_departments(awards, table)
    assert out["department"].tolist() == ["DCLG", "MHCLG", "DLUHC", "MHCLG", "DCLG", "DCLG"]
    assert set(out["department_lineage"]) == {"MHCLG"}


def test_beis_split_and_predecessors(table):
    names = [
        "BIS",
        "Department for Business, Energy and Industrial Strategy",
        "Department for Energy Security and Net Zero",
        "Department for Science, Innovation and Technology",
        "Department for Business and Trade",
        "DECC",
        "Department of Health",
        "DHSC",
        "DfID",
        "FCO ",
    ]
    awards = _awards(
        [{"award_id": str(i), "fy": "2023-24", "department_raw": n} for i, n in enumerate(names)]
    )
    out = apply_departments(awards, table)
    assert out["department"].tolist() == [
        "BIS",
        "BEIS",
        "DESNZ",
        "DSIT",
        "DBT",
        "DECC",
        "DH",
        "DHSC",
        "DFID",
        "FCO",
    ]
    assert out["department_lineage"].tolist()[6:8] == ["DHSC", "DHSC"]


def test_org_id_resolves_by_date_and_not_outside_its_dates(table):
    # D1198 (BEIS) existed 2016-07-14 to 2023-02-07; after the split it names no single department.
    awards = _awards(
        [
            {"award_id": "1", "fy": "2019-20", "funder_id": "GB-GOR-D1198"},
            {"award_id": "2", "fy": "2024-25", "funder_id": "GB-GOR-D1198"},
            {"award_id": "3", "fy": None, "award_date": "2015-06-01", "funder_id": "D3"},
        ]
    )
    out = apply_departments(awards, table)
    assert out["department"].tolist()[0] == "BEIS"
    assert pd.isna(out["department"].iloc[1])
    assert out["department"].tolist()[2] == "BIS"


def test_name_wins_over_id(table):
    awards = _awards(
        [{"award_id": "1", "fy": "2016-17", "funder_id": "D9", "department_raw": "Ministry of Justice"}]
    )
    assert apply_departments(awards, table)["department"].tolist() == ["MoJ"]


def test_unknown_funders_are_reported_not_guessed(table):
    awards = _awards(
        [
            {
                "award_id": "1",
                "fy": "2016-17",
                "department_raw": "Department for Transportation",
                "amount_gbp": 5.0,
            },
            {
                "award_id": "2",
                "fy": "2016-17",
                "department_raw": "Department for Transportation",
                "amount_gbp": 7.0,
            },
            {
                "award_id": "3",
                "fy": "2016-17",
                "department_raw": None,
                "funder_id": "GB-GOR-D999",
                "amount_gbp": 1.0,
            },
            {
                "award_id": "4",
                "fy": "2016-17",
                "department_raw": "Department for Transport",
                "amount_gbp": 1.0,
            },
        ]
    )
    out = apply_departments(awards, table)
    assert out["department"].isna().tolist() == [True, True, True, False]
    report = unknown_funders(out)
    assert report.to_dict("records") == [
        {
            "department_raw": "Department for Transportation",
            "funder_id": "(none)",
            "n_awards": 2,
            "amount_gbp": 12.0,
        },
        {"department_raw": "(none)", "funder_id": "GB-GOR-D999", "n_awards": 1, "amount_gbp": 1.0},
    ]
    assert unknown_funders(out[out["department"].notna()]).empty


def test_every_bundled_scheme_register_department_is_known(table):
    schemes = apply_departments(read_scheme_registers().schemes, table)
    report = unknown_funders(schemes)
    # Only the 2013-14 row whose Department cell is blank is unknown.
    assert report.to_dict("records") == [
        {"department_raw": "(none)", "funder_id": "(none)", "n_awards": 1, "amount_gbp": 75_000.0}
    ]
    named = schemes[schemes["department_raw"].notna()]
    mapping = dict(zip(named["department_raw"].str.strip(), named["department"], strict=True))
    assert mapping == {
        "BIS": "BIS",
        "Cabinet Office": "CO",
        "DfE": "DfE",
        "DCLG": "DCLG",
        "Home Office": "HO",
        "Defra": "DEFRA",
        "DCMS": "DCMS",
        "DfT": "DfT",
        "DH": "DH",
        "DECC": "DECC",
        "MOD": "MoD",
        "MoJ": "MoJ",
        "HMRC": "HMRC",
        "HMT": "HMT",
        "HO": "HO",
        "DEFRA": "DEFRA",
        "DWP": "DWP",
        "DfID": "DFID",
        "FCO": "FCO",
        "Department for International Development": "DFID",
        "Department for Business Innovation and Skills": "BIS",
        "Department for Transport": "DfT",
        "Department for Communities and Local Government": "DCLG",
        "Department for Education": "DfE",
        "Department for Environment, Food and Rural Affairs": "DEFRA",
        "Ministry of Justice": "MoJ",
        "Department for Culture, Media and Sport": "DCMS",
        "Department of Health": "DH",
        "Department for Work and Pensions": "DWP",
        "Foreign and Commonwealth Office": "FCO",
        "CLG Local Government": "DCLG",
        "Department of Energy and Climate Change": "DECC",
        "Ministry of Defence": "MoD",
        "HM Treasury": "HMT",
        "HM Revenue & Customs": "HMRC",
        "HMT Central Exchequer": "HMT",
    }


def test_bundled_table_has_verified_ids_only_for_d_numbers(table):
    ids = table[table["key_type"] == "org_id"]
    assert ids["key"].str.fullmatch(r"D\d+").all()
    assert dict(zip(ids["key"], ids["short_name"], strict=True))["D9"] == "DfT"
    assert dict(zip(ids["key"], ids["short_name"], strict=True))["D18"] == "MoJ"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "agency,D9,Department for Transport,DfT,DfT,,\n",
            "key_type must be one of name, org_id; found 'agency'",
        ),
        ("name,Department for Transport,Department for Transport,,DfT,,\n", "row 2: short_name is empty"),
        ("name,DfT,Department for Transport,DfT,DfT,1 April 2002,\n", "YYYY-MM-DD"),
        ("name,DfT,Department for Transport,DfT,DfT,2020-01-01,2019-01-01\n", "is not before valid_to"),
        (
            "name,DfT,Department for Transport,DfT,DfT,,\nname,dft ,Other,OTH,OTH,2000-01-01,\n",
            "rows 2 and 3 both match",
        ),
    ],
)
def test_bad_department_tables(tmp_path, body, expected):
    path = tmp_path / "departments.csv"
    path.write_text(HEADER + body)
    with pytest.raises(InputError) as err:
        load_departments(path)
    assert expected in str(err.value) and str(path) in str(err.value)


def test_missing_columns_named(tmp_path):
    path = tmp_path / "departments.csv"
    path.write_text("key,short_name\nDfT,DfT\n")
    with pytest.raises(InputError, match="lacks the column.*key_type.*found key, short_name"):
        load_departments(path)


def test_same_key_with_dates_that_do_not_overlap_is_fine(tmp_path):
    path = tmp_path / "departments.csv"
    path.write_text(
        HEADER + "name,X Office,X Office,XO,XO,,2010-01-01\nname,X Office,X Office,XNEW,XO,2010-01-01,\n"
    )
    table = load_departments(path)
    awards = _awards(
        [
            {"award_id": "1", "fy": "2008-09", "department_raw": "X office"},
            {"award_id": "2", "fy": "2012-13", "department_raw": "X office"},
        ]
    )
    assert apply_departments(awards, table)["department"].tolist() == ["XO", "XNEW"]


def test_matching_once_per_distinct_key_and_date_is_matching_every_row(table):
    """_match looks each distinct (key, date) up once; the answer per row is the row-by-row lookup's,
    for repeated, missing and unknown keys, missing dates and org-ids outside their dates."""
    from spendmap.transforms.departments import _match, _match_distinct

    rng = np.random.default_rng(7)
    names = pd.Series(["department for transport", "ministry of justice", "no such department", None])
    ids = pd.Series(["D1198", "D9", "D3", None, "D999999"])
    dates = pd.Series(pd.to_datetime(["2015-06-01", "2019-07-01", "2024-07-01", None]))
    for keys, key_type in ((names, "name"), (ids, "org_id")):
        row_keys = keys.iloc[rng.integers(0, len(keys), 400)].reset_index(drop=True)
        row_dates = dates.iloc[rng.integers(0, len(dates), 400)].reset_index(drop=True)
        per_distinct = _match(row_keys, row_dates, table, key_type)
        per_row = _match_distinct(row_keys, row_dates, table, key_type)
        assert len(per_row) > 100
        pd.testing.assert_frame_equal(per_distinct.sort_index(), per_row.sort_index(), check_exact=True)
