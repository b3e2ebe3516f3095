"""Change over time: one row per council and year with grants and CRA side by side (`--years`)."""

from __future__ import annotations

import pandas as pd

TREND_COLUMNS = [
    "la_code", "la_name", "fy", "n_schemes", "n_recipients", "n_awards", "total_gbp", "share_small",
    "cra_allocated_gbp", "cra_per_head_gbp", "change_n_awards", "change_total_gbp",
]


def council_trends(place_summary: pd.DataFrame, cra_allocation: pd.DataFrame) -> pd.DataFrame:
    """Per council and year: the grant profile, its CRA allocation, and the change from the previous
    year in the run (empty for a council's first year): queries/trends.sql."""
    from spendmap.queries import run

    cra = cra_allocation[["la_code", "fy", "allocated_gbp", "population"]]
    out = run("trends", {"place_summary": place_summary[TREND_COLUMNS[:8]], "cra": cra})
    # The place summary's own column types, whatever DuckDB hands back (strings, an empty result).
    kept = {c: place_summary[c].dtype for c in TREND_COLUMNS[:8]}
    return out[TREND_COLUMNS].astype({**kept, **{c: "float64" for c in TREND_COLUMNS[8:]}})
