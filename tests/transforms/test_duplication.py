"""Duplication findings reproducing the spend-mapping report's examples, and the national scheme view."""

import pandas as pd
import pytest

from spendmap.award_layers import read_awards
from spendmap.schemas import DUPLICATION_COLUMNS, DUPLICATION_EXTRA_COLUMNS, conform_awards
from spendmap.sources.rules import UNCLASSIFIED, load_departments, load_policy_rules, load_subarea_rules
from spendmap.sources.schemes import read_scheme_registers
from spendmap.transforms.departments import apply_departments
from spendmap.transforms.duplication import (
    explain_finding,
    find_duplication,
    finding_awards,
    finding_rows,
    national_scheme_overlaps,
    number_findings,
)
from spendmap.transforms.policy_areas import classify_policy_areas, classify_sub_areas

WAKEFIELD, BIRMINGHAM, CORNWALL = "E08000036", "E08000025", "E06000052"
NAMES = {WAKEFIELD: "Wakefield", BIRMINGHAM: "Birmingham", CORNWALL: "Cornwall"}


@pytest.fixture(scope="module")
def tables():
    rules = load_policy_rules()
    return load_departments(), rules, load_subarea_rules(areas=set(rules["policy_area"]))


def _prepare(rows, tables):
    """Crafted awards classified as a run classifies them (departments, areas, sub-areas)."""
    departments, rules, subrules = tables
    base = {"fy": "2020-21", "is_redacted": False, "is_council_recipient": False}
    frame = conform_awards(
        pd.DataFrame([{**base, "la_name": NAMES.get(r.get("la_code")), **r} for r in rows])
    )
    frame["award_id"] = [str(i) for i in range(len(frame))]
    return classify_sub_areas(classify_policy_areas(apply_departments(frame, departments), rules), subrules)


def test_beis_and_dluhc_business_support_in_one_place(tables):
    awards = _prepare(
        [
            {
                "department_raw": "Department for Business, Energy and Industrial Strategy",
                "scheme_code": "SCH-1",
                "scheme_title": "Growth Hub funding",
                "recipient_name": "Wakefield Enterprise Ltd",
                "recipient_company_number": "1234567",
                "la_code": WAKEFIELD,
                "amount_gbp": 250_000.0,
            },
            {
                "department_raw": "Ministry of Housing, Communities and Local Government",
                "scheme_code": "SCH-2",
                "scheme_title": "ERDF SME Competitiveness",
                "recipient_name": "Wakefield Council",
                "is_council_recipient": True,
                "la_code": WAKEFIELD,
                "amount_gbp": 1_000_000.0,
            },
        ],
        tables,
    )
    assert set(awards["policy_area"]) == {"business support"}
    findings = find_duplication(awards)
    # The contract's columns, unrenamed, then the sub-area, allocation, rank and the sentence.
    assert list(findings.columns) == DUPLICATION_COLUMNS + DUPLICATION_EXTRA_COLUMNS == [
        *DUPLICATION_COLUMNS, "policy_subarea", "allocation_methods", "n_formula_to_council", "score",
        "explanation", "funder_types",
    ]
    assert findings.to_dict("records") == [
        {
            "fy": "2020-21",
            "la_code": WAKEFIELD,
            "la_name": "Wakefield",
            "policy_area": "business support",
            "kind": "cross_department",
            "departments": "BEIS; MHCLG",
            "n_departments": 2,
            "schemes": "ERDF SME Competitiveness; Growth Hub funding",
            "n_schemes": 2,
            "recipients": "Wakefield Council; Wakefield Enterprise Ltd",
            "n_recipients": 2,
            "n_awards": 2,
            "total_gbp": 1_250_000.0,
            "policy_subarea": "business support",
            "allocation_methods": "not stated",
            "n_formula_to_council": 0,
            "score": 4,
            "explanation": "2 departments (BEIS; MHCLG) fund business support in Wakefield through 2 schemes "
            "to 2 recipients. Listed because more than one department funds the same purpose in one place.",
            # Awards classified without funder types are central government when a department matched.
            "funder_types": "central_government",
        }
    ]


