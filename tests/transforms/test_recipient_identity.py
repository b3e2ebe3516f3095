"""Recipient identity (organisations from ids, names and postcodes, every merge explained) and scheme
identity (funder lineage and code) as the Sankey, the table beside it and the profile count them."""

from __future__ import annotations

import pandas as pd
import pytest

from spendmap.award_layers import read_awards
from spendmap.schemas import conform_awards
from spendmap.sources.councils import council_org_ids, load_councils
from spendmap.steps import identify_recipients
from spendmap.transforms.names import recipient_key
from spendmap.transforms.page_figures import department_scheme_table
from spendmap.transforms.profiles import place_summary, scheme_key
from spendmap.transforms.recipient_identity import RECIPIENT_MERGE_COLUMNS, resolve_recipients

BIRMINGHAM, NORTH_YORKSHIRE = "E08000025", "E06000065"


def _awards(rows: list[dict]) -> pd.DataFrame:
    base = {
        "fy": "2016-17",
        "department": "DfT",
        "department_raw": "Department for Transport",
        "is_redacted": False,
        "is_council_recipient": False,
        "la_code": BIRMINGHAM,
        "amount_gbp": 1.0,
    }
    frame = conform_awards(pd.DataFrame([{**base, **r} for r in rows]))
    frame["award_id"] = [f"A{i}" for i in range(len(frame))]
    return frame


def test_one_organisation_under_three_identifiers_with_every_merge_explained():
    """A company number, a charity number given with it on one award, the charity's org-id on another,
    and a spelling with no id at the same postcode: one organisation, four records."""
    awards = _awards(
        [
            {
                "recipient_name": "Acme Community Transport Ltd",
                "recipient_company_number": "1234567",
                "recipient_postcode": "B9 4BZ",
            },
            {
                "recipient_name": "Acme Community Transport",
                "recipient_company_number": "01234567",
                "recipient_charity_number": "1100001",
            },
            {"recipient_name": "ACME COMMUNITY TRANSPORT", "recipient_id": "gb-chc-1100001"},
            {
                "recipient_name": "Acme Community Transport Limited",
                "recipient_id": "GB444690730",
                "recipient_postcode": "b94bz",
            },
            {"recipient_name": "Somebody Else", "recipient_postcode": "B9 4BZ"},
            {"recipient_name": "Hidden", "is_redacted": True},
        ]
    )
    before = recipient_key(awards)
    assert before.nunique() == 4  # company, charity (= its org-id), the unidentified spelling, somebody else
    identity = resolve_recipients(awards)
    orgs = identity.organisations
    assert orgs["organisation_id"].tolist()[:5] == ["GB-CHC-1100001"] * 4 + ["NAME:somebody else"]
    assert orgs["organisation_id"].isna().tolist() == [False] * 5 + [True]
    # Named by its most common spelling (ties: the first in text order).
    assert orgs["organisation_name"].iloc[0] == "ACME COMMUNITY TRANSPORT"
    assert identity.summary == {
        "recipient_records": 5,
        "recipient_keys_before": 4,
        "organisations": 2,
        "merges": 3,
        "merges_refused": 0,
        "rules": {"same_record": 1, "name_postcode": 2},
    }
    merges = identity.merges
    assert list(merges.columns) == RECIPIENT_MERGE_COLUMNS
    edges = set(
        zip(merges["identifier"], merges["joined_to"], merges["rule"], merges["award_id"], strict=True)
    )
    assert edges == {
        ("GB-CHC-1100001", "GB-COH-01234567", "same_record", "A1"),
        ("GB-COH-01234567", "NAMEPC:acme community transport|B94BZ", "name_postcode", "A0"),
        ("NAME:acme community transport", "NAMEPC:acme community transport|B94BZ", "name_postcode", "A3"),
    }
    assert set(merges["organisation_id"]) == {"GB-CHC-1100001"} and merges["merged"].all()
    explained = dict(zip(merges["award_id"], merges["explanation"], strict=True))
    assert explained == {
        "A1": "Award A1 gives both GB-CHC-1100001 and GB-COH-01234567: one organisation.",
        "A0": "Award A0 is to GB-COH-01234567 named 'acme community transport' at B94BZ: records with that "
        "name at that postcode are one organisation.",
        "A3": "Award A3 is to an unidentified recipient named 'acme community transport' at B94BZ: records "
        "with that name at that postcode are one organisation.",
    }
    # Every count of recipients downstream counts the organisation once.
    assert recipient_key(awards.assign(**orgs)).nunique() == 2


