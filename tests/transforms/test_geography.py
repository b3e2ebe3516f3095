"""The placement ladder, on crafted awards for each rung and on the real bundled register."""

import pandas as pd
import pytest

from spendmap.schemas import conform_awards
from spendmap.sources.councils import gss_to_current_gss, load_councils
from spendmap.sources.postcode_directory import PostcodeDirectory, load_builtin_directory, read_package_files
from spendmap.transforms.council_names import council_index
from spendmap.transforms.geography import (
    county_areas,
    first_council_code,
    geo_method_counts,
    place_awards,
    unplaced_table,
)
from spendmap.transforms.postcodes import lookup_postcodes


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    return load_builtin_directory(tmp_path_factory.mktemp("cache"))


def _awards(rows):
    base = {"amount_gbp": 1.0, "is_redacted": False, "fy": "2016-17"}
    return conform_awards(pd.DataFrame([{**base, "award_id": str(i), **r} for i, r in enumerate(rows)]))


def _place(awards, directory=None):
    found = None if directory is None else lookup_postcodes(awards["recipient_postcode"], directory)
    return place_awards(awards, load_councils(), gss_to_current_gss(), council_index(), found)


def test_each_rung(directory):
    awards = _awards([
        {"recipient_name": "Wakefield Council"},
        {"recipient_name": "Hastings Youth Club", "location_codes": "K02000001; E07000062",
         "location_code_types": "CTRY; LAD"},
        {"recipient_name": "A charity", "recipient_postcode": "wf1  2eb"},
        {"recipient_name": "Typo Ltd", "recipient_postcode": "LS26 OUE"},  # letter O for zero
        {"recipient_name": "Cut Off Ltd", "recipient_postcode": "BD10 8D"},  # sector BD10 8: all Bradford
        {"recipient_name": "Typo Ltd", "recipient_postcode": "AA1 1AA"},  # placeholder: takes LS26 0UE
        {"recipient_name": "Redacted", "is_redacted": True, "recipient_postcode": "WF1 2EB"},
        {"recipient_name": "Island Trust", "recipient_postcode": "GY1 1AA"},
        {"recipient_name": "Manx Trust", "recipient_postcode": "IM1 1AA"},
        {"recipient_name": "Nowhere Ltd", "recipient_postcode": "ZZ99 3VZ"},
        {"recipient_name": "Blank Ltd", "recipient_postcode": "N/A"},
        {"recipient_name": "Odd Ltd", "recipient_postcode": "Pontypridd"},
    ])
    placed = _place(awards, directory)
    assert placed["geo_method"].tolist() == [
        "council_match", "geo_code", "postcode", "postcode", "postcode_sector", "recipient_postcode",
        "unresolved", "unresolved", "unresolved", "unresolved", "unresolved", "unresolved",
    ]
    assert placed["la_code"].tolist()[:6] == [
        "E08000036", "E07000062", "E08000036", "E08000035", "E08000032", "E08000035",
    ]
    assert placed["postcode_status"].tolist() == [
        "blank", "blank", "matched", "corrected", "sector", "placeholder", "matched", "no_council",
        "no_council", "placeholder", "placeholder", "invalid",
    ]
    assert placed.loc[3, "geo_detail"] == "corrected"
    assert placed["unplaced_reason"].tolist()[6:] == [
        "redacted", "outside_uk_councils", "outside_uk_councils", "placeholder_postcode",
        "placeholder_postcode", "invalid_postcode",
    ]
    # Hastings is a district of East Sussex: the county is recorded beside it, the place stays Hastings.
    assert placed.loc[1, "county_code"] == "E10000011" and placed.loc[1, "region_code"] == "E12000008"
    assert placed["is_council_recipient"].tolist() == [True] + [False] * 11
    counts = geo_method_counts(placed)
    assert counts["unresolved"] == {"awards": 6, "amount_gbp": 6.0}
    assert sum(c["awards"] for c in counts.values()) == 12
    unplaced = unplaced_table(placed)
    assert len(unplaced) == 6 and unplaced["reason"].str.len().gt(10).all()
    assert "Channel Islands or Isle of Man" in unplaced.loc[1, "reason"]