def test_dluhc_eleven_housing_grants_in_birmingham(tables):
    dluhc = "Department for Levelling Up, Housing and Communities"
    council = {"recipient_name": "Birmingham City Council", "is_council_recipient": True}
    wmca = {"recipient_name": "West Midlands Combined Authority", "recipient_id": "GB-GOR-PB999"}
    rows = [
        {**council, "scheme_title": "Disabled Facilities Grant", "amount_gbp": 9_000_000.0},
        {**council, "scheme_title": "Housing Delivery Fund", "amount_gbp": 2_000_000.0},
        {**wmca, "scheme_title": "Housing Infrastructure Fund", "amount_gbp": 30_000_000.0},
        {**wmca, "scheme_title": "Housing Package", "amount_gbp": 5_000_000.0},
    ]
    associations = [
        ("Midland Heart", "1111111"),
        ("Bromford Housing Association", "2222222"),
        ("Clarion Housing", "3333333"),
        ("Birmingham Municipal Housing Trust", "4444444"),
    ]
    for i, (name, number) in enumerate(associations + associations[:3]):
        rows.append(
            {
                "scheme_title": "Affordable Homes Programme",
                "recipient_name": name,
                "recipient_company_number": number,
                "amount_gbp": 1_000_000.0 + i,
            }
        )
    rows = [{"department_raw": dluhc, "la_code": BIRMINGHAM, **r} for r in rows]
    awards = _prepare(rows, tables)
    assert len(awards) == 11 and set(awards["policy_area"]) == {"housing"}
    findings = find_duplication(awards)
    assert len(findings) == 1
    f = findings.iloc[0]
    assert (f.kind, f.departments, f.n_departments, f.n_schemes, f.n_recipients, f.n_awards) == (
        "within_department",
        "DLUHC",
        1,
        5,
        6,
        11,
    )
    assert f.total_gbp == pytest.approx(46_000_000.0 + 7_000_000.0 + sum(range(7)))
    assert f.schemes == (
        "Affordable Homes Programme; Disabled Facilities Grant; Housing Delivery Fund; "
        "Housing Infrastructure Fund; Housing Package"
    )
    assert "West Midlands Combined Authority" in f.recipients and "Birmingham City Council" in f.recipients


def test_four_net_zero_programmes_to_ten_recipients_in_cornwall(tables):
    schemes = [
        "Public Sector Decarbonisation Scheme",
        "Green Homes Grant Local Authority Delivery",
        "Heat Network Delivery Unit",
        "Low Carbon Skills Fund",
    ]
    recipients = [
        "Cornwall Council",
        "Truro and Penwith College",
        "Falmouth University",
        "Cornwall Partnership NHS Foundation Trust",
        "Kernow Solar Ltd",
        "Penwith Heat Pumps Ltd",
        "Tamar Retrofit Ltd",
        "St Austell Insulation Ltd",
        "Bodmin Energy Co-op",
        "Cornwall Wildlife Trust",
    ]
    rows = [
        {
            "department_raw": "BEIS",
            "scheme_title": schemes[i % 4],
            "recipient_name": name,
            "la_code": CORNWALL,
            "is_council_recipient": name == "Cornwall Council",
            "amount_gbp": 100_000.0 * (i + 1),
        }
        for i, name in enumerate(recipients)
    ]
    awards = _prepare(rows, tables)
    assert set(awards["policy_area"]) == {"net zero and energy efficiency"}
    findings = find_duplication(awards)
    assert findings[["kind", "departments", "n_schemes", "n_recipients", "n_awards", "total_gbp"]].to_dict(
        "records"
    ) == [
        {
            "kind": "within_department",
            "departments": "BEIS",
            "n_schemes": 4,
            "n_recipients": 10,
            "n_awards": 10,
            "total_gbp": 5_500_000.0,
        }
    ]


