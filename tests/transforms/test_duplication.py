"""Duplication findings reproducing the spend-mapping report's examples, and the national scheme view."""

import pandas as pd
import pytest

from spendmap.schemas import DUPLICATION_COLUMNS, DUPLICATION_EXTRA_COLUMNS, conform_awards
from spendmap.sources.rules import UNCLASSIFIED, load_departments, load_policy_rules
from spendmap.sources.schemes import read_scheme_registers
from spendmap.transforms.departments import apply_departments
from spendmap.transforms.duplication import (
    explain_finding,
    find_duplication,
    finding_awards,
    grant_graph,
    graph_links,
    national_scheme_overlaps,
)
from spendmap.transforms.policy_areas import classify_policy_areas

WAKEFIELD, BIRMINGHAM, CORNWALL = "E08000036", "E08000025", "E06000052"
NAMES = {WAKEFIELD: "Wakefield", BIRMINGHAM: "Birmingham", CORNWALL: "Cornwall"}


@pytest.fixture(scope="module")
def tables():
    return load_departments(), load_policy_rules()


def _prepare(rows, tables):
    departments, rules = tables
    base = {"fy": "2020-21", "is_redacted": False, "is_council_recipient": False}
    frame = conform_awards(
        pd.DataFrame([{**base, "la_name": NAMES.get(r.get("la_code")), **r} for r in rows])
    )
    frame["award_id"] = [str(i) for i in range(len(frame))]
    return classify_policy_areas(apply_departments(frame, departments), rules)


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
    # The contract's columns, unrenamed, then the sentence.
    assert list(findings.columns) == DUPLICATION_COLUMNS + DUPLICATION_EXTRA_COLUMNS == [
        *DUPLICATION_COLUMNS, "explanation"
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
            "explanation": "2 departments (BEIS; MHCLG) fund business support in Wakefield through 2 schemes "
            "to 2 recipients.",
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


def test_graph_is_department_scheme_recipient(tables):
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
    graph = grant_graph(awards)
    kinds = pd.Series(dict(graph.nodes(data="kind"))).value_counts().to_dict()
    assert kinds == {"department": 2, "scheme": 2, "recipient": 1}
    edge = graph.get_edge_data("scheme:TITLE:DfT:bus grant", "recipient:NAME:bus operators")
    assert list(edge) == [("2020-21", WAKEFIELD, "transport")]
    assert edge[("2020-21", WAKEFIELD, "transport")]["n_awards"] == 2
    assert edge[("2020-21", WAKEFIELD, "transport")]["amount_gbp"] == 12.0
    assert graph.has_edge("dept:DfT", "scheme:TITLE:DfT:bus grant")


@pytest.fixture(scope="module")
def real_schemes(tables):
    departments, rules = tables
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
        for title, gbp in (("Highways Maintenance Block", 40_000_000.0), ("Integrated Transport Block", 9e6))
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
    assert explain_finding(found.iloc[0].to_dict()) == "2 DfT schemes to 2 recipients in Kent: transport."
    assert found["explanation"].tolist() == ["2 DfT schemes to 2 recipients in Kent: transport."]
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


def test_bundled_register_findings_all_have_several_schemes_and_recipients(tmp_path):
    """The bundled 2016-17 register, read and placed as a run places it (the built-in postcode
    directory): 1,978 awards placed. The report's rule (2+ schemes AND 2+ recipients in one department,
    policy area and place) gives 202 within-department findings; the old "or" rule gave 308 groups, 53
    of them one recipient through several schemes (e.g. a council's two highways blocks). Only DfT and
    MoJ are in this register, so there is no cross-department finding."""
    from spendmap import steps
    from spendmap.paths import BUNDLED_GRANTS, reference_path

    read = steps.ingest_grants([str(reference_path(*BUNDLED_GRANTS))], ["2016-17"], tmp_path)
    placed = steps.place_grants(read.awards, None, tmp_path)
    awards = pd.read_parquet(steps.classify_awards(placed.awards, tmp_path).awards)
    assert awards["la_code"].notna().sum() == 1978
    findings = find_duplication(awards)
    assert len(findings) == 202
    assert set(findings["kind"]) == {"within_department"}
    assert (findings["n_recipients"] >= 2).all() and (findings["n_schemes"] >= 2).all()
    links = graph_links(grant_graph(awards))
    links = links[(links["policy_area"] != UNCLASSIFIED) & (links["la_code"] != "")]
    per_dept = links.groupby(["la_code", "policy_area", "lineage"]).agg(
        s=("scheme", "nunique"), r=("recipient", "nunique")
    )
    assert ((per_dept["s"] >= 2) | (per_dept["r"] >= 2)).sum() == 308  # the old "or" rule
    assert ((per_dept["s"] >= 2) & (per_dept["r"] == 1)).sum() == 53  # one recipient, several schemes