def _tiny_directory():
    """Sector ZX1 1: 9 of 10 postcodes in Wakefield (90%, falls back); ZX1 2: 8 of 10 (does not)."""
    keys = [f"ZX11A{c}" for c in "ABDEFGHJLN"] + [f"ZX12A{c}" for c in "ABDEFGHJLN"]
    laua = ["E08000036"] * 9 + ["E08000035"] + ["E08000036"] * 8 + ["E08000035"] * 2
    return PostcodeDirectory.from_codes(pd.Series(keys), pd.Series(laua), {"name": "tiny"})


def test_sector_fallback_needs_ninety_percent():
    found = lookup_postcodes(pd.Series(["ZX1 1ZZ", "ZX1 2ZZ", "ZX1 1AA"]), _tiny_directory())
    assert found["postcode_status"].tolist() == ["sector", "not_found", "matched"]
    assert found["laua"].tolist()[0] == "E08000036" and found["sector_share"].iloc[0] == pytest.approx(0.9)
    assert pd.isna(found["laua"].iloc[1])


def test_recipient_postcode_never_from_conflicting_postcodes():
    awards = _awards([
        {"recipient_name": "One Place Trust", "recipient_id": "GB-CHC-1", "recipient_postcode": "ZX1 1AA"},
        {"recipient_name": "ONE PLACE TRUST LTD", "recipient_id": "GB-CHC-1"},  # same id: inferred
        {"recipient_name": "Two Places", "recipient_postcode": "ZX1 1AA"},
        {"recipient_name": "Two Places", "recipient_postcode": "ZX1 1AB"},
        {"recipient_name": "two places"},  # same normalised name, two postcodes: not inferred
    ])
    placed = _place(awards, _tiny_directory())
    assert placed["geo_method"].tolist() == [
        "postcode", "recipient_postcode", "postcode", "postcode", "unresolved",
    ]
    assert placed.loc[4, "unplaced_reason"] == "conflicting_recipient_postcodes"


def test_fuzzy_council_names_confirmed_by_postcode(directory):
    awards = _awards([
        {"recipient_name": "NORTH EAST LINCOLN COUNCIL", "recipient_postcode": "DN31 1HU"},
        {"recipient_name": "HARROW COUNCIL LONDON"},
        {"recipient_name": "BASINGSTOKE DISTRICT COUNCIL", "recipient_postcode": "RG21 4AH"},
        {"recipient_name": "BASINGSTOKE DISTRICT COUNCIL", "recipient_postcode": "WF1 2EB"},  # elsewhere
        {"recipient_name": "Restorative Justice Council"},  # not a council: no near council name
        {"recipient_name": "Hartley Wintney Parish Council"},
    ])
    placed = _place(awards, directory)
    assert placed["la_code"].tolist()[:4] == ["E06000012", "E09000015", "E07000084", "E08000036"]
    assert placed["geo_method"].tolist()[:4] == ["council_match"] * 3 + ["postcode"]
    assert placed["geo_detail"].tolist()[:3] == ["fuzzy_name"] * 3
    assert placed["geo_method"].tolist()[4:] == ["unresolved", "unresolved"]


def test_abolished_councils_pass_to_successors(directory):
    awards = _awards([
        {"recipient_name": "Cumbria County Council"},  # no postcode: its last HQ, Carlisle
        {"recipient_name": "x", "recipient_id": "GB-LAE-CMA", "recipient_postcode": "LA9 4AA"},  # Kendal
        {"recipient_name": "Northamptonshire County Council", "recipient_postcode": "NN1 5NX"},
        {"recipient_name": "North Yorkshire County Council"},
        {"recipient_name": "Aylesbury Vale District Council"},
        {"recipient_name": "x", "location_codes": "E08000016", "location_code_types": "LAD"},  # Barnsley
    ])
    placed = _place(awards, directory)
    assert placed["la_code"].tolist() == [
        "E06000063", "E06000064", "E06000062", "E06000065", "E06000060", "E08000038",
    ]
    assert placed["geo_detail"].tolist()[:3] == ["split_successor"] * 3
    assert placed["geo_method"].tolist()[:5] == ["council_match"] * 5


def test_without_a_directory_only_names_and_codes_place():
    awards = _awards([{"recipient_name": "A charity", "recipient_postcode": "WF1 2EB"}])
    placed = _place(awards)
    assert placed.loc[0, "geo_method"] == "unresolved"
    assert placed.loc[0, "unplaced_reason"] == "no_postcode_lookup"


def test_county_council_award_belongs_to_county_not_district():
    awards = _awards([{"recipient_name": "East Sussex County Council", "location_codes": "E07000061",
                       "location_code_types": "LAD"}])
    placed = _place(awards)
    assert placed.loc[0, "la_code"] == "E10000011"
    assert pd.isna(placed.loc[0, "county_code"])


