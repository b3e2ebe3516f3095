"""360Giving JSON packages, GrantNav CSV exports and flat XLSX of the same grants read alike."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from spendmap.errors import InputError
from spendmap.sources.grants import read_grants
from spendmap.sources.threesixty import flatten_grant, is_json_package
from spendmap.testing.spreadsheets import write_xlsx

# Several funders (a lottery distributor, a charitable trust, a council, a department), nested
# locations, an ISO date with a time, a dd/mm/yyyy date, no postcode, a bad amount, a missing amount.
GRANTS = [
    {
        "id": "360G-tnlcomfund-0001", "title": "Warm Homes Hastings", "description": "Draught proofing",
        "currency": "GBP", "amountAwarded": 9500, "awardDate": "2020-06-15T00:00:00+01:00",
        "recipientOrganization": [{"id": "GB-CHC-1000001", "name": "Hastings Energy Club",
                                   "postalCode": "TN34 1QR", "charityNumber": "1000001",
                                   "location": [{"geoCode": "E07000062", "geoCodeType": "NMD",
                                                 "name": "Hastings"}]}],
        "fundingOrganization": [{"id": "GB-GOR-PC000001", "name": "The National Lottery Community Fund"}],
        "grantProgramme": [{"code": "AFA", "title": "Awards for All England"}],
        "beneficiaryLocation": [{"geoCode": "E07000062", "geoCodeType": "NMD", "name": "Hastings"},
                                {"geoCode": "E12000008", "geoCodeType": "RGN/GOR", "name": "South East"}],
        "plannedDates": [{"startDate": "2020-07-01", "endDate": "2021-06-30", "duration": 12}],
    },
    {
        "id": "360G-trust-77", "title": "Food club Walworth", "amountAwarded": "£12,000.50",
        "awardDate": "03/11/2020",
        "recipientOrganization": [{"id": "GB-COH-09999999", "name": "Walworth Food Co-op"}],
        "fundingOrganization": [{"id": "GB-CHC-200000", "name": "A Charitable Trust",
                                 "department": "Community grants"}],
        "beneficiaryLocation": [{"geoCode": "E09000028", "geoCodeType": "LONB", "name": "Southwark"}],
    },
    {
        "id": "360G-council-3", "title": "Youth club", "amountAwarded": "lots",
        "awardDate": "2020-09-01",
        "recipientOrganization": [{"id": "GB-CHC-300", "name": "Youth Club"}],
        "fundingOrganization": [{"id": "GB-LAE-WKF", "name": "Wakefield Council"}],
    },
    {
        "id": "360G-dept-4", "title": "No amount",
        "recipientOrganization": [{"id": "GB-CHC-400", "name": "Somebody"}],
        "fundingOrganization": [{"id": "GB-GOR-D1", "name": "Department for Education"}],
    },
]

# The same grants as GrantNav writes them (flat titles; GrantNav numbers repeated objects).
CSV_HEADER = [
    "Identifier", "Title", "Description", "Currency", "Amount Awarded", "Award Date",
    "Planned Dates:Start Date", "Planned Dates:End Date", "Planned Dates:Duration (months)",
    "Recipient Org:Identifier", "Recipient Org:Name", "Recipient Org:Charity Number",
    "Recipient Org:Postal Code", "Recipient Org:Location:0:Geographic Code",
    "Recipient Org:Location:0:Geographic Code Type", "Recipient Org:Location:0:Name",
    "Funding Org:Identifier", "Funding Org:Name", "Funding Org:Department",
    "Grant Programme:Code", "Grant Programme:Title",
    "Beneficiary Location:0:Name", "Beneficiary Location:0:Geographic Code",
    "Beneficiary Location:0:Geographic Code Type", "Beneficiary Location:1:Name",
    "Beneficiary Location:1:Geographic Code", "Beneficiary Location:1:Geographic Code Type",
    "Retrieved for use in GrantNav (additional data)",
]


def _csv_rows() -> list[list[object]]:
    rows = []
    for g in GRANTS:
        flat = flatten_grant(g)
        row = [flat.get(h, "") for h in CSV_HEADER]
        row[-1] = "2024-01-01T00:00:00"
        rows.append(row)
    return rows


@pytest.fixture
def package(tmp_path: Path) -> Path:
    path = tmp_path / "grants_2020-21.json"
    path.write_text(json.dumps({"grants": GRANTS}), encoding="utf-8")
    return path


@pytest.fixture
def grantnav_csv(tmp_path: Path) -> Path:
    path = tmp_path / "grantnav_2020-21.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_HEADER)
        w.writerows(_csv_rows())
    return path


@pytest.fixture
def flat_xlsx(tmp_path: Path) -> Path:
    rows = [[int(c) if isinstance(c, int) else c for c in r] for r in _csv_rows()]
    return write_xlsx(tmp_path / "flat_2020-21.xlsx", {"grants": [CSV_HEADER, *rows]})


_SOURCE = ["source_file", "source_sheet", "source_row", "input_id"]  # input_id: the file's own sha256


def test_json_csv_and_xlsx_give_identical_awards(package: Path, grantnav_csv: Path, flat_xlsx: Path):
    reads = [read_grants(p) for p in (package, grantnav_csv, flat_xlsx)]
    first = reads[0].awards.drop(columns=_SOURCE)
    assert len(first) == 2
    for other in reads[1:]:
        pd.testing.assert_frame_equal(first, other.awards.drop(columns=_SOURCE))
        assert list(other.rejects["reason"]) == list(reads[0].rejects["reason"])
    a = first.set_index("award_id")
    assert a.loc["360G-tnlcomfund-0001", "amount_gbp"] == 9500.0
    assert a.loc["360G-trust-77", "amount_gbp"] == 12000.5
    # An ISO date with a time and zone keeps its calendar date; dd/mm/yyyy is day first.
    assert str(a.loc["360G-tnlcomfund-0001", "award_date"].date()) == "2020-06-15"
    assert str(a.loc["360G-trust-77", "award_date"].date()) == "2020-11-03"
    assert a.loc["360G-tnlcomfund-0001", "location_codes"] == "E07000062; E12000008"
    assert a.loc["360G-tnlcomfund-0001", "location_code_types"] == "NMD; RGN/GOR"
    assert a.loc["360G-trust-77", "location_codes"] == "E09000028"
    assert a.loc["360G-tnlcomfund-0001", "scheme_title"] == "Awards for All England"
    assert a.loc["360G-trust-77", "funder_id"] == "GB-CHC-200000"
    assert pd.isna(a.loc["360G-trust-77", "recipient_postcode"])
    assert set(first["fy"]) == {"2020-21"}


def test_json_rejects_name_the_grant_and_reason(package: Path):
    read = read_grants(package)
    rej = read.rejects.set_index("source_row")
    assert list(read.rejects["source_sheet"]) == ["grants", "grants"]
    assert rej.loc[3, "reason"] == "amount not a number: 'lots'"
    assert rej.loc[4, "reason"] == "amount missing"
    assert json.loads(rej.loc[3, "original_values"])["Amount Awarded"] == "lots"
    assert read.info["rows_read"] == 4 and read.info["rows_accepted"] == 2
    assert list(read.awards["source_row"]) == [1, 2]


def test_not_an_object_grant_is_a_rejected_row(tmp_path: Path):
    path = tmp_path / "odd_2020-21.json"
    path.write_text(json.dumps({"grants": [GRANTS[0], "oops", {}]}), encoding="utf-8")
    read = read_grants(path)
    assert len(read.awards) == 1
    assert len(read.rejects) == 2
    assert all(r.startswith("not an award row") for r in read.rejects["reason"])


@pytest.mark.parametrize("text, expected", [
    ("[1, 2]", "not a 360Giving package"),
    ('{"grant": []}', "\"grants\" array"),
    ('{"grants": [', "not valid JSON"),
    ('{"grants": []}', "no grants"),
    ('{"grants": [{"id": "x", "title": "t"}]}', "has no grant with"),
])
def test_bad_packages_are_one_paragraph(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "bad_2020-21.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_grants(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)


def test_json_is_recognised_by_content_as_well_as_name(tmp_path: Path):
    path = tmp_path / "download.bin"
    path.write_bytes(b"\xef\xbb\xbf  {\"grants\": []}")
    assert is_json_package(path)
    assert not is_json_package(Path(__file__))


def test_plain_count_of_a_package_reconciles_with_the_read(package: Path):
    from spendmap.manifest import count_input

    read = read_grants(package)
    counted = count_input(package, read.info["sheet"], read.info["header_row"], read.info["amount_header"])
    assert counted == {"rows": 4, "amount_gbp": 21500.5}
    assert read.info["amount_accepted_gbp"] == 21500.5


def test_grantnav_funder_type_column_is_read_and_used(tmp_path: Path):
    from spendmap.sources.funders import load_known_funders
    from spendmap.transforms.funder_types import classify_funders

    path = tmp_path / "grantnav_2020-21.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Identifier", "Amount Awarded", "Award Date", "Recipient Org:Name",
                    "Funding Org:Identifier", "Funding Org:Name", "Funding Org: Org Type (additional data)"])
        w.writerow(["360G-x-1", "100", "2020-05-01", "A club", "GB-COH-01234567", "A Company Foundation",
                    "Grantmaking Organisation"])
        w.writerow(["360G-x-2", "200", "2020-05-01", "A club", "GB-COH-07654321", "Another Company", ""])
    awards = read_grants(path).awards
    assert list(awards["funder_org_type"].fillna("")) == ["Grantmaking Organisation", ""]
    out = classify_funders(awards, load_known_funders())
    assert out[["funder_type", "funder_type_rule"]].values.tolist() == [
        ["charitable_funder", "grantnav"], ["other", "unknown"]]
