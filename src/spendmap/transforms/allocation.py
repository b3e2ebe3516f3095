"""CRA at council level: a council's share of its region's identifiable spend = its share of the
region's population.

    allocated(council, department, function, year) = region_value × pop(council) / pop(region)

where pop(region) is the sum of the region's district-level councils in the same population vintage.
Amounts are apportioned in whole pennies by the largest-remainder method, so the councils of a region
add up to the region's value exactly. Counties are the sum of their districts, flagged `is_aggregate`.
Pure and vectorised: no I/O, no loops over councils or groups.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from spendmap.errors import InputError, SpendmapError
from spendmap.schemas import CRA_ALLOCATION_COLUMNS
from spendmap.sources.councils import ENGLAND_CODE, REGION_NAMES

GROUP_LEVELS = {
    "function": ["department", "function"],
    "subfunction": ["department", "function", "subfunction"],
}
CRA_ALLOCATION_EXTRA_COLUMNS = [
    "region_code",
    "is_aggregate",
    "per_head_gbp",
    "region_per_head_gbp",
    "england_per_head_gbp",
    "uk_per_head_gbp",
    "population_vintage",
    "population_source",
    "allocated_pence",
]


def apportion_pennies(
    total_pence: np.ndarray,
    weight: np.ndarray,
    weight_total: np.ndarray,
    group: np.ndarray,
    tiebreak: np.ndarray | None = None,
) -> np.ndarray:
    """Split each group's whole-penny total over its rows in proportion to `weight`, in whole pennies
    summing exactly to the total (largest remainder; ties to the lower `tiebreak`, then row order).

    All arrays are per row: `total_pence` and `weight_total` repeat the group's values; `group` is an
    integer group id. Works for negative totals too (the floors are distributed the same way).
    """
    n = len(total_pence)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    total_pence = np.asarray(total_pence, dtype=np.int64)
    exact = (
        total_pence.astype(np.float64)
        * np.asarray(weight, dtype=np.float64)
        / np.asarray(weight_total, dtype=np.float64)
    )
    base = np.floor(exact)
    frac = exact - base
    base = base.astype(np.int64)
    group = np.asarray(group)
    # Residual per group, in pennies: what the floors left over (0 <= r < group size, bar float noise).
    _, inverse = np.unique(group, return_inverse=True)
    group_total = np.zeros(inverse.max() + 1, dtype=np.int64)
    group_total[inverse] = total_pence
    residual = group_total - _group_sum(base, inverse, len(group_total))
    tb = np.arange(n) if tiebreak is None else np.asarray(tiebreak)
    # Order rows by group, then largest fraction first, then tiebreak.
    order = np.lexsort((tb, -frac, inverse))
    sorted_groups = inverse[order]
    starts = np.searchsorted(sorted_groups, np.arange(len(group_total)))
    rank = np.arange(n) - starts[sorted_groups]  # 0-based position within the group
    size = np.bincount(inverse, minlength=len(group_total))
    r = residual[sorted_groups]
    plus = rank < r  # the r largest fractions get a penny
    minus = (r < 0) & (rank >= size[sorted_groups] + r)  # float noise: take from the smallest fractions
    adjust = np.zeros(n, dtype=np.int64)
    adjust[order] = plus.astype(np.int64) - minus.astype(np.int64)
    return base + adjust


def _group_sum(values: np.ndarray, inverse: np.ndarray, n_groups: int) -> np.ndarray:
    """Exact integer sum per group (np.bincount would go through float64)."""
    out = np.zeros(n_groups, dtype=np.int64)
    np.add.at(out, inverse, values)
    return out


def _population_by_fy(council_population: pd.DataFrame, fys: Sequence[str]) -> pd.DataFrame:
    """One population row per council and year; a table without `fy` applies to every year."""
    pop = council_population
    if "fy" not in pop.columns:
        return pd.concat([pop.assign(fy=fy) for fy in fys], ignore_index=True)
    missing = sorted(set(fys) - set(pop["fy"].astype(str)))
    if missing:
        raise InputError(f"No council population was prepared for {', '.join(missing)}.")
    pop = pop[pop["fy"].isin(list(fys))]
    dup = pop[pop.duplicated(["fy", "la_code"], keep=False)]
    if not dup.empty:
        pairs = sorted(set(dup["fy"].astype(str) + " " + dup["la_code"].astype(str)))
        raise InputError(f"The council population has more than one row for {', '.join(pairs[:20])}.")
    return pop


def allocate_cra(
    cra_long: pd.DataFrame,
    council_population: pd.DataFrame,
    fy: str | Sequence[str] | None = None,
    *,
    level: str = "function",
    include_counties: bool = True,
    drop_zero: bool = True,
) -> pd.DataFrame:
    """Allocate identifiable regional CRA spend to every council for the year(s) `fy` (None: all).

    `cra_long` is `read_cra(...).frame`; `council_population` is `population_for_councils(...).frame`
    (or several years of it concatenated). `level` groups by department × HMT function ("function") or
    adds the sub-function ("subfunction"). Returns CRA_ALLOCATION_COLUMNS + CRA_ALLOCATION_EXTRA_COLUMNS
    (+ `subfunction`), one row per council × group × year; county rows (sum of their districts) carry
    `is_aggregate` = True. Groups whose regional value is exactly £0 are left out when `drop_zero`.
    """
    if level not in GROUP_LEVELS:
        raise ValueError(f"level must be one of {list(GROUP_LEVELS)}")
    keys = GROUP_LEVELS[level]
    years_present = sorted(cra_long["fy"].dropna().astype(str).unique())
    fys = years_present if fy is None else ([fy] if isinstance(fy, str) else list(fy))
    absent = [y for y in fys if y not in years_present]
    if absent:
        raise InputError(
            f"The CRA database has no {', '.join(absent)}: the years it holds are {', '.join(years_present)}."
        )

    ident = cra_long[
        cra_long["is_identifiable"].astype(bool)
        & (cra_long["region_category"] == "regional")
        & cra_long["fy"].isin(fys)
    ]
    region_values = (
        ident.assign(
            value_pence=np.round(ident["value_gbp"].to_numpy(dtype=np.float64) * 100).astype(np.int64)
        )
        .groupby(["fy", "region_code", *keys], dropna=False, observed=True)["value_pence"]
        .sum()
        .reset_index()
    )
    if drop_zero:
        region_values = region_values[region_values["value_pence"] != 0]

    pop = _population_by_fy(council_population, fys)
    lower = pop[~pop["is_aggregate"].astype(bool)][
        [
            "fy",
            "la_code",
            "la_name",
            "region_code",
            "county_code",
            "population",
            "population_vintage",
            "population_source",
        ]
    ]
    region_pop = lower.groupby(["fy", "region_code"])["population"].sum().rename("region_population")
    no_councils = sorted(
        set(map(tuple, region_values[["fy", "region_code"]].drop_duplicates().to_numpy()))
        - set(region_pop.index)
    )
    if no_councils:
        raise SpendmapError(f"CRA regions with spend but no councils with a population: {no_councils}.")
    lower = lower.join(region_pop, on=["fy", "region_code"])

    # The vectorised join: every region value × every council of that region.
    out = region_values.merge(lower, on=["fy", "region_code"], how="inner")
    group_id = out.groupby(["fy", "region_code", *keys], dropna=False, sort=False).ngroup().to_numpy()
    out["allocated_pence"] = apportion_pennies(
        out["value_pence"].to_numpy(),
        out["population"].to_numpy(dtype=np.float64),
        out["region_population"].to_numpy(dtype=np.float64),
        group_id,
        tiebreak=pd.factorize(out["la_code"], sort=True)[0],  # equal remainders: lower GSS code first
    )
    out["is_aggregate"] = False

    if include_counties:
        districts = out[out["county_code"].notna()]
        counties = pop[pop["is_aggregate"].astype(bool)][
            ["fy", "la_code", "la_name", "population", "population_vintage", "population_source"]
        ].rename(columns={"la_code": "county_code"})
        agg = (
            districts.groupby(["fy", "county_code", "region_code", *keys], dropna=False, observed=True)
            .agg(
                allocated_pence=("allocated_pence", "sum"),
                value_pence=("value_pence", "first"),
                region_population=("region_population", "first"),
            )
            .reset_index()
            .merge(counties, on=["fy", "county_code"], how="inner")
            .rename(columns={"county_code": "la_code"})
        )
        agg["county_code"] = pd.NA
        agg["is_aggregate"] = True
        out = pd.concat([out, agg], ignore_index=True)

    # Per-head figures: the council's, its region's, England's and the UK's for the same group.
    region_name = out["region_code"].map(REGION_NAMES).astype("string")
    lower_only = lower.drop_duplicates(["fy", "la_code"])
    nation_pop = {
        "england": lower_only[lower_only["region_code"].str.startswith("E")]
        .groupby("fy")["population"]
        .sum(),
        "uk": lower_only.groupby("fy")["population"].sum(),
    }
    rv = region_values
    england_value = (
        rv[rv["region_code"].str.startswith("E")].groupby(["fy", *keys], dropna=False)["value_pence"].sum()
    )
    uk_value = rv.groupby(["fy", *keys], dropna=False)["value_pence"].sum()
    idx = pd.MultiIndex.from_frame(out[["fy", *keys]])
    eng = england_value.reindex(idx).to_numpy(dtype=np.float64) / 100
    uk = uk_value.reindex(idx).to_numpy(dtype=np.float64) / 100
    eng = np.nan_to_num(eng, nan=0.0)

    allocated = out["allocated_pence"].to_numpy(dtype=np.int64)
    population = out["population"].to_numpy(dtype=np.float64)
    result = pd.DataFrame(
        {
            "fy": out["fy"].astype("string"),
            "la_code": out["la_code"].astype("string"),
            "la_name": out["la_name"].astype("string"),
            "region": region_name,
            **{k: out[k].astype("string") for k in keys},
            "population": out["population"].astype("int64"),
            "region_population": out["region_population"].astype("int64"),
            "allocated_gbp": allocated / 100,
            "region_code": out["region_code"].astype("string"),
            "is_aggregate": out["is_aggregate"].astype("boolean"),
            "per_head_gbp": allocated / 100 / population,
            "region_per_head_gbp": out["value_pence"].to_numpy(dtype=np.float64)
            / 100
            / out["region_population"].to_numpy(dtype=np.float64),
            "england_per_head_gbp": eng / out["fy"].map(nation_pop["england"]).to_numpy(dtype=np.float64),
            "uk_per_head_gbp": uk / out["fy"].map(nation_pop["uk"]).to_numpy(dtype=np.float64),
            "population_vintage": out["population_vintage"].astype("Int64"),
            "population_source": out["population_source"].astype("string"),
            "allocated_pence": out["allocated_pence"].astype("int64"),
        }
    )
    columns = (
        CRA_ALLOCATION_COLUMNS
        + (["subfunction"] if level == "subfunction" else [])
        + CRA_ALLOCATION_EXTRA_COLUMNS
    )
    return result[columns].sort_values(["fy", "la_code", *keys]).reset_index(drop=True)


def conservation_checks(allocation: pd.DataFrame, cra_long: pd.DataFrame) -> pd.DataFrame:
    """Per year and region: the CRA's identifiable value (computed afresh from the long table) against
    the sum allocated to its district-level councils, in pence, and the difference (should be 0)."""
    fys = sorted(allocation["fy"].astype(str).unique())
    ident = cra_long[
        cra_long["is_identifiable"].astype(bool)
        & (cra_long["region_category"] == "regional")
        & cra_long["fy"].isin(fys)
    ]
    source = (
        ident.assign(cra_pence=np.round(ident["value_gbp"].to_numpy(dtype=np.float64) * 100).astype(np.int64))
        .groupby(["fy", "region_code"])["cra_pence"]
        .sum()
    )
    lower = allocation[~allocation["is_aggregate"].astype(bool)]
    allocated = lower.groupby(["fy", "region_code"])["allocated_pence"].sum().rename("allocated_pence")
    n_councils = lower.groupby(["fy", "region_code"])["la_code"].nunique().rename("n_councils")
    table = pd.concat([source, allocated, n_councils], axis=1).fillna(0).reset_index()
    table["region"] = table["region_code"].map(REGION_NAMES)
    for col in ["cra_pence", "allocated_pence", "n_councils"]:
        table[col] = table[col].astype("int64")
    table["difference_pence"] = table["allocated_pence"] - table["cra_pence"]
    table["cra_gbp"] = table["cra_pence"] / 100
    table["allocated_gbp"] = table["allocated_pence"] / 100
    # England as a whole, so the headline check is one row too.
    eng = (
        table[table["region_code"].str.startswith("E")]
        .groupby("fy")[["cra_pence", "allocated_pence", "difference_pence", "n_councils"]]
        .sum()
        .reset_index()
    )
    eng["region_code"], eng["region"] = ENGLAND_CODE, "England"
    eng["cra_gbp"], eng["allocated_gbp"] = eng["cra_pence"] / 100, eng["allocated_pence"] / 100
    cols = [
        "fy",
        "region_code",
        "region",
        "n_councils",
        "cra_gbp",
        "allocated_gbp",
        "cra_pence",
        "allocated_pence",
        "difference_pence",
    ]
    return (
        pd.concat([table[cols], eng[cols]], ignore_index=True)
        .sort_values(["fy", "region_code"])
        .reset_index(drop=True)
    )