def test_what_is_left_out(tables):
    base = {"la_code": WAKEFIELD, "scheme_title": "Housing grant", "amount_gbp": 1.0}
    awards = _prepare(
        [
            # One lineage under two names in one year is one department, not a cross-department finding.
            {
                **base,
                "department_raw": "Department for Communities and Local Government",
                "recipient_name": "A",
            },
            {
                **base,
                "department_raw": "Ministry of Housing, Communities and Local Government",
                "recipient_name": "A",
            },
            # Unknown department, unplaced award and unclassified awards are never findings.
            {**base, "department_raw": "Department of Mysteries", "recipient_name": "B"},
            {**base, "department_raw": "DfT", "recipient_name": "C", "la_code": None},
            {**base, "department_raw": "DfT", "scheme_title": "Miscellaneous", "recipient_name": "D"},
            {**base, "department_raw": "DfE", "scheme_title": "Miscellaneous", "recipient_name": "E"},
        ],
        tables,
    )
    assert (awards["policy_area"] == UNCLASSIFIED).sum() == 2
    assert find_duplication(awards).empty
    assert list(find_duplication(awards).columns) == DUPLICATION_COLUMNS + DUPLICATION_EXTRA_COLUMNS


def test_finding_rows_are_one_narrow_row_per_award_with_scheme_and_organisation(tables):
    awards = _prepare(
        [
            {
                "department_raw": "DfT",
                "scheme_title": "Bus grant",
                "recipient_name": "Bus Operators",
                "la_code": WAKEFIELD,
                "amount_gbp": 5.0,
            },
            {
                "department_raw": "DfT",
                "scheme_title": "Bus grant",
                "recipient_name": "Bus Operators",
                "la_code": WAKEFIELD,
                "amount_gbp": 7.0,
            },
            {
                "department_raw": "MoJ",
                "scheme_title": "Victims fund",
                "recipient_name": "Bus Operators",
                "la_code": CORNWALL,
                "amount_gbp": 1.0,
            },
        ],
        tables,
    )
    rows = finding_rows(awards)
    assert rows[["scheme", "named_recipient", "policy_subarea", "amount"]].values.tolist() == [
        ["TITLE:DfT:bus grant", "NAME:bus operators", "buses and community transport", 5.0],
        ["TITLE:DfT:bus grant", "NAME:bus operators", "buses and community transport", 7.0],
        ["TITLE:MoJ:victims fund", "NAME:bus operators", "victims and witnesses", 1.0],
    ]
    assert rows["allocation_method"].tolist() == ["not stated"] * 3
    assert not rows["formula_to_council"].any()


@pytest.fixture(scope="module")
def real_schemes(tables):
    departments, rules, _ = tables
    schemes = apply_departments(read_scheme_registers().schemes, departments)
    return classify_policy_areas(schemes, rules)


def test_national_scheme_overlaps_match_direct_pandas(real_schemes):
    overlaps = national_scheme_overlaps(real_schemes)
    known = real_schemes[(real_schemes["policy_area"] != UNCLASSIFIED) & real_schemes["department"].notna()]
    overseas = known["department_lineage"].isin(["DFID", "FCO", "FCDO"]) | (
        known["policy_area"] == "international development"
    )
    assert overseas.sum() > 0  # the registers do hold overseas schemes, and they are left out
    known = known[~overseas]
    direct = known.groupby(["fy", "policy_area"]).agg(
        n_departments=("department_lineage", "nunique"),
        value=("value_gbp", "sum"),
        n=("scheme_title", "size"),
    )
    direct = direct[direct["n_departments"] >= 2]
    got = overlaps.set_index(["fy", "policy_area"])
    assert got.index.tolist() == direct.index.tolist()
    assert got["n_departments"].tolist() == direct["n_departments"].tolist()
    assert got["n_schemes"].tolist() == direct["n"].tolist()
    assert got["value_gbp"].to_numpy() == pytest.approx(direct["value"].to_numpy(), abs=0.01)
    justice = got.loc[("2016-17", "justice and victims")]
    mine = known[(known["fy"] == "2016-17") & (known["policy_area"] == "justice and victims")]
    assert justice["departments"] == "; ".join(sorted(mine["department"].unique()))
    first = justice["department_values"].split("; ")[0]
    top = mine.groupby("department")["value_gbp"].sum().sort_values(ascending=False)
    assert first == f"{top.index[0]}: {round(top.iloc[0])}"
    # Every year of the registers has overlapping areas.
    assert set(overlaps["fy"]) == {"2013-14", "2014-15", "2016-17"}


