"""Matching lines of money to priorities: each rule, shared lines, funding by source, gaps, overlaps."""

from __future__ import annotations

import pandas as pd
import pytest

from spendmap.errors import InputError
from spendmap.sources.priorities import Priority
from spendmap.transforms.priority_matching import (
    check_cra_functions,
    gaps,
    keyword_pattern,
    match_priorities,
    priority_funding,
    priority_overlaps,
)

P1 = Priority("E06000032", "Luton", "safety", "Town-centre safety",
              policy_areas=("community safety and crime",),
              keywords=("anti-social behaviour", "begging"), schemes=("SCH-9",),
              cra_functions=("Public order and safety",))
P2 = Priority("E06000032", "Luton", "homeless", "Rough sleeping", keywords=("rough sleeping", "begging"))
P3 = Priority("E10000011", "East Sussex", "warm", "Warm homes", keywords=("fuel poverty",))


def _awards() -> pd.DataFrame:
    rows = [
        # id, la_code, county, funder_type, funder, department, scheme code, scheme title, title, policy, £
        ("a1", "E06000032", None, "central_government", "HO", "HO", "SCH-1", "Safer Streets", "CCTV",
         "community safety and crime", 100.0),
        ("a2", "E06000032", None, "lottery_distributor", "The National Lottery Community Fund", None, None,
         "Awards for All", "Street begging outreach", "unclassified", 50.0),
        ("a3", "E06000032", None, "charitable_funder", "A Trust", None, "SCH-9", "Small grants", "Youth club",
         "education", 25.0),
        ("a4", "E06000032", None, "central_government", "MoJ", "MoJ", None, "Victims", "Crimean war memorial",
         "justice and victims", 10.0),
        ("a5", "E08000036", None, "central_government", "HO", "HO", "SCH-9", "Safer Streets", "begging",
         "community safety and crime", 999.0),
        ("a6", "E07000062", "E10000011", "charitable_funder", "B Trust", None, None, "Fuel Poverty Fund",
         "Draughts", "fuel poverty", 7.0),
    ]
    cols = ["award_id", "la_code", "county_code", "funder_type", "funder_name", "department", "scheme_code",
            "scheme_title", "title", "policy_area", "amount_gbp"]
    df = pd.DataFrame(rows, columns=cols)
    return df.assign(fy="2020-21", description=None, recipient_name="R", source_file="f.json",
                     source_sheet="grants", source_row=range(1, len(df) + 1))


def test_each_rule_and_what_it_matched_on():
    m = match_priorities(_awards(), [P1, P2, P3]).set_index(["priority_id", "line_id"])
    assert m.loc[("safety", "a1"), "rules"] == "policy_area"
    assert m.loc[("safety", "a1"), "matched_on"] == "policy area 'community safety and crime'"
    assert m.loc[("safety", "a2"), "rules"] == "keyword"
    assert m.loc[("safety", "a2"), "matched_on"] == "keyword 'begging' in title"
    assert m.loc[("safety", "a3"), "rules"] == "scheme"
    assert m.loc[("safety", "a3"), "source"] == "charitable_grants"
    # Another place's award never matches, whatever its words: a5 is in Wakefield.
    assert "a5" not in m.index.get_level_values("line_id")
    # A county's priority takes the awards placed in its districts.
    assert m.loc[("warm", "a6"), "matched_on"] == "keyword 'fuel poverty' in scheme_title"
    assert len(m) == 5


def test_keywords_are_whole_words_in_any_case():
    assert keyword_pattern("crime").search("Crime and disorder")
    assert not keyword_pattern("crime").search("Crimean war memorial")
    assert keyword_pattern("anti-social behaviour").search("ANTI-SOCIAL   Behaviour team")


def test_a_shared_line_counts_in_full_in_each_priority():
    m = match_priorities(_awards(), [P1, P2, P3])
    shared = m[m["line_id"] == "a2"]
    assert set(shared["priority_id"]) == {"safety", "homeless"}
    assert list(shared["n_priorities_matched"]) == [2, 2]
    f = priority_funding(m, [P1, P2, P3], ["2020-21"])
    lottery = f[(f["source"] == "other_public_grants")].set_index("priority_id")["amount_gbp"]
    assert lottery.to_dict() == {"safety": 50.0, "homeless": 50.0, "warm": 0.0}