def test_county_areas_add_districts_beside_the_county_council():
    awards = _awards([
        {"recipient_name": "East Sussex County Council", "amount_gbp": 100.0},
        {"recipient_name": "Hastings Club", "amount_gbp": 10.0, "location_codes": "E07000062"},
        {"recipient_name": "Lewes Club", "amount_gbp": 5.0, "location_codes": "E07000063"},
        {"recipient_name": "Wakefield Club", "amount_gbp": 7.0, "location_codes": "E08000036"},
    ])
    table = county_areas(_place(awards), load_councils(), ["2016-17"]).set_index("la_code")
    row = table.loc["E10000011"]
    assert (row["n_awards_county_council"], row["total_gbp_county_council"]) == (1, 100.0)
    assert (row["n_awards_in_districts"], row["total_gbp_in_districts"]) == (2, 15.0)
    assert (row["n_awards_county_area"], row["total_gbp_county_area"]) == (3, 115.0)
    assert table["n_awards_county_area"].sum() == 3  # Wakefield is in no county


def test_county_areas_count_an_award_without_amount_as_zero_and_one_without_year_in_no_row():
    awards = _place(_awards([
        {"recipient_name": "Hastings Club", "amount_gbp": 10.0, "location_codes": "E07000062"},
        {"recipient_name": "hastings club", "amount_gbp": 3.0, "location_codes": "E07000062"},
        {"recipient_name": "Lewes Club", "amount_gbp": 5.0, "location_codes": "E07000063"},
        {"recipient_name": "Rye Club", "amount_gbp": 4.0, "location_codes": "E07000062"},
    ]))
    awards.loc[2, "amount_gbp"] = float("nan")
    awards.loc[3, "fy"] = None
    table = county_areas(awards, load_councils(), ["2016-17", "2017-18"]).set_index(["la_code", "fy"])
    row = table.loc[("E10000011", "2016-17")]
    assert (row["n_awards_in_districts"], row["total_gbp_in_districts"]) == (3, 13.0)
    assert row["n_recipients_in_districts"] == 2  # Hastings Club under two spellings is one recipient
    assert table.loc[("E10000011", "2017-18"), "n_awards_county_area"] == 0
    assert table["n_awards_county_area"].sum() == 3


def test_redacted_never_matched_by_name():
    awards = _awards([{"recipient_name": "Wakefield Council", "is_redacted": True}])
    assert _place(awards).loc[0, "geo_method"] == "unresolved"


def test_first_council_code_by_type_or_pattern():
    codes = pd.Series(["K02000001", "E92000001; E08000025", "X1; S12000034", None])
    types = pd.Series(["CTRY", "CTRY; LAD", "WARD; ", None])
    assert first_council_code(codes, types).tolist()[1:3] == ["E08000025", "S12000034"]
    assert first_council_code(codes, types).iloc[[0, 3]].isna().all()


