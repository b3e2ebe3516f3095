"""The council reference, checked against the ONS lookups bundled beside it."""

import pandas as pd

from spendmap.paths import reference_path
from spendmap.sources.councils import (
    PFPP_CODES,
    REGION_CODES,
    gss_to_current_gss,
    load_councils,
)


def test_council_counts_by_tier():
    councils = load_councils()
    assert len(councils) == 382 and councils["la_code"].is_unique
    assert councils["tier"].value_counts().to_dict() == {"unitary": 197, "district": 164, "county": 21}
    assert councils["region_code"].isin(REGION_CODES.values()).all()
    assert councils["population_2020"].gt(0).all()
    assert set(PFPP_CODES) <= set(councils["la_code"])


def test_district_counties_agree_with_ons_lookup():
    """Every district whose code is unchanged since April 2020 has the county ONS gives it."""
    ons = pd.read_csv(reference_path("ons_lookups", "LAD20_CTY20_Apr2020_lookup_England.csv"))
    councils = load_councils().set_index("la_code")
    current = ons[ons["LAD20CD"].isin(councils.index) & ons["CTY20CD"].isin(councils.index)]
    assert len(current) > 150
    mine = councils.loc[current["LAD20CD"], "county_code"].tolist()
    assert mine == current["CTY20CD"].tolist()
    assert councils.loc["E07000062", "county_code"] == "E10000011"  # Hastings in East Sussex


def test_former_codes_follow_ons_upper_tier_history():
    """Districts ONS listed in 2019 map to a current council; mergers go to the new unitary."""
    ons = pd.read_csv(reference_path("ons_lookups", "LTLA19_UTLA19_Apr2019_lookup_EW.csv"))
    mapping = gss_to_current_gss()
    assert all(code in mapping for code in ons["LTLA19CD"])
    assert {mapping[c] for c in ("E07000004", "E07000005", "E07000006", "E07000007")} == {"E06000060"}
    assert mapping["E06000048"] == "E06000057"  # Northumberland's former code
    assert mapping["E07000026"] == "E06000063"  # Allerdale -> Cumberland (2023)
    assert "E10000006" not in mapping  # Cumbria county split in two: no single successor
