"""Council recognition on real name variants from the bundled mySociety lookup."""

import pandas as pd
import pytest

from spendmap.errors import InputError
from spendmap.sources.councils import PFPP_CODES
from spendmap.steps import council_index
from spendmap.transforms.council_names import resolve_places


@pytest.fixture(scope="module")
def index():
    return council_index()


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Wakefield Metropolitan District Council", "E08000036"),
        ("WAKEFIELD MDC", "E08000036"),
        ("City of Wakefield", "E08000036"),
        ("City of Wakefield MDC", "E08000036"),
        ("WAKEFIELD COUNCIL", "E08000036"),
        ("East Sussex County Council", "E10000011"),  # the county, not Hastings
        ("Hastings Borough Council", "E07000062"),
        ("Kent County Council", "E10000016"),
        ("Durham County Council", "E06000047"),
        ("LINCOLN CITY COUNCIL", "E07000138"),  # the district, not Lincolnshire
        ("BATH & NE SOMERSET COUNCIL", "E06000022"),
        ("WINDSOR & MAIDENHEAD BOROUGH COUNCIL.", "E06000040"),
        ("TORBAY  COUNCIL", "E06000027"),
        ("London Borough of Hackney", "E09000012"),
        ("Aylesbury Vale District Council", "E06000060"),  # abolished 2020 -> Buckinghamshire
        ("BRADFORD METROPOLITAN BOROUGH COUNCIL", "E08000032"),
    ],
)
def test_council_recipients_matched_by_name(index, name, code):
    assert index.match_recipients(pd.Series([name])).iloc[0] == code


@pytest.mark.parametrize(
    "name",
    [
        "Droitwich Spa And Rural Council Voluntary Service",
        "Hartley Wintney Parish Council",
        "Southwold Town Council",
        "West Midlands Combined Authority",  # combined authorities are not councils
        "Transport for London",
        "Restorative Justice Council",
        "Age UK",
        "",
    ],
)
def test_non_councils_not_matched(index, name):
    assert pd.isna(index.match_recipients(pd.Series([name])).iloc[0])


def test_org_ids(index):
    ids = pd.Series(["GB-LAE-WKF", "GB-LAS-ABD", "gb-lae-bir ", "GB-CHC-1000", None])
    assert index.match_org_ids(ids).tolist()[:3] == ["E08000036", "S12000034", "E08000025"]
    assert index.match_org_ids(ids).iloc[3:].isna().all()


def test_find_accepts_codes_names_and_variants(index):
    for query in ("E08000036", "Wakefield", "Wakefield Council", "City of Wakefield MDC", "wkf"):
        assert index.find(query) == "E08000036"


def test_find_unknown_suggests_nearest(index):
    with pytest.raises(InputError) as err:
        index.find("Wakefeld")
    assert "Wakefield (E08000036)" in str(err.value)


def test_resolve_places_preset_and_list(index):
    assert resolve_places("pfpp", index, PFPP_CODES) == PFPP_CODES
    assert resolve_places("Wakefield, E08000025,wakefield", index, PFPP_CODES) == ["E08000036", "E08000025"]


def test_split_council_leads_to_its_own_code_and_the_cli_names_successors(index):
    """Cumbria (abolished 2023, split in two) matches its own former code; placement then applies the
    split rule (tests/transforms/test_geography.py). As a COUNCIL argument it names the successors."""
    assert index.match_recipients(pd.Series(["Cumbria County Council"])).iloc[0] == "E10000006"
    assert index.match_org_ids(pd.Series(["GB-LAE-NTH"])).iloc[0] == "E10000021"
    with pytest.raises(InputError, match=r"split between 2 councils: Cumberland \(E06000063\)"):
        index.find("Cumbria")


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("NORTH EAST LINCOLN COUNCIL", "E06000012"),
        ("HARROW COUNCIL LONDON", "E09000015"),
        ("BASINGSTOKE DISTRICT COUNCIL", "E07000084"),
        ("Wakefeild Council", "E08000036"),
        ("North Lincoln Council", "E06000013"),
        ("Yorkshire Council", None),  # as near to York as to North Yorkshire: no unique match
        ("Restorative Justice Council", None),
        ("Hartley Wintney Parish Council", None),
    ],
)
def test_fuzzy_council_names(index, name, code):
    found = index.match_fuzzy(pd.Series([name])).iloc[0]
    assert (pd.isna(found) and code is None) or found == code