def test_a_name_never_joins_two_register_ids():
    """Two companies with the same name at one address stay two organisations; the refusal is listed."""
    awards = _awards(
        [
            {
                "recipient_name": "Arriva Ltd",
                "recipient_company_number": "111",
                "recipient_postcode": "SR1 3XY",
            },
            {
                "recipient_name": "Arriva Limited",
                "recipient_company_number": "222",
                "recipient_postcode": "SR1 3XY",
            },
            {"recipient_name": "ARRIVA", "recipient_postcode": "SR1 3XY"},
        ]
    )
    identity = resolve_recipients(awards)
    assert identity.organisations["organisation_id"].tolist() == [
        "GB-COH-00000111",
        "GB-COH-00000222",
        "GB-COH-00000111",
    ]
    refused = identity.merges[~identity.merges["merged"].astype(bool)]
    assert len(refused) == 1 and identity.summary["merges_refused"] == 1
    assert refused["explanation"].item().startswith("Not merged: ")


def test_predecessor_councils_stay_their_own_organisations():
    """Harrogate BC's and North Yorkshire County Council's 2016-17 awards are both placed in today's
    North Yorkshire; they are two organisations (their own org-ids), and spellings of one council one."""
    council = {"is_council_recipient": True, "la_code": NORTH_YORKSHIRE}
    awards = _awards(
        [
            {**council, "recipient_name": "HARROGATE BOROUGH COUNCIL"},
            {**council, "recipient_name": "North Yorkshire County Council"},
            {**council, "recipient_name": "north yorkshire county council"},
            {"is_council_recipient": True, "recipient_name": "Birmingham City Council"},
            {
                "is_council_recipient": True,
                "recipient_name": "Birmingham City Council",
                "recipient_id": "GB-LAE-BIR",
            },
        ]
    )
    assert recipient_key(awards).tolist()[:3] == ["COUNCIL:" + NORTH_YORKSHIRE] * 3  # before: one
    orgs = identify_recipients(awards).organisations
    assert orgs["organisation_id"].tolist() == [
        "GB-LAE-HAG",
        "GB-LAE-NYK",
        "GB-LAE-NYK",
        "GB-LAE-BIR",
        "GB-LAE-BIR",
    ]
    assert orgs["organisation_name"].iloc[0] == "HARROGATE BOROUGH COUNCIL"
    summary = place_summary(awards.assign(**orgs), load_councils())
    assert summary.set_index("la_code").loc[NORTH_YORKSHIRE, "n_recipients"] == 2


