"""Policy-area rules: first match wins, COFOG fallback, scheme context, bad rule files, real awards."""

import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spendmap.errors import InputError
from spendmap.paths import BUNDLED_GRANTS, reference_path
from spendmap.schemas import conform_awards
from spendmap.sources.grants import read_grants
from spendmap.sources.rules import RULE_TEXT_FIELDS, UNCLASSIFIED, load_departments, load_policy_rules
from spendmap.sources.schemes import read_scheme_registers
from spendmap.transforms.departments import apply_departments
from spendmap.transforms.policy_areas import POLICY_BASES, classify_policy_areas, unclassified_share

ISSUE_AREAS = {
    "business support",
    "homelessness and rough sleeping",
    "housing",
    "regeneration",
    "net zero and energy efficiency",
    "fuel poverty",
    "green infrastructure",
    "skills and adult learning",
    "employment",
    "careers and 14-19",
    "substance misuse",
    "community safety and crime",
    "justice and victims",
    "public health",
    "social care",
    "children, young people and families",
    "education",
    "transport",
    "culture, heritage and sport",
    "digital",
}


@pytest.fixture(scope="module")
def rules():
    return load_policy_rules()


def _awards(rows):
    return conform_awards(pd.DataFrame([{"amount_gbp": 1.0, **row} for row in rows]))


def test_bundled_rules_cover_every_area_the_issue_names(rules):
    assert ISSUE_AREAS <= set(rules["policy_area"])
    assert rules["rule_id"].is_unique


@pytest.mark.parametrize(
    ("scheme_title", "title", "expected"),
    [
        ("Rough Sleeping Initiative", "", "homelessness and rough sleeping"),
        ("Growth Hub funding", "Support for SMEs", "business support"),
        ("Green Homes Grant Local Authority Delivery", "", "net zero and energy efficiency"),
        ("Warm Homes Discount support", "", "fuel poverty"),
        ("Project ADDER", "drug treatment", "substance misuse"),
        ("Disabled Facilities Grant", "", "housing"),
        ("Adult Education Budget", "", "skills and adult learning"),
        ("Careers Hubs", "", "careers and 14-19"),
        ("Kickstart Scheme", "jobs for young people", "employment"),
        ("Supporting Families", "", "children, young people and families"),
        ("Local Full Fibre Networks", "gigabit broadband", "digital"),
        ("Towns Fund", "", "regeneration"),
        ("Bus Service Operator Grants", "", "transport"),
        ("Youth Justice (YOT) Grant", "", "justice and victims"),
        ("Increased enforcement for drug driving", "", "community safety and crime"),
        ("Better Care Fund", "", "social care"),
        ("Public Health Grant", "", "public health"),
        ("Museums and galleries", "", "culture, heritage and sport"),
        ("Urban Tree Challenge Fund", "", "green infrastructure"),
        ("Dedicated Schools Grant", "", "education"),
        ("Miscellaneous payment", "", UNCLASSIFIED),
    ],
)
def test_keyword_rules(rules, scheme_title, title, expected):
    out = classify_policy_areas(
        _awards([{"award_id": "1", "scheme_title": scheme_title, "title": title}]), rules
    )
    assert out["policy_area"].tolist() == [expected]
    assert pd.isna(out["policy_rule"].iloc[0]) == (expected == UNCLASSIFIED)


def test_first_matching_rule_wins_and_rule_id_is_recorded(tmp_path):
    path = tmp_path / "rules.csv"
    path.write_text(
        "rule_id,policy_area,fields,pattern\n"
        "A1,justice and victims,text,victim\n"
        "B1,community safety and crime,text,crime|police\n"
        "C1,public health,cofog,^health$\n"
    )
    rules = load_policy_rules(path)
    awards = _awards(
        [
            {"award_id": "1", "scheme_title": "Victims of crime fund"},
            {"award_id": "2", "scheme_title": "Police grant"},
            {"award_id": "3", "scheme_title": "Odd grant", "cofog": "Health"},
            {
                "award_id": "4",
                "scheme_title": "Odd grant",
                "description": "health",
            },  # cofog rule reads cofog only
        ]
    )
    out = classify_policy_areas(awards, rules)
    assert out["policy_area"].tolist() == [
        "justice and victims",
        "community safety and crime",
        "public health",
        UNCLASSIFIED,
    ]
    assert out["policy_rule"].tolist()[:3] == ["A1", "B1", "C1"]