KENT = "E10000016"


def test_one_recipient_through_two_schemes_is_not_duplication(tables):
    # Kent County Council's Highways Maintenance Block plus Integrated Transport Block: one recipient.
    rows = [
        {
            "department_raw": "DfT",
            "scheme_title": title,
            "title": title,
            "recipient_name": "Kent County Council",
            "la_code": KENT,
            "la_name": "Kent",
            "is_council_recipient": True,
            "amount_gbp": gbp,
        }
        for title, gbp in (("Highways Maintenance Block", 40_000_000.0), ("Pothole Action Fund", 9e6))
    ]
    awards = _prepare(rows, tables)
    assert set(awards["policy_area"]) == {"transport"}
    assert find_duplication(awards).empty
    # A second recipient of one of the schemes makes it a finding: 2 schemes AND 2 recipients.
    more = _prepare(
        rows
        + [
            {
                **rows[0],
                "recipient_name": "Kent Highways Ltd",
                "is_council_recipient": False,
                "amount_gbp": 1_000.0,
            }
        ],
        tables,
    )
    found = find_duplication(more)
    assert found[["kind", "n_schemes", "n_recipients", "n_awards"]].to_dict("records") == [
        {"kind": "within_department", "n_schemes": 2, "n_recipients": 2, "n_awards": 3}
    ]
    sentence = (
        "2 DfT schemes to 2 recipients in Kent: roads and highways maintenance (transport). Listed because "
        "one department funds this one purpose here through 2 separate schemes reaching 2 recipients."
    )
    assert explain_finding(found.iloc[0].to_dict()) == sentence
    assert found["explanation"].tolist() == [sentence]
    per_award = finding_awards(more, found)
    assert per_award["finding"].tolist() == [1, 1, 1]
    assert per_award["amount_gbp"].tolist() == [40_000_000.0, 9e6, 1_000.0]


def test_overseas_spending_stays_out_of_domestic_overlaps(tables):
    base = {"la_code": WAKEFIELD, "amount_gbp": 1_000.0}
    rows = [
        {**base, "department_raw": "DFID", "scheme_title": "Public health programme", "recipient_name": "A"},
        {**base, "department_raw": "DFID", "scheme_title": "Drug treatment overseas", "recipient_name": "B"},
        {
            **base,
            "department_raw": "Department of Health",
            "scheme_title": "Public health grant",
            "recipient_name": "Wakefield Council",
        },
    ]
    awards = _prepare(rows, tables)
    assert awards["department"].tolist()[0] == "DFID"
    assert find_duplication(awards).empty  # DFID does not make DH's public health a cross-department finding