def test_council_org_ids_are_the_councils_own():
    ids = council_org_ids().set_index("name")["org_id"]
    assert ids["Harrogate Borough Council"] == "GB-LAE-HAG"
    assert ids["Birmingham City Council"] == "GB-LAE-BIR"


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The bundled register read, placed and classified as a run does."""
    from spendmap import steps
    from spendmap.paths import BUNDLED_GRANTS, reference_path

    tmp = tmp_path_factory.mktemp("identity")
    read = steps.ingest_grants([str(reference_path(*BUNDLED_GRANTS))], ["2016-17"], tmp)
    placed = steps.place_grants(read.awards, None, tmp)
    classified = steps.classify_awards([read.awards, placed.awards], tmp)
    return read_awards([read.awards, placed.awards, classified.awards]), classified.summary, tmp


def test_bundled_recipients_are_organisations(bundled):
    """2,039 recipient records are 2,019 organisations. West Midlands Travel 'Ltd' (no register id) and
    '… Limited' (company 02652253) at B9 4BZ are one; five predecessor councils (Harrogate, Sedgemoor,
    Poole, Kettering, Daventry) are no longer counted as their successor council."""
    awards, summary, tmp = bundled
    assert summary["recipient_identity"] == {
        "recipient_records": 2039,
        "recipient_keys_before": 2015,
        "organisations": 2019,
        "merges": 3,
        "merges_refused": 0,
        "rules": {"same_record": 1, "name_postcode": 2},
    }
    wmt = awards[awards["recipient_name"].str.startswith("West Midlands Travel", na=False)]
    assert set(wmt["recipient_name"]) == {"West Midlands Travel Ltd", "West Midlands Travel Limited"}
    assert set(wmt["organisation_id"]) == {"GB-COH-02652253"}
    merges = pd.read_parquet(tmp / "recipient_merges.parquet")
    assert set(merges["organisation_id"]) == {"GB-COH-02652253", "GB-CHC-279057"}
    new = place_summary(awards, load_councils()).set_index("la_code")["n_recipients"]
    old = place_summary(awards.drop(columns=["organisation_id", "organisation_name"]), load_councils())
    old = old.set_index("la_code")["n_recipients"]
    changed = (new - old)[new != old].to_dict()
    assert changed == {
        "E06000058": 1,
        "E06000061": 1,
        "E06000062": 1,
        "E06000065": 1,
        "E06000066": 1,
        BIRMINGHAM: -1,
    }


def test_scheme_codes_in_any_case_or_spacing_are_one_scheme_in_sankey_and_table():
    from spendmap.outputs.sankey import grants_sankey

    awards = _awards(
        [
            {
                "scheme_code": "sch-1",
                "scheme_title": "Bus fund",
                "recipient_name": "A Buses",
                "amount_gbp": 5.0,
            },
            {
                "scheme_code": "SCH-1 ",
                "scheme_title": "Bus fund",
                "recipient_name": "B Buses",
                "amount_gbp": 7.0,
            },
            # Another department's SCH-1 is another scheme.
            {
                "scheme_code": "SCH-1",
                "scheme_title": "Victims fund",
                "recipient_name": "C",
                "department": "MoJ",
                "department_raw": "Ministry of Justice",
                "amount_gbp": 1.0,
            },
        ]
    )
    assert scheme_key(awards).tolist() == ["CODE:DfT:SCH-1", "CODE:DfT:SCH-1", "CODE:MoJ:SCH-1"]
    table = department_scheme_table(awards)
    assert table[["department", "scheme_title", "n_awards", "n_recipients"]].values.tolist() == [
        ["DfT", "Bus fund", 2, 2],
        ["MoJ", "Victims fund", 1, 1],
    ]
    labels = grants_sankey(awards, "Birmingham", "2016-17").figure["data"][0]["node"]["label"]
    schemes = [lbl for lbl in labels if lbl.startswith(("Bus fund", "Victims fund"))]
    assert len(schemes) == 2 and any(lbl.startswith("Bus fund · £12") for lbl in schemes)


def test_records_of_their_own_and_records_that_share_an_identifier():
    """Most records share no identifier with another: each is its own organisation, named by its
    strongest identifier, and lists its same_record edge (a register id equal to its own charity number
    is one identifier named twice: no merge, none listed). Two records of one company (placed in two
    councils) are one organisation whose name-at-postcode edges merge nothing; a refusal given by two
    records is listed twice."""
    awards = _awards(
        [
            {"recipient_name": "Solo Trust", "recipient_charity_number": "1100002",
             "recipient_company_number": "7654321", "recipient_postcode": "LS1 1AA"},
            {"recipient_name": "Echo Trust", "recipient_id": "GB-CHC-1100003",
             "recipient_charity_number": "1100003"},
            {"recipient_name": "Twin Buses Ltd", "recipient_company_number": "333",
             "recipient_postcode": "M1 1AE"},
            {"recipient_name": "Twin Buses Ltd", "recipient_company_number": "333",
             "recipient_postcode": "M1 1AE", "la_code": NORTH_YORKSHIRE},
            {"recipient_name": "Twin Buses", "recipient_company_number": "444",
             "recipient_postcode": "M1 1AE"},
            {"recipient_name": "Twin Buses", "recipient_company_number": "444",
             "recipient_postcode": "M1 1AE", "la_code": NORTH_YORKSHIRE},
            {"recipient_name": "  ", "recipient_company_number": "444", "recipient_postcode": "M1 1AE"},
            {"recipient_name": "Nobody", "recipient_postcode": "B9"},  # an outward code alone: no edge
        ]
    )
    identity = resolve_recipients(awards)
    assert identity.organisations["organisation_id"].tolist() == [
        "GB-CHC-1100002", "GB-CHC-1100003", "GB-COH-00000333", "GB-COH-00000333",
        "GB-COH-00000444", "GB-COH-00000444", "GB-COH-00000444", "NAME:nobody",
    ]
    # A blank name never labels an organisation.
    assert identity.organisations["organisation_name"].tolist()[4:7] == ["Twin Buses"] * 3
    merges = identity.merges
    columns = ["organisation_id", "identifier", "joined_to", "rule", "merged", "award_id"]
    assert merges[columns].values.tolist() == [
        ["GB-CHC-1100002", "GB-CHC-1100002", "GB-COH-07654321", "same_record", True, "A0"],
        ["GB-COH-00000444", "GB-COH-00000444", "NAMEPC:twin buses|M11AE", "name_postcode", False, "A4"],
        ["GB-COH-00000444", "GB-COH-00000444", "NAMEPC:twin buses|M11AE", "name_postcode", False, "A5"],
    ]
    assert merges["explanation"].iloc[0] == (
        "Award A0 gives both GB-CHC-1100002 and GB-COH-07654321: one organisation."
    )
    assert merges["explanation"].iloc[1] == (
        "Not merged: GB-COH-00000444 and the name 'twin buses' at M11AE share a name and postcode, but each "
        "already belongs to an organisation with its own register id."
    )
    assert identity.summary == {
        "recipient_records": 8,
        "recipient_keys_before": 5,
        "organisations": 5,
        "merges": 1,
        "merges_refused": 2,
        "rules": {"same_record": 1, "name_postcode": 2},
    }


def test_no_record_with_two_identifiers_lists_no_merges():
    identity = resolve_recipients(_awards([{"recipient_name": "Alpha"}, {"recipient_name": "Beta"}]))
    assert identity.organisations["organisation_id"].tolist() == ["NAME:alpha", "NAME:beta"]
    assert list(identity.merges.columns) == RECIPIENT_MERGE_COLUMNS and identity.merges.empty
    assert identity.summary["organisations"] == 2 and identity.summary["merges"] == 0


def test_whitespace_is_what_python_regex_calls_whitespace():
    """names.WHITESPACE lets pandas run whitespace patterns in Arrow: it must be exactly Python's \\s."""
    import re
    import sys

    from spendmap.transforms.names import WHITESPACE

    every = [chr(c) for c in range(sys.maxunicode + 1)]
    assert [c for c in every if re.fullmatch(f"[{WHITESPACE}]", c)] == [c for c in every if c.isspace()]
    postcodes = pd.Series(["b9\u00a04bz", "B9\t4BZ", "B9 \u3000 4BZ"], dtype="string")
    ids = recipient_key(_awards([{"recipient_name": "X", "recipient_company_number": " 12\u00a034 "}]))
    assert ids.tolist() == ["GB-COH-00001234"]
    assert postcodes.str.upper().str.replace(f"[{WHITESPACE}]+", "", regex=True).tolist() == ["B94BZ"] * 3