def test_scheme_register_context_by_scheme_code(rules):
    schemes = pd.DataFrame(
        {
            "fy": ["2016-17"],
            "scheme_code": ["SCH-9"],
            "scheme_title": ["Steps to Success"],
            "description": ["To enable prisoners to experience higher education."],
            "cofog": ["Public order and safety"],
        }
    )
    awards = _awards(
        [
            {"award_id": "1", "scheme_code": "SCH-9", "scheme_title": "Steps to Success"},
            {"award_id": "2", "scheme_code": "SCH-8", "scheme_title": "Steps to Success"},
        ]
    )
    assert classify_policy_areas(awards, rules)["policy_area"].tolist() == [UNCLASSIFIED, UNCLASSIFIED]
    out = classify_policy_areas(awards, rules, schemes=schemes)
    assert out["policy_area"].tolist() == ["justice and victims", UNCLASSIFIED]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("A1,housing,text,(unclosed\n", "is not a valid regular expression"),
        ("A1,housing,text,housing\nA1,transport,text,bus\n", "A1 appear more than once (rows 2, 3)"),
        ("A1,housing,headline,housing\n", "unknown field 'headline'"),
        ("A1,housing,text,x*\n", "matches empty text"),
        ("A1,unclassified,text,x\n", "cannot be a rule's policy_area"),
        ("A1,,text,x\n", "row 2: policy_area is empty"),
    ],
)
def test_bad_rule_files(tmp_path, body, expected):
    path = tmp_path / "policy_rules.csv"
    path.write_text("rule_id,policy_area,fields,pattern\n" + body)
    with pytest.raises(InputError) as err:
        load_policy_rules(path)
    assert expected in str(err.value) and str(path) in str(err.value)


def test_rule_file_without_pattern_column(tmp_path):
    path = tmp_path / "policy_rules.csv"
    path.write_text("rule_id,policy_area,fields\nA1,housing,text\n")
    with pytest.raises(InputError, match="lacks the column.*pattern.*found rule_id, policy_area, fields"):
        load_policy_rules(path)


WORDS = ["bus", "victim", "housing", "school", "fund", "grant", "local", "carbon", "drug", "", "x", "care"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(*(st.sampled_from(WORDS) for _ in RULE_TEXT_FIELDS[:3])), min_size=1, max_size=30))
def test_every_award_gets_exactly_one_area_the_first_matching_rule(texts):
    rules = load_policy_rules()
    awards = _awards(
        [
            {"award_id": str(i), "scheme_title": a, "title": b, "description": c}
            for i, (a, b, c) in enumerate(texts)
        ]
    )
    out = classify_policy_areas(awards, rules)
    assert len(out) == len(awards) and out["policy_area"].notna().all()
    assert ((out["policy_area"] == UNCLASSIFIED) == out["policy_rule"].isna()).all()
    # Independent row-by-row reference: the evidence tiers in order (scheme COFOG, scheme words, award
    # words, COFOG division); in each, the first rule whose pattern matches its fields of that tier.
    tiers = [
        ("cofog",), ("scheme_title", "scheme_description"), ("title", "description"), ("cofog_division",)
    ]
    for (a, b, c), area, basis in zip(texts, out["policy_area"], out["policy_basis"], strict=True):
        values = {"scheme_title": a, "title": b, "description": c, "scheme_description": "", "cofog": ""}
        values["cofog_division"] = values["cofog"]
        expected = next(
            (
                (r.policy_area, i)
                for i, tier in enumerate(tiers)
                for r in rules.itertuples()
                if [f for f in r.fields if f in tier]
                and re.search(r.pattern, " | ".join(values[f] for f in r.fields if f in tier), re.IGNORECASE)
            ),
            (UNCLASSIFIED, None),
        )
        assert area == expected[0]
        assert (pd.isna(basis) and expected[1] is None) or basis == POLICY_BASES[expected[1]][0]


