"""Council grant profiles and small grants: two-tier places, exclusions, every council, real councils."""

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spendmap.paths import BUNDLED_GRANTS, reference_path
from spendmap.schemas import PLACE_SUMMARY_COLUMNS, SMALL_GRANTS_COLUMNS, conform_awards
from spendmap.sources.councils import gss_to_current_gss, load_councils
from spendmap.sources.grants import read_grants
from spendmap.steps import council_index
from spendmap.transforms.geography import place_awards
from spendmap.transforms.names import normalise_org_name, recipient_key
from spendmap.transforms.profiles import award_counts, place_summary, small_grants

KENT, MAIDSTONE, BIRMINGHAM = "E10000016", "E07000110", "E08000025"


@pytest.fixture(scope="module")
def councils():
    return load_councils()


def _awards(rows):
    base = {"fy": "2022-23", "amount_gbp": 1.0, "is_redacted": False, "is_council_recipient": False}
    return conform_awards(pd.DataFrame([{**base, **row} for row in rows]))


def _row(frame, la_code, **where):
    sel = frame["la_code"] == la_code
    for col, val in where.items():
        sel &= frame[col] == val
    rows = frame[sel]
    assert len(rows) == 1
    return rows.iloc[0]


def test_county_shows_its_own_awards_and_district_never_double_counts(councils):
    awards = _awards(
        [
            {
                "award_id": "1",
                "la_code": KENT,
                "is_council_recipient": True,
                "recipient_name": "Kent County Council",
                "scheme_code": "S1",
                "amount_gbp": 50_000.0,
            },
            {
                "award_id": "2",
                "la_code": MAIDSTONE,
                "county_code": KENT,
                "recipient_name": "Maidstone Youth Trust",
                "recipient_charity_number": "1012345",
                "scheme_code": "S1",
                "amount_gbp": 250_000.0,
            },
            {
                "award_id": "3",
                "la_code": MAIDSTONE,
                "county_code": KENT,
                "recipient_name": "Maidstone Borough Council",
                "is_council_recipient": True,
                "scheme_code": "S2",
                "amount_gbp": 20_000.0,
            },
        ]
    )
    summary = place_summary(awards, councils)
    kent, maidstone = _row(summary, KENT), _row(summary, MAIDSTONE)
    assert (kent.n_awards, kent.total_gbp, kent.n_small_awards) == (1, 50_000.0, 1)
    assert (maidstone.n_awards, maidstone.total_gbp, maidstone.n_small_awards) == (2, 270_000.0, 1)
    assert summary["n_awards"].sum() == 3  # each award in exactly one council
    small = small_grants(awards, councils)
    assert _row(small, KENT, scope="council").n_small == 1
    assert _row(small, MAIDSTONE, scope="council")[["n_awards", "n_small"]].tolist() == [1, 1]
    assert _row(small, MAIDSTONE, scope="all_recipients")[
        ["n_awards", "n_small", "share_small"]
    ].tolist() == [2, 1, 0.5]


def test_every_council_gets_a_row_even_without_awards(councils):
    awards = _awards([{"award_id": "1", "la_code": BIRMINGHAM, "amount_gbp": 10.0}])
    summary = place_summary(awards, councils)
    assert len(summary) == len(councils) and list(summary.columns) == PLACE_SUMMARY_COLUMNS
    empty = summary[summary["la_code"] != BIRMINGHAM]
    assert (
        (empty["n_awards"] == 0).all()
        and (empty["total_gbp"] == 0).all()
        and empty["share_small"].isna().all()
    )
    small = small_grants(awards, councils)
    assert len(small) == 2 * len(councils) and list(small.columns)[:8] == SMALL_GRANTS_COLUMNS
    # Years asked for but absent from the awards still get rows.
    assert len(place_summary(awards, councils, fys=["2021-22", "2022-23"])) == 2 * len(councils)


