"""Change over time: one row per council and year with grants and CRA side by side (`--years`)."""

from __future__ import annotations

import pandas as pd

TREND_COLUMNS = [
    "la_code", "la_name", "fy", "n_schemes", "n_recipients", "n_awards", "total_gbp", "share_small",
    "cra_allocated_gbp", "cra_per_head_gbp", "change_n_awards", "change_total_gbp",
]


def council_trends(place_summary: pd.DataFrame, cra_allocation: pd.DataFrame) -> pd.DataFrame:
    """Per council and year: the grant profile, its CRA allocation, and the change from the previous
    year in the run (empty for a council's first year)."""
    cra = (
        cra_allocation.groupby(["la_code", "fy"], as_index=False)
        .agg(cra_allocated_gbp=("allocated_gbp", "sum"), population=("population", "max"))
        if not cra_allocation.empty
        else pd.DataFrame(columns=["la_code", "fy", "cra_allocated_gbp", "population"])
    )
    out = place_summary.merge(cra, on=["la_code", "fy"], how="left").sort_values(["la_code", "fy"])
    out["cra_per_head_gbp"] = out["cra_allocated_gbp"] / out["population"]
    by_council = out.groupby("la_code", sort=False)
    out["change_n_awards"] = by_council["n_awards"].diff()
    out["change_total_gbp"] = by_council["total_gbp"].diff()
    return out[TREND_COLUMNS].reset_index(drop=True)