def test_bundled_register_findings_by_sub_area_without_formula_blocks(tmp_path):
    """The bundled 2016-17 register, read, placed and classified as a run does (the built-in postcode
    directory): 1,978 awards placed. Before sub-areas, organisations and the formula rule there were 202
    within-department findings, 170 of them "DfT funds transport" (a council's highways block beside
    community minibuses); the old "or" rule gave 308 groups, 53 of them one recipient through several
    schemes. Now: 151 findings, each one purpose — 123 buses and community transport, 26 low-emission
    vehicles, 2 transport technology — none a broad "transport" finding, 54 of them with the council's
    own formula allocations left out. Only DfT and MoJ are in this register: no cross-department
    finding."""
    from spendmap import steps
    from spendmap.paths import BUNDLED_GRANTS, reference_path

    read = steps.ingest_grants([str(reference_path(*BUNDLED_GRANTS))], ["2016-17"], tmp_path)
    placed = steps.place_grants(read.awards, None, tmp_path)
    layers = [read.awards, placed.awards]
    awards = read_awards([*layers, steps.classify_awards(layers, tmp_path).awards])
    assert awards["la_code"].notna().sum() == 1978
    findings = find_duplication(awards)
    assert len(findings) == 151
    assert findings.groupby("policy_subarea").size().to_dict() == {
        "buses and community transport": 123, "low-emission vehicles": 26,
        "transport technology and ticketing": 2,
    }
    assert set(findings["kind"]) == {"within_department"}
    assert (findings["n_recipients"] >= 2).all() and (findings["n_schemes"] >= 2).all()
    assert (findings["n_formula_to_council"] > 0).sum() == 54
    assert (findings["score"] == findings["n_schemes"] * findings["n_recipients"]).all()
    assert findings["explanation"].str.contains("Listed because one department funds this one purpose").all()
    # Ranked by schemes × recipients: Westminster's 8 low-emission vehicle schemes to 7 recipients first.
    top = number_findings(findings).sort_values("score", ascending=False, kind="stable").iloc[0]
    assert (top.la_name, top.policy_subarea, top.n_schemes, top.n_recipients) == (
        "Westminster", "low-emission vehicles", 8, 7)

    # The workbook's "Duplication awards" are exactly the awards each finding counts.
    numbered = number_findings(findings)
    per_award = finding_awards(awards, numbered).groupby(["la_code", "finding"]).size()
    assert per_award.to_dict() == numbered.set_index(["la_code", "finding"])["n_awards"].to_dict()
    assert per_award.sum() == 992

    # The figures before: broad areas, recipient keys by spelling, formula blocks counted.
    before = awards.drop(columns=["organisation_id", "organisation_name"]).assign(
        policy_subarea=awards["policy_area"], allocation_method=pd.NA
    )
    old = find_duplication(before)
    assert len(old) == 202 and (old["policy_area"] == "transport").sum() == 170
    links = finding_rows(before)
    per_dept = links.groupby(["la_code", "policy_area", "lineage"]).agg(
        s=("scheme", "nunique"), r=("named_recipient", "nunique")
    )
    assert ((per_dept["s"] >= 2) | (per_dept["r"] >= 2)).sum() == 308  # the old "or" rule
    assert ((per_dept["s"] >= 2) & (per_dept["r"] == 1)).sum() == 53  # one recipient, several schemes


DURHAM = "E06000047"


def test_two_departments_sharing_a_scheme_code_keep_their_cross_department_finding(tables):
    """DfT and MoJ both use SCH-1 in Wakefield: two schemes of two departments, not one scheme node that
    the last department written wins (which lost the cross-department finding)."""
    rows = [
        {"department_raw": "DfT", "scheme_code": "SCH-1", "scheme_title": "Drink driving enforcement",
         "recipient_name": "Safer Roads Trust", "la_code": WAKEFIELD, "amount_gbp": 10_000.0},
        {"department_raw": "MoJ", "scheme_code": "SCH-1", "scheme_title": "Drug driving testing",
         "recipient_name": "Victim Support", "la_code": WAKEFIELD, "amount_gbp": 20_000.0},
    ]
    awards = _prepare(rows, tables)
    assert awards["policy_area"].tolist() == ["community safety and crime"] * 2
    found = find_duplication(awards)
    counts = ["kind", "departments", "n_departments", "n_schemes", "n_recipients"]
    assert found[counts].to_dict("records") == [
        {"kind": "cross_department", "departments": "DfT; MoJ", "n_departments": 2, "n_schemes": 2,
         "n_recipients": 2}
    ]
    assert found.iloc[0].schemes == "Drink driving enforcement; Drug driving testing"
    per_award = finding_awards(awards, found)
    assert sorted(per_award["department"]) == ["DfT", "MoJ"]


