"""360Giving location codes: LSOA and ward codes place by their council; regions and countries do not."""

from __future__ import annotations

import csv

import pandas as pd

from spendmap.paths import reference_path
from spendmap.sources.area_lookups import LSOA_LOOKUP, WARD_LOOKUP, area_to_council
from spendmap.transforms.location_codes import expand_area_codes, mark_wide_locations, only_wide_codes


def _raw(parts, key, value, wanted):
    with reference_path(*parts).open(encoding="utf-8-sig", newline="") as fh:
        return next(r[value] for r in csv.DictReader(fh) if r[key] == wanted)


def test_lookups_follow_the_bundled_files():
    lookup = area_to_council()
    # Wakefield's LSOAs and wards (independently read from the raw files).
    assert _raw(LSOA_LOOKUP, "lsoa", "local-authority-code", "E01011954") == "HPL"
    assert lookup["E01011954"] == "E06000001"  # HPL = Hartlepool
    assert _raw(WARD_LOOKUP, "WD19CD", "LAD19CD", "E05012456") == "E06000003"
    assert lookup["E05012456"] == "E06000003"
    # A 2019 ward of a district abolished since lands in its successor (Aylesbury Vale: Buckinghamshire).
    ward = _raw(WARD_LOOKUP, "LAD19CD", "WD19CD", "E07000004")
    assert lookup[ward] == "E06000060"


def test_area_codes_get_their_council_after_them():
    codes = pd.Series(["E01011954; E12000001", "E05012456", "E08000036", None], dtype="string")
    types = pd.Series(["LSOA; RGN", "WD", "MD", None], dtype="string")
    c, t = expand_area_codes(codes, types, area_to_council())
    assert c.tolist()[:3] == ["E01011954; E06000001; E12000001", "E05012456; E06000003", "E08000036"]
    assert t.tolist()[:3] == ["LSOA; ; RGN", "WD; ", "MD"]
    assert pd.isna(c.iloc[3])


def test_only_regions_or_countries_are_unplaced_with_that_reason():
    codes = pd.Series(["E12000008", "E92000001; E12000001", "E12000008; E08000036", "", "K02000001"])
    types = pd.Series(["RGN/GOR", "", "RGN; MD", "", ""])
    assert only_wide_codes(codes, types).tolist() == [True, True, False, False, True]
    placed = pd.DataFrame({"location_codes": codes, "location_code_types": types,
                           "geo_method": ["unresolved", "postcode", "geo_code", "unresolved", "unresolved"],
                           "unplaced_reason": ["no_postcode", None, None, "no_postcode", "invalid_postcode"]})
    placed["unplaced_reason"] = placed["unplaced_reason"].astype("string")
    out = mark_wide_locations(placed)
    assert out["unplaced_reason"].fillna("").tolist() == ["region_or_country_code", "", "", "no_postcode",
                                                          "invalid_postcode"]