def test_scheme_first_then_award_title_and_the_basis_is_recorded(rules):
    awards = _awards(
        [
            # The scheme's words decide even where the award's words name another area.
            {"award_id": "1", "scheme_title": "Bus Service Operators Grant", "title": "Victim transport"},
            # No scheme words match: the award's title decides.
            {"award_id": "2", "scheme_title": "Miscellaneous fund", "title": "Victim support"},
            # COFOG naming one area decides before any words.
            {"award_id": "3", "scheme_title": "Bus grant", "cofog": "Defence"},
            # A COFOG division spanning several areas waits until no words matched.
            {"award_id": "4", "scheme_title": "Victim support", "cofog": "Public order and safety"},
            {"award_id": "5", "scheme_title": "Miscellaneous fund", "cofog": "Public order and safety"},
            {"award_id": "6", "scheme_title": "Miscellaneous fund"},
        ]
    )
    out = classify_policy_areas(awards, rules)
    assert out["policy_area"].tolist() == [
        "transport",
        "justice and victims",
        "defence and armed forces",
        "justice and victims",
        "community safety and crime",
        UNCLASSIFIED,
    ]
    assert out["policy_rule"].tolist()[:5] == ["TR01", "JV02", "CF01", "JV02", "CF13"]
    assert out["policy_basis"].tolist()[:5] == [
        "scheme_title", "award_title", "scheme_cofog", "scheme_title", "cofog_division"
    ]
    assert pd.isna(out["policy_basis"].iloc[5]) and pd.isna(out["policy_rule"].iloc[5])


def test_each_tier_matches_distinct_texts_not_awards(rules, monkeypatch):
    """A million awards of a few schemes cost a few regex passes: matching sees each text once."""
    seen = []
    from pandas.core.strings.accessor import StringMethods

    real = StringMethods.contains

    def spy(self, pat, *args, **kwargs):
        seen.append(len(self._data))
        return real(self, pat, *args, **kwargs)

    monkeypatch.setattr(StringMethods, "contains", spy)
    titles = ("Bus grant", "Odd", "Victims fund")
    awards = _awards([{"award_id": str(i), "scheme_title": titles[i % 3]} for i in range(3000)])
    out = classify_policy_areas(awards, rules)
    assert out["policy_area"].value_counts().to_dict() == {
        "transport": 1000, "justice and victims": 1000, UNCLASSIFIED: 1000
    }
    assert seen and max(seen) <= 3


@pytest.fixture(scope="module")
def real_awards(rules):
    awards = read_grants(reference_path(*BUNDLED_GRANTS)).awards
    schemes = read_scheme_registers().schemes
    awards = apply_departments(awards, load_departments())
    return classify_policy_areas(awards, rules, schemes=schemes)


def test_real_awards_unclassified_share_per_department(real_awards):
    report = unclassified_share(real_awards).set_index("department")
    direct = (
        real_awards.assign(u=real_awards["policy_area"] == UNCLASSIFIED)
        .groupby("department")["u"]
        .agg(["size", "sum"])
    )
    assert report["n_awards"].to_dict() == direct["size"].to_dict() == {"DfT": 2577, "MoJ": 774}
    assert report["n_unclassified"].to_dict() == direct["sum"].to_dict()
    assert report.loc["DfT", "n_unclassified"] == 32 and report.loc["MoJ", "n_unclassified"] == 0
    assert (report["share_unclassified"] < 0.02).all()
    unclassified_amount = real_awards.loc[real_awards["policy_area"] == UNCLASSIFIED, "amount_gbp"].sum()
    assert report["amount_unclassified"].sum() == pytest.approx(unclassified_amount)


def test_real_awards_main_areas(real_awards):
    counts = real_awards.groupby(["department", "policy_area"]).size()
    assert counts[("DfT", "transport")] == 2143
    assert counts[("MoJ", "justice and victims")] == 574
    # Supported Child Contact Centres: the scheme's title names children; the award text names courts.
    assert counts[("MoJ", "children, young people and families")] == 194
    assert counts[("DfT", "net zero and energy efficiency")] == 290
    # Scheme first: the scheme's words decide 3,227 of 3,351 awards, the award's words 88, a COFOG
    # division 4 (DfT "Environment protection" schemes with no matching words); 32 stay unclassified.
    assert real_awards["policy_basis"].value_counts(dropna=False).to_dict() == {
        "scheme_title": 3227, "award_title": 88, "cofog_division": 4, pd.NA: 32
    }
    # Every award has one area; every classified award names the rule that decided it.
    assert real_awards["policy_area"].notna().all()
    assert (real_awards["policy_rule"].isna() == (real_awards["policy_area"] == UNCLASSIFIED)).all()


