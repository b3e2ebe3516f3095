"""Population-weighted allocation of CRA spend to councils: exact to the penny, on random and real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from spendmap.errors import InputError
from spendmap.paths import BUNDLED_CRA, reference_path
from spendmap.schemas import CRA_ALLOCATION_COLUMNS
from spendmap.sources.cra import read_cra
from spendmap.sources.population import load_bundled_population
from spendmap.transforms.allocation import (
    CRA_ALLOCATION_EXTRA_COLUMNS,
    allocate_cra,
    apportion_pennies,
    conservation_checks,
)
from spendmap.transforms.population import population_for_councils

FY = "2016-17"

# --- the penny apportionment ------------------------------------------------------------------


@st.composite
def groups(draw):
    n_groups = draw(st.integers(1, 6))
    totals, weights, ids = [], [], []
    for g in range(n_groups):
        total = draw(st.integers(-(10**13), 10**13))  # up to ±£100bn in pence
        w = draw(st.lists(st.integers(1, 10_000_000), min_size=1, max_size=40))
        totals += [total] * len(w)
        weights += w
        ids += [g] * len(w)
    return np.array(totals, dtype=np.int64), np.array(weights, dtype=np.float64), np.array(ids)


@given(groups())
@settings(max_examples=300, deadline=None)
def test_apportion_sums_exactly_and_stays_within_a_penny(data):
    totals, weights, ids = data
    wsum = pd.Series(weights).groupby(ids).transform("sum").to_numpy()
    got = apportion_pennies(totals, weights, wsum, ids)
    assert got.dtype == np.int64
    by_group = pd.Series(got).groupby(ids).sum()
    expected = pd.Series(totals).groupby(ids).first()
    assert (by_group == expected).all()
    exact = totals.astype(float) * weights / wsum
    assert np.all(np.abs(got - exact) < 1 + 1e-6 * np.abs(exact).max() / 1e6)


def test_apportion_ties_are_deterministic():
    got = apportion_pennies(
        np.array([1, 1, 1]), np.array([1.0, 1, 1]), np.array([3.0, 3, 3]), np.array([0, 0, 0])
    )
    assert got.tolist() == [1, 0, 0]
    got = apportion_pennies(
        np.array([2, 2, 2]), np.array([1.0, 1, 1]), np.array([3.0, 3, 3]), np.array([0, 0, 0])
    )
    assert got.tolist() == [1, 1, 0]


# --- allocate_cra on random crafted tables ------------------------------------------------------


def _population(pops: dict[str, list[int]], fy: str = FY, county_region: str | None = None) -> pd.DataFrame:
    """A council_population table: councils <region>_<i>; the councils of `county_region` (default: the
    first region) form one county (a two-tier area) so the aggregate path is exercised."""
    rows = []
    first = county_region or next(iter(pops))
    for region, values in pops.items():
        for i, p in enumerate(values):
            two_tier = region == first
            county = "CTY1" if two_tier else pd.NA
            rows.append(
                {
                    "fy": fy,
                    "la_code": f"{region}_{i:03d}",
                    "la_name": f"{region} council {i}",
                    "tier": "district" if two_tier else "unitary",
                    "region_code": region,
                    "county_code": county,
                    "population": p,
                    "population_vintage": 2020,
                    "population_source": "test",
                    "is_aggregate": False,
                    "n_source_areas": 1,
                }
            )
    rows.append(
        {
            "fy": fy,
            "la_code": "CTY1",
            "la_name": "County",
            "tier": "county",
            "region_code": first,
            "county_code": pd.NA,
            "population": sum(pops[first]),
            "population_vintage": 2020,
            "population_source": "sum_of_districts",
            "is_aggregate": True,
            "n_source_areas": 1,
        }
    )
    return pd.DataFrame(rows)


def _cra(values: list[tuple[str, str, str, float]], fy: str = FY) -> pd.DataFrame:
    """A long CRA table from (region_code, department, function, value_gbp) rows."""
    return pd.DataFrame(
        {
            "fy": fy,
            "department": [v[1] for v in values],
            "function": [v[2] for v in values],
            "subfunction": [v[2] + " sub" for v in values],
            "is_identifiable": True,
            "region_code": [v[0] for v in values],
            "region_category": "regional",
            "value_gbp": [v[3] for v in values],
        }
    )


REGIONS = ["E12000001", "E12000007", "S92000003"]


@given(
    pops=st.fixed_dictionaries(
        {r: st.lists(st.integers(1, 2_000_000), min_size=1, max_size=30) for r in REGIONS}
    ),
    values=st.lists(
        st.tuples(
            st.sampled_from(REGIONS),
            st.sampled_from(["DfT", "DfE"]),
            st.sampled_from(["4. T", "9. E"]),
            st.integers(-(10**12), 10**12).map(lambda p: p / 100),
        ),
        min_size=1,
        max_size=20,
    ),
)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_councils_sum_to_region_value_to_the_penny(pops, values):
    cra = _cra(values)
    alloc = allocate_cra(cra, _population(pops, county_region=REGIONS[0]), FY)
    lower = alloc[~alloc["is_aggregate"]]
    got = lower.groupby(["region_code", "department", "function"])["allocated_pence"].sum()
    want = (
        cra.assign(p=np.round(cra["value_gbp"] * 100).astype("int64"))
        .groupby(["region_code", "department", "function"])["p"]
        .sum()
    )
    want = want[want != 0]
    assert got.sort_index().to_dict() == want.sort_index().to_dict()
    checks = conservation_checks(alloc, cra)
    assert (checks["difference_pence"] == 0).all()
    # The county row is the sum of its districts, group by group.
    county = alloc[alloc["is_aggregate"]].set_index(["department", "function"])["allocated_pence"]
    districts = (
        lower[lower["la_code"].str.startswith(REGIONS[0])]
        .groupby(["department", "function"])["allocated_pence"]
        .sum()
    )
    assert county.sort_index().to_dict() == districts.sort_index().to_dict()


def test_small_exact_example():
    cra = _cra(
        [
            ("E12000001", "DfT", "4. T", 100.00),
            ("E12000001", "DfT", "4. T", 0.01),
            ("E12000007", "DfT", "4. T", 0.0),
        ]
    )
    alloc = allocate_cra(cra, _population({"E12000001": [1, 1, 1], "E12000007": [5]}), FY)
    lower = alloc[~alloc["is_aggregate"]]
    # £100.01 over three equal councils: 3334 + 3334 + 3333 pence; London's £0 group is left out.
    assert lower["allocated_pence"].tolist() == [3334, 3334, 3333]
    assert lower["region_population"].tolist() == [3, 3, 3]
    assert alloc.loc[alloc["is_aggregate"], "allocated_gbp"].tolist() == [100.01]
    assert list(alloc.columns) == CRA_ALLOCATION_COLUMNS + CRA_ALLOCATION_EXTRA_COLUMNS


def test_population_without_fy_applies_to_every_year():
    cra = pd.concat(
        [
            _cra([("E12000001", "DfT", "4. T", 10.0)], fy="2015-16"),
            _cra([("E12000001", "DfT", "4. T", 20.0)], fy=FY),
        ]
    )
    pop = _population({"E12000001": [1, 3]}).drop(columns="fy")
    alloc = allocate_cra(cra, pop, None, include_counties=False)
    assert alloc[["fy", "allocated_gbp"]].values.tolist() == [
        ["2015-16", 2.5],
        ["2015-16", 7.5],
        [FY, 5.0],
        [FY, 15.0],
    ]


# --- the real edition and population ------------------------------------------------------------


@pytest.fixture(scope="module")
def cra():
    return read_cra().frame


@pytest.fixture(scope="module")
def population():
    return population_for_councils(load_bundled_population(), FY).frame


@pytest.fixture(scope="module")
def allocation(cra, population):
    return allocate_cra(cra, population, FY)


@pytest.fixture(scope="module")
def sheet_2016() -> pd.DataFrame:
    rows = (
        CalamineWorkbook.from_path(str(reference_path(*BUNDLED_CRA)))
        .get_sheet_by_name("CRA 2018 database")
        .to_python()
    )
    df = pd.DataFrame(rows[1:], columns=rows[0])
    return df[df["ID/non-ID"] == "ID"]


def test_england_total_equals_english_regions_in_the_database(allocation, sheet_2016):
    english = sheet_2016[sheet_2016["NUTS Region"].str.startswith("ENGLAND_")]
    direct_pence = int(round(english[FY].astype(float).sum() * 100_000))
    ours = allocation[~allocation["is_aggregate"] & allocation["region_code"].str.startswith("E")]
    assert ours["la_code"].nunique() == 296
    assert ours["allocated_pence"].sum() == direct_pence == 49_107_322_400_000
    assert abs(ours["allocated_gbp"].sum() - direct_pence / 100) < 1


def test_each_region_sums_to_its_value(allocation, cra, sheet_2016):
    direct = sheet_2016.groupby("NUTS Region")[FY].sum() * 1000
    direct.index = direct.index.str.replace("ENGLAND_", "").str.lower().str.replace(" the ", " ")
    direct = direct.groupby(level=0).sum()
    direct = direct.drop(["outside uk"], errors="ignore")
    checks = conservation_checks(allocation, cra)
    regions = checks[checks["region_code"] != "E92000001"]
    assert len(regions) == 12
    assert (regions["difference_pence"] == 0).all()
    names = {
        "North East": "north east",
        "North West": "north west",
        "Yorkshire and The Humber": "yorkshire and humber",
        "East Midlands": "east midlands",
        "West Midlands": "west midlands",
        "East of England": "east",
        "London": "london",
        "South East": "south east",
        "South West": "south west",
        "Scotland": "scotland",
        "Wales": "wales",
        "Northern Ireland": "northern ireland",
    }
    for _, row in regions.iterrows():
        assert abs(row["allocated_gbp"] - direct[names[row["region"]]]) < 1
    assert checks.set_index("region_code").at["E92000001", "difference_pence"] == 0
    assert regions["n_councils"].sum() == 361


def test_wakefield(allocation, population, sheet_2016):
    w = allocation[allocation["la_code"] == "E08000036"]
    assert set(w["region"]) == {"Yorkshire and The Humber"}
    pop = population.set_index("la_code")
    yorks_pop = population[~population["is_aggregate"] & (population["region_code"] == "E12000003")][
        "population"
    ].sum()
    assert (w["population"].iloc[0], w["region_population"].iloc[0]) == (
        pop.at["E08000036", "population"],
        yorks_pop,
    )
    yorks = (
        sheet_2016[sheet_2016["NUTS Region"].str.lower() == "england_yorkshire and the humber"][FY].sum()
        * 1000
    )
    direct = yorks * pop.at["E08000036", "population"] / yorks_pop
    # Each department × function group is rounded to whole pennies: at most a penny each.
    assert abs(w["allocated_gbp"].sum() - direct) <= 0.01 * len(w)
    assert round(w["allocated_gbp"].sum(), 2) == 3_053_761_482.11


def test_counties_are_sums_of_districts(allocation, population):
    counties = allocation[allocation["is_aggregate"]]
    assert counties["la_code"].nunique() == 21
    districts = population[population["county_code"].notna()][["la_code", "county_code"]]
    d = (
        allocation.merge(districts, on="la_code")
        .groupby(["county_code", "department", "function"])["allocated_pence"]
        .sum()
    )
    c = counties.set_index(["la_code", "department", "function"])["allocated_pence"]
    c.index.names = d.index.names
    assert c.sort_index().equals(d.sort_index())


def test_per_head_columns(allocation, cra):
    a = allocation
    assert np.allclose(a["per_head_gbp"], a["allocated_gbp"] / a["population"])
    # Population weighting: a council's per-head figure is its region's, up to a penny of rounding
    # (a county's, up to a penny per district).
    low = a[~a["is_aggregate"]]
    assert np.all(np.abs(low["per_head_gbp"] - low["region_per_head_gbp"]) <= 0.01 / low["population"] + 1e-9)
    cty = a[a["is_aggregate"]]
    assert np.all(np.abs(cty["per_head_gbp"] - cty["region_per_head_gbp"]) <= 0.15 / cty["population"])
    eng_pop = (
        a[~a["is_aggregate"] & a["region_code"].str.startswith("E")]
        .drop_duplicates("la_code")["population"]
        .sum()
    )
    assert eng_pop == 56_550_138
    ident = cra[
        (cra["fy"] == FY) & cra["is_identifiable"] & cra["region_code"].str.startswith("E").fillna(False)
    ]
    dft = ident[
        (ident["department"] == "Department for Transport") & (ident["function"] == "4. of which: transport")
    ]
    row = a[
        (a["department"] == "Department for Transport") & (a["function"] == "4. of which: transport")
    ].iloc[0]
    assert row["england_per_head_gbp"] == pytest.approx(dft["value_gbp"].sum() / eng_pop, rel=1e-12)


def test_subfunction_level_conserves_too(cra, population):
    sub = allocate_cra(cra, population, FY, level="subfunction")
    assert "subfunction" in sub.columns
    assert (conservation_checks(sub, cra)["difference_pence"] == 0).all()


def test_all_years_at_once(cra):
    pops = load_bundled_population()
    years = sorted(cra["fy"].unique())
    pop = pd.concat([population_for_councils(pops, fy).frame for fy in years])
    alloc = allocate_cra(cra, pop)
    assert sorted(alloc["fy"].unique()) == years
    assert (conservation_checks(alloc, cra)["difference_pence"] == 0).all()


def test_year_absent_from_the_cra_lists_the_years(cra, population):
    with pytest.raises(
        InputError,
        match=r"no 2019-20: the years it holds are 2013-14, 2014-15, 2015-16, "
        r"2016-17, 2017-18",
    ):
        allocate_cra(cra, population, "2019-20")


def test_population_missing_for_a_year(cra, population):
    with pytest.raises(InputError, match="No council population was prepared for 2015-16"):
        allocate_cra(cra, population, ["2015-16", FY])


def test_duplicate_council_population_is_refused(cra, population):
    with pytest.raises(InputError, match=r"more than one row for 2016-17 E08000036"):
        allocate_cra(cra, pd.concat([population, population[population["la_code"] == "E08000036"]]), FY)
