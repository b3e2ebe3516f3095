"""Each funder-type rule, the editable list's validation, and the bundled register's funders."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from spendmap.errors import InputError
from spendmap.sources.funders import load_known_funders
from spendmap.transforms.funder_types import FUNDER_TYPES, classify_funders


def _awards(rows: list[dict]) -> pd.DataFrame:
    cols = ["department_raw", "funder_id", "department", "funder_org_type"]
    return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows]).astype("string")


@pytest.mark.parametrize("row, expected, rule", [
    ({"department_raw": "Big Lottery Fund", "funder_id": "GB-GOR-PB188"}, "lottery_distributor",
     "known_list"),
    ({"department_raw": "THE NATIONAL LOTTERY COMMUNITY FUND"}, "lottery_distributor", "known_list"),
    ({"department_raw": "Arts Council England", "funder_id": "GB-CHC-1036733"}, "arms_length_body",
     "known_list"),
    ({"department_raw": "Some Trust", "funder_org_type": "Grantmaking Organisation"}, "charitable_funder",
     "grantnav"),
    ({"department_raw": "Scottish Government", "funder_org_type": "Devolved Government"},
     "central_government", "grantnav"),
    ({"department_raw": "Department for Transport", "department": "DfT"}, "central_government",
     "department"),
    ({"department_raw": "Dept X", "funder_id": "GB-GOR-D99"}, "central_government", "org_id_prefix"),
    ({"department_raw": "A Quango", "funder_id": "gb-gor-pb123"}, "arms_length_body", "org_id_prefix"),
    ({"department_raw": "Wakefield Council", "funder_id": "GB-LAE-WKF"}, "local_government",
     "org_id_prefix"),
    ({"department_raw": "Glasgow City Council", "funder_id": "GB-LAS-GLG"}, "local_government",
     "org_id_prefix"),
    ({"department_raw": "A Charity", "funder_id": "GB-CHC-123456"}, "charitable_funder", "org_id_prefix"),
    ({"department_raw": "A Scottish Charity", "funder_id": "GB-SC-SC009481"}, "charitable_funder",
     "org_id_prefix"),
    ({"department_raw": "An NI Charity", "funder_id": "GB-NIC-100001"}, "charitable_funder", "org_id_prefix"),
    # A company may be anything: never guessed.
    ({"department_raw": "Foundation Ltd", "funder_id": "GB-COH-01234567"}, "other", "unknown"),
    ({"department_raw": "Kind Council Trust"}, "other", "unknown"),
    ({}, "other", "unknown"),
])
def test_each_rule(row: dict, expected: str, rule: str):
    out = classify_funders(_awards([row]), load_known_funders())
    assert (out.loc[0, "funder_type"], out.loc[0, "funder_type_rule"]) == (expected, rule)
    assert out.loc[0, "funder_type"] in FUNDER_TYPES


def test_funder_name_is_the_known_name_else_department_else_as_published():
    out = classify_funders(_awards([
        {"department_raw": "Big Lottery Fund"},
        {"department_raw": "Department for Transport", "department": "DfT"},
        {"department_raw": " A Charity "},
        {},
    ]), load_known_funders())
    assert list(out["funder_name"]) == ["The National Lottery Community Fund", "DfT", "A Charity",
                                        "(funder not named)"]


def test_a_user_list_with_an_org_id_row(tmp_path: Path):
    path = tmp_path / "funders.csv"
    path.write_text("key_type,key,funder_type,funder_name,source\n"
                    "org_id,GB-COH-01234567,charitable_funder,Foundation Ltd,its accounts\n",
                    encoding="utf-8")
    out = classify_funders(_awards([{"funder_id": "gb-coh-01234567 "}]), load_known_funders(path))
    assert (out.loc[0, "funder_type"], out.loc[0, "funder_name"]) == ("charitable_funder", "Foundation Ltd")


@pytest.mark.parametrize("line, word", [
    ("name,X,charity,X,s", "funder_type 'charity'"),
    ("alias,X,other,X,s", "key_type 'alias'"),
    ("name,,other,X,s", "key ''"),
])
def test_bad_list_rows_are_one_paragraph(tmp_path: Path, line: str, word: str):
    path = tmp_path / "funders.csv"
    path.write_text("key_type,key,funder_type,funder_name,source\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_known_funders(path)
    assert word in str(err.value) and "row 2" in str(err.value)


def test_bundled_register_is_all_central_government():
    from spendmap.paths import BUNDLED_GRANTS, reference_path
    from spendmap.sources.grants import read_grants
    from spendmap.sources.rules import load_departments
    from spendmap.transforms.departments import apply_departments

    awards = apply_departments(read_grants(reference_path(*BUNDLED_GRANTS)).awards, load_departments())
    out = classify_funders(awards, load_known_funders())
    assert len(out) == 3351
    assert out.value_counts(["funder_type", "funder_type_rule"]).to_dict() == {
        ("central_government", "department"): 3351}
