"""--local spend: the template and example in docs/, and every bad row rejected with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spendmap.errors import InputError
from spendmap.sources.councils import load_councils
from spendmap.sources.local_spend import LOCAL_COLUMNS, read_local_spend
from spendmap.sources.priorities import load_run_priorities
from spendmap.transforms.council_names import council_index

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _read(path: Path, years=("2016-17",)):
    councils = load_councils()
    return read_local_spend(path, years=list(years), find_council=council_index().find,
                            council_names=dict(zip(councils["la_code"], councils["la_name"], strict=True)),
                            priorities=load_run_priorities(None))


def test_template_header_is_the_contracts():
    assert (DOCS / "local_spend_template.csv").read_text(encoding="utf-8").strip() == ",".join(LOCAL_COLUMNS)


def test_the_example_reads_whole():
    read = _read(DOCS / "local_spend_example.csv")
    assert read.rejects.empty
    lines = read.lines
    assert list(lines["la_code"]) == ["E08000036", "E08000036", "E08000036", "E07000062", "E06000032"]
    assert lines["amount_gbp"].sum() == 120000 + 35500 + 18000 + 42000 + 65000
    assert list(lines["source_row"]) == [2, 3, 4, 5, 6]
    assert lines["priority_id"].isna().tolist() == [False, True, False, False, False]


def test_bad_rows_are_rejected_with_reasons(tmp_path: Path):
    path = tmp_path / "local.csv"
    path.write_text(
        "place,fy,amount_gbp,description,spend_area,priority_id,source_organisation\n"
        "Wakefield,2016-17,100,ok,Education,ebsa-absence,\n"  # 2
        ",2016-17,100,no place,,,\n"  # 3
        "Nowhereshire,2016-17,100,unknown place,,,\n"  # 4
        "Luton,16/17,100,bad year,,,\n"  # 5
        "Luton,,100,no year,,,\n"  # 6
        "Luton,2016-17,,no amount,,,\n"  # 7
        "Luton,2016-17,lots,bad amount,,,\n"  # 8
        "Luton,2016-17,100,wrong priority,,ebsa-absence,\n"  # 9: Wakefield's id, not Luton's
        "Luton,2020-21,100,another year,,,\n"  # 10
        ",,,,,,\n",  # blank: not a row
        encoding="utf-8")
    read = _read(path)
    assert list(read.lines["source_row"]) == [2]
    reasons = dict(zip(read.rejects["source_row"], read.rejects["reason"], strict=True))
    assert reasons == {
        3: "place missing",
        4: "place is not a council: 'Nowhereshire'",
        5: "fy is not a financial year written like 2020-21: '16/17'",
        6: "fy missing",
        7: "amount missing",
        8: "amount not a number: 'lots'",
        9: "priority_id 'ebsa-absence' is not one of the place's priorities",
        10: "outside the run's years (2020-21, run: 2016-17)",
    }
    assert json.loads(read.rejects.set_index("source_row").loc[8, "original_values"])["amount_gbp"] == "lots"
    assert read.info["rows_read"] == 9 and read.info["rows_accepted"] == 1 and read.info["rows_rejected"] == 8


def test_missing_columns_is_one_paragraph(tmp_path: Path):
    path = tmp_path / "local.csv"
    path.write_text("council,amount\nLuton,5\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        _read(path)
    assert "lacks required column(s)" in str(err.value) and "fy" in str(err.value)
