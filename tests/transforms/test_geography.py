"""The placement ladder: council_match, geo_code, postcode, unresolved."""

import pandas as pd

from spendmap.schemas import conform_awards
from spendmap.sources.councils import gss_to_current_gss, load_councils
from spendmap.steps import council_index
from spendmap.transforms.geography import first_council_code, geo_method_counts, place_awards


def _awards(rows):
    return conform_awards(pd.DataFrame(rows))


def _place(awards, postcodes=None):
    return place_awards(awards, load_councils(), gss_to_current_gss(), council_index(), postcodes)


def test_ladder_records_each_method():
    awards = _awards(
        [
            {"award_id": "1", "recipient_name": "Wakefield Council", "amount_gbp": 10.0, "is_redacted": False,
             "location_codes": "E07000062", "location_code_types": "LAD"},
            {"award_id": "2", "recipient_name": "Hastings Youth Club", "amount_gbp": 20.0,
             "is_redacted": False,
             "location_codes": "K02000001; E07000062", "location_code_types": "CTRY; LAD"},
            {"award_id": "3", "recipient_name": "A charity", "amount_gbp": 30.0, "is_redacted": False,
             "recipient_postcode": "ls1 1aa"},
            {"award_id": "4", "recipient_name": "Nowhere Ltd", "amount_gbp": 40.0, "is_redacted": False,
             "recipient_postcode": "ZZ9 9ZZ"},
            {"award_id": "5", "recipient_name": "Redacted", "amount_gbp": 50.0, "is_redacted": True},
        ]
    )
    # What sources.postcodes.lookup_postcodes gives per award: the district of the recipient postcode.
    postcode_district = pd.Series([pd.NA, pd.NA, "E08000035", pd.NA, "E08000035"], dtype="string")
    placed = _place(awards, postcode_district)
    expected = ["council_match", "geo_code", "postcode", "unresolved", "unresolved"]
    assert placed["geo_method"].tolist() == expected
    assert placed["la_code"].tolist()[:3] == ["E08000036", "E07000062", "E08000035"]
    assert placed["is_council_recipient"].tolist() == [True, False, False, False, False]
    # Hastings is a district of East Sussex: the county is recorded beside it, the place stays Hastings.
    assert placed.loc[1, "county_code"] == "E10000011"
    assert placed.loc[1, "region_code"] == "E12000008"
    counts = geo_method_counts(placed)
    assert counts["unresolved"] == {"awards": 2, "amount_gbp": 90.0}
    assert sum(c["awards"] for c in counts.values()) == 5


def test_former_codes_map_to_current_council():
    awards = _awards([{"award_id": "1", "recipient_name": "x", "amount_gbp": 1.0, "is_redacted": False,
                       "location_codes": "E07000004", "location_code_types": "LAD"}])  # Aylesbury Vale
    assert _place(awards).loc[0, "la_code"] == "E06000060"  # Buckinghamshire


def test_county_council_award_belongs_to_county_not_district():
    awards = _awards([{"award_id": "1", "recipient_name": "East Sussex County Council", "amount_gbp": 1.0,
                       "is_redacted": False, "location_codes": "E07000061", "location_code_types": "LAD"}])
    placed = _place(awards)
    assert placed.loc[0, "la_code"] == "E10000011"
    assert pd.isna(placed.loc[0, "county_code"])


def test_redacted_never_matched_by_name():
    awards = _awards([{"award_id": "1", "recipient_name": "Wakefield Council", "amount_gbp": 1.0,
                       "is_redacted": True}])
    assert _place(awards).loc[0, "geo_method"] == "unresolved"


def test_first_council_code_by_type_or_pattern():
    codes = pd.Series(["K02000001", "E92000001; E08000025", "X1; S12000034", None])
    types = pd.Series(["CTRY", "CTRY; LAD", "WARD; ", None])
    assert first_council_code(codes, types).tolist()[1:3] == ["E08000025", "S12000034"]
    assert first_council_code(codes, types).iloc[[0, 3]].isna().all()


def test_real_register_placement_counts(bundled_awards):
    """On the real 2016-17 register (no postcode lookup bundled) councils are found by name only.

    Checked by reading the recipient list: every recipient with "council" in its name is matched,
    except these, which are not principal councils or have no single successor.
    """
    placed = _place(bundled_awards)
    councilish = placed["recipient_name"].str.contains("council", case=False)
    unmatched = set(placed.loc[councilish & (placed["geo_method"] != "council_match"), "recipient_name"])
    assert unmatched == {
        "Cumbria County Council", "Northamptonshire County Council",  # split into two unitaries
        "NORTH EAST LINCOLN COUNCIL", "BASINGSTOKE DISTRICT COUNCIL", "HARROW COUNCIL LONDON",
        "TELFORD & WREKIN COUNCIL T/A INTERGRATED TRANSPORT",  # misspelt or truncated names
        "Droitwich Spa And Rural Council Voluntary Service", "Cotswold Council for Voluntary Service",
        "HAYDON WICK PARISH COUNCIL COMMUNITY TRANSPORT", "Hartley Wintney Parish Council",
        "MELKSHAM COUNCIL OF COMMUNITY SERVICE", "Southwold Town Council", "Restorative Justice Council",
    }
    matched = placed[placed["geo_method"] == "council_match"]
    assert len(placed) == 3351
    assert len(matched) == 450 and matched["recipient_name"].str.len().gt(0).all()
    assert (placed["geo_method"] == "unresolved").sum() == 2901
    nottingham = placed[placed["la_name"] == "Nottingham"]
    assert len(nottingham) == 10 and set(nottingham["recipient_name"]) == {"NOTTINGHAM CITY COUNCIL"}