def test_zero_redacted_and_negative_awards_are_excluded_from_small_unless_asked(councils):
    awards = _awards(
        [
            {"award_id": "1", "la_code": BIRMINGHAM, "amount_gbp": 0.0, "recipient_name": "A"},
            {"award_id": "2", "la_code": BIRMINGHAM, "amount_gbp": 500.0, "is_redacted": True},
            {"award_id": "3", "la_code": BIRMINGHAM, "amount_gbp": -300.0, "recipient_name": "B"},
            {"award_id": "4", "la_code": BIRMINGHAM, "amount_gbp": 99_999.99, "recipient_name": "C"},
            {"award_id": "5", "la_code": BIRMINGHAM, "amount_gbp": 100_000.0, "recipient_name": "D"},
            {"award_id": "6", "la_code": None, "amount_gbp": 10.0, "recipient_name": "E"},
        ]
    )
    row = _row(small_grants(awards, councils), BIRMINGHAM, scope="all_recipients")
    assert row[
        ["n_awards", "n_small", "share_small", "n_all_awards", "n_zero_value", "n_negative", "n_redacted"]
    ].tolist() == [2, 1, 0.5, 5, 1, 1, 1]
    both = _row(
        small_grants(awards, councils, include_zero=True, include_redacted=True),
        BIRMINGHAM,
        scope="all_recipients",
    )
    assert both[["n_awards", "n_small"]].tolist() == [4, 3]
    higher = _row(small_grants(awards, councils, threshold=1_000_000), BIRMINGHAM, scope="all_recipients")
    assert higher[["n_small", "threshold_gbp"]].tolist() == [2, 1_000_000.0]
    summary = _row(place_summary(awards, councils), BIRMINGHAM)
    assert summary[["n_awards", "n_small_awards", "share_small", "n_recipients"]].tolist() == [5, 1, 0.5, 4]
    counts = award_counts(awards)
    assert {
        k: counts[k]
        for k in (
            "n_awards",
            "n_placed",
            "n_unplaced",
            "n_zero_value",
            "n_negative",
            "n_redacted",
            "n_tested_for_small",
            "n_small",
        )
    } == {
        "n_awards": 6,
        "n_placed": 5,
        "n_unplaced": 1,
        "n_zero_value": 1,
        "n_negative": 1,
        "n_redacted": 1,
        "n_tested_for_small": 3,
        "n_small": 2,
    }
    assert counts["gbp_redacted"] == 500.0 and counts["small_threshold_gbp"] == 100_000.0


def test_schemes_by_code_else_title_and_recipients_by_register_id_else_name(councils):
    awards = _awards(
        [
            {
                "award_id": "1",
                "la_code": BIRMINGHAM,
                "scheme_code": "SCH-1",
                "scheme_title": "Buses 2022/23",
                "recipient_id": "GB-CHC-1079327",
                "recipient_name": "Change Grow Live",
            },
            {
                "award_id": "2",
                "la_code": BIRMINGHAM,
                "scheme_code": "SCH-1",
                "scheme_title": "Buses (renamed)",
                "recipient_charity_number": "1079327",
                "recipient_name": "CGL",
            },
            {
                "award_id": "3",
                "la_code": BIRMINGHAM,
                "scheme_title": "Housing fund",
                "department": "DLUHC",
                "recipient_company_number": "3861209",
                "recipient_name": "Acme Homes Ltd",
            },
            {
                "award_id": "4",
                "la_code": BIRMINGHAM,
                "scheme_title": "HOUSING FUND",
                "department": "DLUHC",
                "recipient_id": "GB-COH-03861209",
                "recipient_name": "Acme Homes",
            },
            {
                "award_id": "5",
                "la_code": BIRMINGHAM,
                "scheme_title": "Housing fund",
                "department": "DfE",
                "recipient_id": "GGIS_ID_1",
                "recipient_name": "The Acme Trust Limited",
            },
            {
                "award_id": "6",
                "la_code": BIRMINGHAM,
                "scheme_title": "Housing fund",
                "department": "DfE",
                "recipient_id": "GGIS_ID_2",
                "recipient_name": "ACME TRUST LTD.",
            },
            {
                "award_id": "7",
                "la_code": BIRMINGHAM,
                "scheme_title": "Housing fund",
                "department": "DfE",
                "recipient_name": "Birmingham City Council",
                "is_council_recipient": True,
            },
            {
                "award_id": "8",
                "la_code": BIRMINGHAM,
                "scheme_title": "Housing fund",
                "department": "DfE",
                "recipient_name": "BIRMINGHAM CC",
                "is_council_recipient": True,
            },
        ]
    )
    keys = recipient_key(awards).tolist()
    assert keys == [
        "GB-CHC-1079327",
        "GB-CHC-1079327",
        "GB-COH-03861209",
        "GB-COH-03861209",
        "NAME:acme trust",
        "NAME:acme trust",
        "COUNCIL:E08000025",
        "COUNCIL:E08000025",
    ]
    row = _row(place_summary(awards, councils), BIRMINGHAM)
    assert (row.n_schemes, row.n_recipients, row.n_awards) == (3, 4, 8)


