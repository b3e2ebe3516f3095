"""Small, realistic tables for the output tests: a handful of real councils, crafted awards (with
hostile names), and the analytics/CRA tables derived from them the way the pipeline shapes them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from spendmap import schemas
from spendmap.outputs.site import RunContext, SiteTables, render_site
from spendmap.sources.councils import load_councils
from spendmap.transforms.recipient_types import add_recipient_types

FY = "2016-17"
WAKEFIELD, LUTON, RUTLAND, EAST_SUSSEX, HASTINGS = (
    "E08000036",
    "E06000032",
    "E06000017",
    "E10000011",
    "E07000062",
)
CODES = [WAKEFIELD, LUTON, RUTLAND, EAST_SUSSEX, HASTINGS]
HOSTILE = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://evil.example","click")'
THRESHOLD = 100_000.0


def _award(
    i: int,
    la: str,
    dept: str,
    scheme_code: str,
    scheme: str,
    recipient: str,
    amount: float,
    council: bool = False,
    redacted: bool = False,
    rid: str | None = None,
) -> dict:
    return {
        "award_id": f"GB-GOV-TEST-{i:04d}",
        "fy": FY,
        "funder_id": f"GB-GOR-{dept}",
        "department": dept,
        "department_raw": {"DfT": "Department for Transport", "MoJ": "Ministry of Justice"}.get(dept, dept),
        "managing_body": pd.NA,
        "scheme_code": scheme_code,
        "scheme_title": scheme,
        "title": f"{scheme} award {i}",
        "recipient_id": rid if rid else f"GB-TEST-{abs(hash(recipient)) % 10**8}",
        "recipient_name": recipient,
        "recipient_postcode": "WF1 2EB",
        "is_redacted": redacted,
        "is_council_recipient": council,
        "la_code": la,
        "la_name": None,
        "region_code": "E12000003",
        "geo_method": "council_match" if council else "postcode",
        "amount_gbp": amount,
        "award_date": pd.Timestamp("2016-06-01") + pd.Timedelta(days=i),
        "policy_area": "transport",
        "policy_rule": "keyword:transport",
        "source_file": "government-grant-awards-2016-17.xlsx",
        "source_sheet": "Sheet1",
        "source_row": i + 2,
    }


def make_awards() -> pd.DataFrame:
    rows = []
    i = 0

    def add(*args, **kw):
        nonlocal i
        i += 1
        rows.append(_award(i, *args, **kw))

    # Wakefield: two departments, several schemes, a hostile and a formula-like recipient.
    for n in range(6):
        add(WAKEFIELD, "DfT", "BUS01", "Bus Service Operators Grant", f"Bus Company {n}", 20_000 + 5_000 * n)
    add(
        WAKEFIELD,
        "DfT",
        "LTP01",
        "Local Transport Plan",
        "Wakefield Council",
        2_500_000,
        council=True,
        rid="GB-LAE-WKF",
    )
    add(
        WAKEFIELD,
        "DfT",
        "LTP01",
        "Local Transport Plan",
        "Wakefield Council",
        750_000,
        council=True,
        rid="GB-LAE-WKF",
    )
    add(WAKEFIELD, "DfT", "CYC01", "Cycle Ambition", HOSTILE, 45_000)
    add(WAKEFIELD, "DfT", "CYC01", "Cycle Ambition", FORMULA, 12_500)
    add(WAKEFIELD, "DfT", "CYC01", "Cycle Ambition", "+44 Cycling CIC", 8_000)
    add(WAKEFIELD, "MoJ", "VIC01", "Victims Services <b>bold</b>", "Victim Support", 150_000)
    add(WAKEFIELD, "MoJ", "VIC01", "Victims Services <b>bold</b>", "Redacted", 5_000, redacted=True, rid="")
    add(WAKEFIELD, "MoJ", "LEG01", "Legal Aid Pilot", "@Law Centre", 60_000)
    add(WAKEFIELD, "MoJ", "LEG01", "Legal Aid Pilot", "-Minus Trust", -2_000)
    add(WAKEFIELD, "MoJ", "LEG01", "Legal Aid Pilot", "Zero Trust", 0.0)
    # Luton: a few awards, one to the council.
    add(LUTON, "DfT", "BUS01", "Bus Service Operators Grant", "Luton Buses", 30_000)
    add(
        LUTON,
        "DfT",
        "LTP01",
        "Local Transport Plan",
        "Luton Borough Council",
        1_200_000,
        council=True,
        rid="GB-LAE-LUT",
    )
    add(LUTON, "MoJ", "VIC01", "Victims Services <b>bold</b>", "Luton Women's Aid", 40_000)
    # East Sussex county council (its own award), Hastings a district with one award.
    add(
        EAST_SUSSEX,
        "DfT",
        "LTP01",
        "Local Transport Plan",
        "East Sussex County Council",
        3_000_000,
        council=True,
        rid="GB-LAE-ESX",
    )
    add(HASTINGS, "MoJ", "VIC01", "Victims Services <b>bold</b>", "Hastings Advice", 25_000)
    df = pd.DataFrame(rows)
    names = load_councils().set_index("la_code")["la_name"]
    df["la_name"] = df["la_code"].map(names)
    df["county_code"] = df["la_code"].map({HASTINGS: EAST_SUSSEX})
    return add_recipient_types(schemas.conform_awards(df))


def _scheme_key(df: pd.DataFrame) -> pd.Series:
    return df["scheme_code"]


def make_tables() -> SiteTables:
    councils = load_councils()
    awards = make_awards()
    # place_summary / small_grants as the analytics step shapes them (computed directly here).
    small = awards["amount_gbp"].between(0, THRESHOLD, inclusive="neither") & ~awards["is_redacted"]
    g = awards.assign(small=small).groupby("la_code")
    ps = pd.DataFrame(
        {
            "n_schemes": g["scheme_code"].nunique(),
            "n_recipients": g["recipient_id"].nunique(),
            "n_awards": g.size(),
            "total_gbp": g["amount_gbp"].sum(),
            "n_small_awards": g["small"].sum(),
        }
    ).reset_index()
    ps["share_small"] = ps["n_small_awards"] / ps["n_awards"]
    ps["la_name"] = ps["la_code"].map(councils.set_index("la_code")["la_name"])
    ps["fy"] = FY
    # Rutland: a council with no awards, present with zeros.
    ps = pd.concat(
        [
            ps,
            pd.DataFrame(
                [
                    {
                        "la_code": RUTLAND,
                        "la_name": "Rutland",
                        "fy": FY,
                        "n_schemes": 0,
                        "n_recipients": 0,
                        "n_awards": 0,
                        "total_gbp": 0.0,
                        "n_small_awards": 0,
                        "share_small": float("nan"),
                    }
                ]
            ),
        ]
    )
    ps = ps[schemas.PLACE_SUMMARY_COLUMNS].reset_index(drop=True)

    sg_rows = []
    for code, part in awards.assign(small=small).groupby("la_code"):
        for scope, sub in (("all_recipients", part), ("council", part[part["is_council_recipient"]])):
            n = len(sub)
            sg_rows.append(
                {
                    "la_code": code,
                    "la_name": part["la_name"].iloc[0],
                    "fy": FY,
                    "scope": scope,
                    "n_awards": n,
                    "n_small": int(sub["small"].sum()),
                    "share_small": (sub["small"].sum() / n) if n else float("nan"),
                    "threshold_gbp": THRESHOLD,
                }
            )
    small_grants = pd.DataFrame(sg_rows, columns=schemas.SMALL_GRANTS_COLUMNS)

    duplication = pd.DataFrame(
        [
            {
                "fy": FY,
                "la_code": WAKEFIELD,
                "la_name": "Wakefield",
                "policy_area": "transport",
                "kind": "within_department",
                "departments": "DfT",
                "n_departments": 1,
                "schemes": "Bus Service Operators Grant; Local Transport Plan; Cycle Ambition",
                "n_schemes": 3,
                "recipients": f"Bus Company 0; {HOSTILE}; {FORMULA}",
                "n_recipients": 10,
                "n_awards": 11,
                "total_gbp": 3_453_500.0,
            },
            {
                "fy": FY,
                "la_code": WAKEFIELD,
                "la_name": "Wakefield",
                "policy_area": "justice and victims",
                "kind": "cross_department",
                "departments": "DfT; MoJ",
                "n_departments": 2,
                "schemes": "Victims Services; Legal Aid Pilot",
                "n_schemes": 2,
                "recipients": "Victim Support; @Law Centre",
                "n_recipients": 2,
                "n_awards": 2,
                "total_gbp": 210_000.0,
            },
        ],
        columns=schemas.DUPLICATION_COLUMNS,
    )

    cra_rows = []
    pops = {WAKEFIELD: 348_312, LUTON: 213_528, RUTLAND: 40_476, HASTINGS: 92_855, EAST_SUSSEX: 558_852}
    regions = {
        WAKEFIELD: ("Yorkshire and The Humber", "E12000003", 5_526_350),
        LUTON: ("East of England", "E12000006", 6_269_161),
        RUTLAND: ("East Midlands", "E12000004", 4_865_583),
        HASTINGS: ("South East", "E12000008", 9_217_265),
        EAST_SUSSEX: ("South East", "E12000008", 9_217_265),
    }
    region_spend = {
        ("Department for Transport", "Transport"): 1_800_000_000.0,
        ("Department of Health", "Health"): 11_000_000_000.0,
        ("Department for Work and Pensions", "Social protection"): 15_000_000_000.0,
        ("Ministry of Justice", "Public order and safety"): 900_000_000.0,
        ("Department for Work and Pensions", "Public order and safety"): -5_000_000.0,
    }
    england_ph = {
        "Transport": 350.0,
        "Health": 2_000.0,
        "Social protection": 2_800.0,
        "Public order and safety": 170.0,
    }
    for code, pop in pops.items():
        region, rcode, rpop = regions[code]
        for (dept, function), value in region_spend.items():
            alloc = value * pop / rpop
            cra_rows.append(
                {
                    "fy": FY,
                    "la_code": code,
                    "la_name": None,
                    "region": region,
                    "department": dept,
                    "function": function,
                    "population": pop,
                    "region_population": rpop,
                    "allocated_gbp": alloc,
                    "region_code": rcode,
                    "is_aggregate": code == EAST_SUSSEX,
                    "per_head_gbp": alloc / pop,
                    "region_per_head_gbp": value / rpop,
                    "england_per_head_gbp": england_ph[function] if value > 0 else -0.1,
                    "population_vintage": "ONS mid-2020",
                    "population_source": "ons_mid2020_population_by_lad.csv",
                }
            )
    cra = pd.DataFrame(cra_rows)
    cra["la_name"] = cra["la_code"].map(councils.set_index("la_code")["la_name"])
    return SiteTables(
        councils=councils,
        awards=awards,
        place_summary=ps,
        small_grants=small_grants,
        duplication=duplication,
        cra_allocation=cra,
    )


def make_context() -> RunContext:
    return RunContext(
        fy=FY,
        sources=[
            {
                "name": "Cabinet Office, Government Grants Information System awards 2016-17",
                "kind": "grants",
                "licence": "Open Government Licence v3.0",
            },
            {
                "name": "HM Treasury, Country and Regional Analysis 2018",
                "kind": "cra",
                "licence": "Open Government Licence v3.0",
            },
            {
                "name": "ONS mid-2020 population estimates",
                "kind": "population",
                "licence": "Open Government Licence v3.0",
            },
        ],
        small_threshold_gbp=THRESHOLD,
        population_vintage="ONS mid-2020 estimates",
        assumptions=[
            "Small grants are awards under £100,000; zero-value and redacted awards are not small.",
            f"A hostile assumption {HOSTILE} is shown as text.",
        ],
        generated_at="2026-11-23 14:00 UTC",
        n_unresolved_awards=12,
        unresolved_gbp=345_678.0,
        years=[FY],
        departments=["DfT", "MoJ"],
        geo_methods={
            "council_match": {"awards": 4, "amount_gbp": 3_310_000.0},
            "postcode": {"awards": 21, "amount_gbp": 800_000.0},
            "unresolved": {"awards": 12, "amount_gbp": 345_678.0},
        },
        cra_years=["2013-14", "2017-18"],
        coverage_notes=["Postcodes: a crafted note from the runner."],
        unclassified={"awards": 2, "amount_gbp": 321_869_036.0, "share_awards": 0.054},
    )


@pytest.fixture
def site_tables() -> SiteTables:
    return make_tables()


@pytest.fixture
def run_context() -> RunContext:
    return make_context()


@pytest.fixture(scope="session")
def rendered_site(tmp_path_factory: pytest.TempPathFactory):
    """The crafted site rendered once: profiles for every crafted council except Luton."""
    out = tmp_path_factory.mktemp("site")
    tables = make_tables()
    result = render_site(
        out, tables, make_context(), places=[WAKEFIELD, RUTLAND, EAST_SUSSEX, HASTINGS]
    )
    return Path(out), result, tables