def test_formula_allocations_to_the_council_are_not_programmes(tables):
    """County Durham: the council's formula Highways Maintenance Block and Bus Service Operator Grant
    beside an operators' bus grant and community transport. Roads and buses are two purposes; the
    council's own formula bus grant is left out of the buses finding and said so."""
    council = {"recipient_name": "Durham County Council", "is_council_recipient": True}
    rows = [
        {**council, "scheme_code": "SCH-HMB", "scheme_title": "Highways Maintenance Block",
         "allocation_method": "formula", "amount_gbp": 20_000_000.0},
        {**council, "scheme_code": "SCH-BSOG-LA", "scheme_title": "Bus Service Operator Grants to Local "
         "Authorities", "allocation_method": "formula", "amount_gbp": 900_000.0},
        {"scheme_code": "SCH-BSOG", "scheme_title": "Bus Service Operator Grants (outside London)",
         "allocation_method": "formula", "recipient_name": "Go North East", "amount_gbp": 2_000_000.0},
        {"scheme_code": "SCH-CT", "scheme_title": "English Community Transport",
         "allocation_method": "un-competed", "recipient_name": "Weardale Community Transport",
         "amount_gbp": 8_000.0},
        {"scheme_code": "SCH-CT", "scheme_title": "English Community Transport",
         "allocation_method": "un-competed", "recipient_name": "Teesdale Minibus", "amount_gbp": 7_000.0},
    ]
    awards = _prepare([{"department_raw": "DfT", "la_code": DURHAM, "la_name": "County Durham", **r}
                       for r in rows], tables)
    assert awards["policy_subarea"].tolist() == [
        "roads and highways maintenance", *["buses and community transport"] * 4
    ]
    (finding,) = find_duplication(awards).to_dict("records")
    assert tuple(finding[c] for c in ("policy_subarea", "n_schemes", "n_recipients", "n_awards")) == (
        "buses and community transport", 2, 3, 3)
    assert finding["n_formula_to_council"] == 1 and finding["total_gbp"] == 2_015_000.0
    assert finding["allocation_methods"] == "formula; un-competed"
    assert finding["explanation"] == (
        "2 DfT schemes to 3 recipients in County Durham: buses and community transport (transport). Listed "
        "because one department funds this one purpose here through 2 separate schemes reaching 3 "
        "recipients (1 formula allocation to the council itself not counted)."
    )
    # The council's formula bus grant is not one of the finding's awards.
    assert finding_awards(awards, find_duplication(awards))["scheme_title"].tolist() == [
        "Bus Service Operator Grants (outside London)", "English Community Transport",
        "English Community Transport",
    ]


def test_findings_rank_by_schemes_times_recipients_then_money(tables):
    def group(area_title: str, n_schemes: int, n_recipients: int, gbp: float) -> list[dict]:
        return [
            {"department_raw": "DfT", "scheme_title": f"{area_title} {s}", "recipient_name": f"R{r}",
             "la_code": WAKEFIELD, "amount_gbp": gbp}
            for s in range(n_schemes) for r in range(n_recipients)
        ]

    awards = _prepare(group("Bus fund", 2, 2, 1e6) + group("Cycle fund", 3, 3, 1.0), tables)
    ranked = number_findings(find_duplication(awards))
    # 3 × 3 active-travel schemes and recipients outrank 2 × 2 bus ones, though the buses hold the £.
    assert ranked[["policy_subarea", "score", "finding"]].values.tolist() == [
        ["active travel", 9, 1], ["buses and community transport", 4, 2]
    ]