def test_normalised_names():
    names = pd.Series(["The Acme Trust Limited", "ACME TRUST LTD.", "Smith & Sons Co Ltd", "  ", None])
    assert normalise_org_name(names).tolist() == ["acme trust", "acme trust", "smith and sons", pd.NA, pd.NA]


CODES = [BIRMINGHAM, KENT, MAIDSTONE, None]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(CODES),
            st.sampled_from([0.0, -5.0, 10.0, 99_999.0, 100_000.0, 2e6]),
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from([100_000.0, 50.0]),
)
def test_small_plus_other_awards_are_all_a_places_awards(rows, threshold):
    councils = load_councils()
    awards = _awards(
        [
            {
                "award_id": str(i),
                "la_code": la,
                "amount_gbp": amount,
                "is_redacted": red,
                "is_council_recipient": own,
                "recipient_name": f"R{i}",
            }
            for i, (la, amount, red, own) in enumerate(rows)
        ]
    )
    summary = place_summary(awards, councils, threshold=threshold).set_index("la_code")
    small = small_grants(awards, councils, threshold=threshold)
    every = small[small["scope"] == "all_recipients"].set_index("la_code")
    own = small[small["scope"] == "council"].set_index("la_code")
    for code in CODES[:3]:
        mine = awards[awards["la_code"] == code]
        amount = mine["amount_gbp"]
        excluded = (amount <= 0) | mine["is_redacted"]
        is_small = ~excluded & (amount < threshold)
        other = ~is_small
        assert summary.loc[code, "n_small_awards"] + other.sum() == summary.loc[code, "n_awards"] == len(mine)
        assert every.loc[code, "n_all_awards"] == len(mine)
        assert every.loc[code, "n_small"] == is_small.sum()
        assert every.loc[code, "n_awards"] == (~excluded).sum()
        assert own.loc[code, "n_all_awards"] == mine["is_council_recipient"].sum()
        assert own.loc[code, "n_small"] <= every.loc[code, "n_small"]
    assert summary["n_awards"].sum() == awards["la_code"].notna().sum()


@pytest.fixture(scope="module")
def real_awards(councils):
    awards = read_grants(reference_path(*BUNDLED_GRANTS)).awards
    return place_awards(awards, councils, gss_to_current_gss(), council_index())


@pytest.mark.parametrize("la_code", [BIRMINGHAM, "E08000012", KENT])
def test_real_profiles_match_direct_pandas_counts(real_awards, councils, la_code):
    mine = real_awards[real_awards["la_code"] == la_code]
    amount = mine["amount_gbp"]
    tested = (amount > 0) & ~mine["is_redacted"].fillna(False).astype(bool)
    row = _row(place_summary(real_awards, councils), la_code)
    assert row.n_awards == len(mine)
    assert row.total_gbp == pytest.approx(amount.sum())
    assert row.n_schemes == mine["scheme_code"].nunique()
    # Offline, only councils themselves are placed (no postcode lookup): one recipient, the council.
    assert row.n_recipients == 1 and mine["is_council_recipient"].all()
    assert row.n_small_awards == (tested & (amount < 100_000)).sum()
    own = _row(small_grants(real_awards, councils), la_code, scope="council")
    assert own.n_awards == tested.sum() and own.n_zero_value == (amount == 0).sum()


def test_real_profiles_exact_figures(real_awards, councils):
    summary = place_summary(real_awards, councils).set_index("la_code")
    got = summary.loc[
        [BIRMINGHAM, "E08000012", KENT],
        ["n_schemes", "n_recipients", "n_awards", "total_gbp", "n_small_awards"],
    ]
    assert got.to_dict("index") == {
        BIRMINGHAM: {
            "n_schemes": 7,
            "n_recipients": 1,
            "n_awards": 7,
            "total_gbp": 67_357_102.0,
            "n_small_awards": 1,
        },
        "E08000012": {
            "n_schemes": 4,
            "n_recipients": 1,
            "n_awards": 5,
            "total_gbp": 25_697_504.0,
            "n_small_awards": 2,
        },
        KENT: {
            "n_schemes": 3,
            "n_recipients": 1,
            "n_awards": 7,
            "total_gbp": 32_959_817.0,
            "n_small_awards": 4,
        },
    }
    assert summary["n_awards"].sum() == real_awards["la_code"].notna().sum()


def test_no_awards_still_gives_every_council_for_the_years_asked(councils):
    from spendmap.schemas import empty_awards

    awards = empty_awards()
    assert len(place_summary(awards, councils, fys=["2016-17"])) == len(councils)
    assert len(small_grants(awards, councils, fys=["2016-17"])) == 2 * len(councils)
    assert award_counts(awards)["n_awards"] == 0