def test_a_scheme_that_names_housing_is_housing():
    frame = conform_awards(
        pd.DataFrame(
            {
                "scheme_title": [
                    "Brownfield Housing Fund",
                    "Housing Infrastructure Fund",
                    "Brownfield Land Release Fund",
                ],
                "title": ["Regeneration of brownfield land"] * 3,
                "amount_gbp": [1.0, 2.0, 4.0],
            }
        )
    )
    out = classify_policy_areas(frame, load_policy_rules())
    assert out["policy_area"].tolist() == ["housing", "housing", "regeneration"]
    assert out["policy_rule"].tolist() == ["HO00", "HO00", "RG01"]


def test_unclassified_totals_on_the_bundled_register():
    from spendmap.transforms.policy_areas import unclassified_totals

    awards = read_grants(reference_path(*BUNDLED_GRANTS)).awards
    awards = classify_policy_areas(apply_departments(awards, load_departments()), load_policy_rules())
    totals = unclassified_totals(awards)
    direct = awards[awards["policy_area"] == UNCLASSIFIED]
    assert totals["awards"] == len(direct)
    assert totals["amount_gbp"] == round(float(direct["amount_gbp"].sum()), 2)


@pytest.mark.parametrize(
    ("scheme_title", "title", "area", "sub_area"),
    [
        ("Highways Maintenance Block 2016/17", "", "transport", "roads and highways maintenance"),
        ("English Community Transport 2016/17", "", "transport", "buses and community transport"),
        ("Bus Service Operator Grants (outside London)", "", "transport", "buses and community transport"),
        ("Bikeability 2016/17", "", "transport", "active travel"),
        ("Thameslink (Capital) 16/17", "", "transport", "rail, tram and metro"),
        ("Integrated Transport Block 2016/17", "", "transport", "local transport improvements"),
        ("Plugged in Car grant 16/17", "", "net zero and energy efficiency", "low-emission vehicles"),
        ("Green Homes Grant", "", "net zero and energy efficiency", "net zero and energy efficiency"),
        ("Affordable Homes Programme", "", "housing", "housing"),
        ("Female Rape Support Fund 2016-17", "", "justice and victims", "victims and witnesses"),
        ("Business growth grant", "", "business support", "business support"),
        ("Miscellaneous", "", UNCLASSIFIED, UNCLASSIFIED),
    ],
)
def test_sub_areas_split_broad_areas(rules, scheme_title, title, area, sub_area):
    from spendmap.sources.rules import load_subarea_rules
    from spendmap.transforms.policy_areas import classify_sub_areas

    subrules = load_subarea_rules(areas=set(rules["policy_area"]))
    out = classify_sub_areas(classify_policy_areas(_awards([{"scheme_title": scheme_title, "title": title}]),
                                                   rules), subrules)
    assert (out["policy_area"].iloc[0], out["policy_subarea"].iloc[0]) == (area, sub_area)
    # The rule that decided is recorded; an area's own name as sub-area has none.
    assert pd.isna(out["policy_subrule"].iloc[0]) == (sub_area == area)


def test_sub_area_rule_for_an_area_the_policy_rules_do_not_have(tmp_path, rules):
    from spendmap.sources.rules import load_subarea_rules

    path = tmp_path / "subareas.csv"
    path.write_text("rule_id,policy_area,sub_area,fields,pattern\nX1,transprot,buses,text,\\bbus\n")
    with pytest.raises(InputError, match=r"row 2 \(rule X1\): policy_area 'transprot' is not an area"):
        load_subarea_rules(path, areas=set(rules["policy_area"]))
    path.write_text("rule_id,policy_area,sub_area,fields,pattern\nX1,transport,buses,cofog,\\bbus\n")
    with pytest.raises(InputError, match="unknown field 'cofog'"):
        load_subarea_rules(path)


def test_allocation_method_from_the_scheme_register():
    from spendmap.transforms.policy_areas import allocation_methods

    schemes = read_scheme_registers().schemes
    awards = _awards([{"scheme_code": c} for c in
                      ("SCH-000000476", "sch-000000499 ", "SCH-000003476", "SCH-000003532", "SCH-NONE")])
    assert allocation_methods(awards, schemes).tolist() == [
        "formula", "un-competed", "competed", "criteria-based", pd.NA
    ]