def test_real_register_placement_counts(bundled_awards, directory):
    """The bundled 2016-17 register (3,351 awards) with the built-in ONS directory.

    How the counts were derived, by reading the register and the directory:
    - council_match 469: 450 awards to councils named exactly (as before this change), + 12 to Cumbria
      (6) and Northamptonshire (6) county councils, split councils placed by their own postcodes
      (CA3 8NA Carlisle -> Cumberland, NN1 5NX Northampton -> West Northamptonshire), + 7 fuzzy names:
      NORTH EAST LINCOLN COUNCIL (4), HARROW COUNCIL LONDON, BASINGSTOKE DISTRICT COUNCIL and TELFORD &
      WREKIN COUNCIL T/A INTERGRATED TRANSPORT (1 each).
    - 2,147 awards carry a postcode (all DfT). 1,954 are in the directory as written (spaces and case
      aside), 2 more after an O->0 fix (LS26 OUE), 164 are the placeholder AA1 1AA, 3 are not postcodes
      (Pontypridd, TS17 61J, an address), 8 are well-formed but not in the directory, 16 fall back to a
      sector (9 not in the directory + 7 cut off, e.g. BD10 8D). Of the 1,954 + 2 + 16 = 1,972 placed
      postcodes, 462 belong to awards already placed as council_match, so postcode = 1,494 and
      postcode_sector = 11 (the other 5 sector awards are councils' own).
    - recipient_postcode 4: awards without a postcode whose recipient (same GGIS id or name) has one
      postcode on its other awards (HM Revenue & Customs, Brake, Open University).
    - unresolved 1,373 = 3,351 - 469 - 1,494 - 11 - 4: no postcode 1,199, placeholder 164, postcode not
      found 7 (the 8th is a council's), not a postcode 3.
    """
    placed = _place(bundled_awards, directory)
    counts = {m: v["awards"] for m, v in geo_method_counts(placed).items()}
    assert counts == {
        "council_match": 469, "geo_code": 0, "postcode": 1494, "postcode_sector": 11,
        "recipient_postcode": 4, "unresolved": 1373,
    }
    assert placed["postcode_status"].value_counts().to_dict() == {
        "matched": 1954, "blank": 1204, "placeholder": 164, "sector": 16, "not_found": 8, "invalid": 3,
        "corrected": 2,
    }
    assert placed["unplaced_reason"].value_counts().to_dict() == {
        "no_postcode": 1199, "placeholder_postcode": 164, "postcode_not_found": 7, "invalid_postcode": 3,
    }
    n_placed = placed["la_code"].notna().sum()
    share_gbp = placed.loc[placed["la_code"].notna(), "amount_gbp"].sum() / placed["amount_gbp"].sum()
    assert n_placed == 1978 >= 1950 and share_gbp >= 0.92
    assert placed["la_code"].nunique() == 319
    wakefield = placed[placed["la_code"] == "E08000036"]
    assert len(wakefield) == 10 and wakefield["recipient_name"].nunique() == 9  # real DfT recipients
    assert (wakefield["department_raw"] == "Department for Transport").all()


def test_postcode_rung_agrees_with_the_directory_itself(bundled_awards, directory):
    """Every award the postcode rung places is in the council the package's own files give for its
    (cleaned) postcode: read straight from the msgpack files, not through the cache."""
    placed = _place(bundled_awards, directory)
    keys, laua = read_package_files()
    truth = dict(zip(keys, laua, strict=True))
    by_postcode = placed[placed["geo_method"] == "postcode"]
    found = lookup_postcodes(by_postcode["recipient_postcode"], directory)
    expected = found["postcode_key"].map(truth)
    assert len(by_postcode) == 1494
    assert (expected == by_postcode["la_code"]).all()
    # Sector placements: the council the directory gives to most of the sector's postcodes.
    by_sector = placed[placed["geo_method"] == "postcode_sector"]
    sectors = lookup_postcodes(by_sector["recipient_postcode"], directory)["sector_key"]
    table = pd.DataFrame({"sector": keys.str[:-2], "laua": laua})
    dominant = table[table["sector"].isin(set(sectors))].groupby("sector")["laua"].agg(
        lambda s: s.value_counts().index[0]
    )
    assert (sectors.map(dominant) == by_sector["la_code"]).all()
    agree = (expected == by_postcode["la_code"]).sum() + len(by_sector)
    share = agree / (len(by_postcode) + len(by_sector))
    assert share >= 0.98


def test_placement_ladder_takes_the_first_rung_and_only_a_known_council():
    """queries/placement_ladder.sql: the first rung that names a council wins, in ladder order; a first
    rung naming no current council leaves the award unresolved even when a later rung names one."""
    import numpy as np

    from spendmap.queries import run

    wakefield, leeds, gone = "E08000036", "E08000035", "E07000004"  # Aylesbury Vale: not current
    none = None
    rungs = pd.DataFrame(
        [
            (none, none, leeds, wakefield, none),
            (wakefield, leeds, leeds, none, none),
            (none, none, none, none, leeds),
            (none, gone, wakefield, none, none),
            (none, none, none, none, none),
        ],
        columns=["council_match", "geo_code", "postcode", "postcode_sector", "recipient_postcode"],
        dtype="string",
    ).assign(position=np.arange(5))
    councils = load_councils()[["la_code", "la_name", "region_code", "county_code"]].astype("string")
    placed = run("placement_ladder", {"rungs": rungs, "councils": councils})
    assert placed["geo_method"].tolist() == [
        "postcode", "council_match", "recipient_postcode", "unresolved", "unresolved"]
    assert placed["la_code"].tolist()[:3] == [leeds, wakefield, leeds]
    assert placed["la_name"].tolist()[:3] == ["Leeds", "Wakefield", "Leeds"]
    assert placed["la_code"].iloc[3:].isna().all()