def test_funding_has_a_row_per_source_zero_for_gaps_and_cra_as_context():
    m = match_priorities(_awards(), [P1, P2, P3])
    cra = pd.DataFrame({"fy": "2020-21", "la_code": "E06000032",
                        "function": ["3. Public order and safety", "3. Public order and safety",
                                     "9. Education"],
                        "allocated_gbp": [1000.0, 500.0, 9.0]})
    f = priority_funding(m, [P1, P2, P3], ["2020-21"], cra).set_index(["priority_id", "source"])
    assert f.loc[("safety", "central_government_grants"), ["n_items", "amount_gbp"]].tolist() == [1, 100.0]
    assert f.loc[("safety", "charitable_grants"), "amount_gbp"] == 25.0
    assert f.loc[("safety", "cra_allocated"), ["n_items", "amount_gbp"]].tolist() == [2, 1500.0]
    assert ("homeless", "cra_allocated") not in f.index  # it names no CRA function
    assert f.loc[("homeless", "central_government_grants"), "n_items"] == 0
    assert "local_spend" not in f.index.get_level_values("source")  # no --local given
    g = gaps(f.reset_index(), place_total_gbp=10_000.0).set_index("priority_id")
    assert g.loc["safety", "amount_gbp"] == 175.0  # grants only: CRA context is never added
    assert g.loc["homeless", "gap"] == "little"  # £50 is under 1% of the place's £10,000
    assert g.loc["safety", "gap"] == ""
    assert g.loc["warm", "gap"] == "little" and g.loc["warm", "n_items"] == 1


def test_overlaps_need_two_funders():
    m = match_priorities(_awards(), [P1, P2, P3])
    o = priority_overlaps(m).set_index("priority_id")
    assert list(o.index) == ["safety"]
    assert o.loc["safety", "n_funders"] == 3
    assert o.loc["safety", "funders"] == "A Trust; HO; The National Lottery Community Fund"
    assert o.loc["safety", "funder_types"] == "central_government; charitable_funder; lottery_distributor"
    assert o.loc["safety", "n_items"] == 3 and o.loc["safety", "amount_gbp"] == 175.0


def test_local_spend_lines_match_by_explicit_id():
    local = pd.DataFrame({"la_code": ["E06000032", "E06000032"], "la_name": "Luton", "fy": "2020-21",
                          "amount_gbp": [40.0, 3.0], "description": ["Street marshals", "Parks"],
                          "spend_area": ["Community safety", "Parks"], "priority_id": ["homeless", None],
                          "source_organisation": [None, "Luton Council"], "source_file": "local.csv",
                          "source_sheet": None, "source_row": [2, 3]})
    m = match_priorities(_awards(), [P1, P2], local)
    line = m[m["line_kind"] == "local_spend"]
    assert line[["priority_id", "rules", "source", "funder_name"]].values.tolist() == [
        ["homeless", "explicit_id", "local_spend", "Luton"]]
    f = priority_funding(m, [P1, P2], ["2020-21"], local_given=True).set_index(["priority_id", "source"])
    assert f.loc[("homeless", "local_spend"), "amount_gbp"] == 40.0
    # The council's own spend is not another funder's overlap: one lottery award + a local line is none.
    assert "homeless" not in priority_overlaps(m)["priority_id"].tolist()


def test_unknown_cra_function_lists_the_editions():
    with pytest.raises(InputError) as err:
        check_cra_functions([P2, Priority("E06000032", "Luton", "x", "t", cra_functions=("Magic",))],
                            ["3. Public order and safety", "9. Education"], "p.yaml")
    assert "['Magic']" in str(err.value) and "3. Public order and safety; 9. Education" in str(err.value)
    check_cra_functions([P1], [], "p.yaml")  # no CRA for the run: nothing to check
    check_cra_functions([P1], ["3. Public order and safety"], "p.yaml")