def _funded(rows, tables):
    """Crafted awards classified as a run classifies them, funder types included."""
    from spendmap.sources.funders import load_known_funders
    from spendmap.transforms.funder_types import add_funder_types

    return add_funder_types(_prepare(rows, tables), load_known_funders())


def test_two_charitable_funders_and_a_department_are_one_cross_funder_finding(tables):
    base = {"la_code": WAKEFIELD, "title": "Bus service for the villages",
            "scheme_title": "Community bus service", "amount_gbp": 10_000.0}
    awards = _funded(
        [
            {**base, "department_raw": "Department for Transport",
             "scheme_title": "Bus Service Operators Grant", "recipient_name": "Wakefield Buses Ltd",
             "amount_gbp": 50_000.0},
            {**base, "department_raw": "A Yorkshire Foundation", "funder_id": "GB-CHC-200",
             "recipient_name": "Calder Minibus CIC"},
            # The same charity under another name: one funder (its org-id), not two.
            {**base, "department_raw": "Yorkshire Foundation (The)", "funder_id": "gb-chc-200 ",
             "scheme_title": "Rural bus service", "recipient_name": "Ossett Community Transport"},
            {**base, "department_raw": "The Dales Trust", "funder_id": "GB-SC-SC000001",
             "recipient_name": "Ossett Community Transport", "amount_gbp": 2_500.0},
            # A funder of unknown type is never counted (as an unknown department is not).
            {**base, "department_raw": "Mystery Benefactor", "recipient_name": "Somebody"},
        ],
        tables,
    )
    assert awards["funder_type"].tolist() == ["central_government"] + ["charitable_funder"] * 3 + ["other"]
    assert set(awards["policy_subarea"]) == {"buses and community transport"}
    found = find_duplication(awards)
    assert len(found) == 2
    cross = found[found["kind"] == "cross_department"].iloc[0]
    assert cross[["departments", "n_departments", "n_schemes", "n_recipients", "n_awards", "total_gbp",
                  "funder_types"]].tolist() == [
        "A Yorkshire Foundation; DfT; The Dales Trust", 3, 4, 3, 4, 72_500.0,
        "central_government; charitable_funder"]
    assert cross["explanation"] == (
        "3 funders (A Yorkshire Foundation; DfT; The Dales Trust) fund buses and community transport "
        "(transport) in Wakefield through 4 schemes to 3 recipients. Listed because more than one funder "
        "funds the same purpose in one place.")
    # The foundation alone: two schemes to two recipients, a within-funder finding.
    within = found[found["kind"] == "within_department"].iloc[0]
    assert within[["departments", "n_departments", "n_schemes", "n_recipients", "total_gbp",
                   "funder_types"]].tolist() == [
        "A Yorkshire Foundation", 1, 2, 2, 20_000.0, "charitable_funder"]
    assert within["explanation"].endswith("Listed because one funder funds this one purpose here through 2 "
                                          "separate schemes reaching 2 recipients.")
    # Every award behind the findings, the charity's under its one name.
    behind = finding_awards(awards, number_findings(found))
    assert sorted(behind["department"].value_counts().items()) == [
        ("A Yorkshire Foundation", 4), ("DfT", 1), ("The Dales Trust", 1)]


def test_departments_alone_keep_their_words_and_funder_type(tables):
    awards = _funded(
        [{"department_raw": d, "scheme_title": "Community minibus", "recipient_name": r,
          "la_code": WAKEFIELD, "amount_gbp": 1_000.0}
         for d, r in (("Department for Transport", "A"), ("Ministry of Justice", "B"))],
        tables,
    )
    (finding,) = find_duplication(awards).to_dict("records")
    assert finding["funder_types"] == "central_government"
    assert finding["explanation"].startswith("2 departments (DfT; MoJ) fund ")
