"""Council grant profiles (place_summary.csv) and small-grant counts (small_grants.csv).

A council's awards are the awards placed in it (`la_code`): a county shows the awards placed on the
county itself (mostly awards to the county council); a district shows the awards placed in the district.
Because every award has one `la_code`, no award is counted in both a county and one of its districts.

Small awards: 0 < amount < threshold (default £100,000). Zero-value and redacted awards are left out
of the small-award test (and counted separately) unless `include_zero` / `include_redacted` say
otherwise; negative awards (repayments, corrections) are never small. Every council in the councils
table gets a row for every year, with zeros when no award reached it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from spendmap.schemas import PLACE_SUMMARY_COLUMNS, SMALL_GRANTS_COLUMNS
from spendmap.transforms.names import normalise_text, recipient_key

DEFAULT_SMALL_THRESHOLD = 100_000.0
SMALL_GRANTS_EXTRA_COLUMNS = ["n_all_awards", "n_zero_value", "n_negative", "n_redacted"]


def scheme_key(awards: pd.DataFrame) -> pd.Series:
    """A scheme is (funder lineage, programme code), else (funder lineage, normalised title): the one
    scheme identity every table, Sankey, finding and page uses.

    The lineage keeps a renamed department's schemes (DCLG and MHCLG) together, and keeps two
    departments that happen to use the same code apart. Codes compare trimmed and upper-cased
    (`sch-1` is `SCH-1 `). A pre-computed `scheme_key` column is used as it is.
    """
    if "scheme_key" in awards.columns:
        return awards["scheme_key"].astype("string")
    code = awards["scheme_code"].astype("string").str.strip().str.upper()
    code = code.where(code != "", pd.NA)
    dept = awards["department"].astype("string")
    if "department_lineage" in awards.columns:
        dept = awards["department_lineage"].astype("string").fillna(dept)
    dept = dept.fillna(awards["department_raw"].astype("string")).fillna("")
    title = normalise_text(awards["scheme_title"])
    by_title = "TITLE:" + dept + ":" + title
    return ("CODE:" + dept + ":" + code).fillna(by_title).astype("string")


def award_flags(
    awards: pd.DataFrame,
    threshold: float = DEFAULT_SMALL_THRESHOLD,
    include_zero: bool = False,
    include_redacted: bool = False,
) -> pd.DataFrame:
    """Per award: is_zero (amount 0 or missing), is_negative, redacted, tested (counted in the small
    test) and is_small. Aligned to `awards`."""
    amount = pd.to_numeric(awards["amount_gbp"], errors="coerce")
    zero = (amount.fillna(0.0) == 0.0).to_numpy()
    negative = (amount < 0).fillna(False).to_numpy()
    redacted = awards["is_redacted"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    tested = ~negative
    if not include_zero:
        tested &= ~zero
    if not include_redacted:
        tested &= ~redacted
    small = tested & (amount.fillna(0.0).to_numpy() < threshold)
    return pd.DataFrame(
        {"is_zero": zero, "is_negative": negative, "redacted": redacted, "tested": tested, "is_small": small},
        index=awards.index,
    )


def _years(awards: pd.DataFrame, fys: list[str] | None) -> list[str]:
    if fys is not None:
        return list(fys)
    return sorted(awards["fy"].dropna().astype(str).unique())


def _council_grid(councils: pd.DataFrame, fys: list[str]) -> pd.DataFrame:
    base = councils[["la_code", "la_name"]].drop_duplicates("la_code")
    grid = base.merge(pd.DataFrame({"fy": fys}, dtype="string"), how="cross")
    return grid.astype({"la_code": "string", "la_name": "string", "fy": "string"})


def place_summaries(
    awards: pd.DataFrame,
    councils: pd.DataFrame,
    threshold: float = DEFAULT_SMALL_THRESHOLD,
    fys: list[str] | None = None,
    include_zero: bool = False,
    include_redacted: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(place_summary, place_summary per funder type), from one DuckDB pass (queries/place_summary.sql).

    place_summary: one row per council (from `councils`) and financial year, PLACE_SUMMARY_COLUMNS.
    n_awards and total_gbp count every award placed in the council; n_schemes the distinct scheme_key
    values; n_recipients the distinct recipients (names.recipient_key); n_small_awards the small awards;
    share_small = n_small_awards / awards tested (n_awards less zero-value, negative and redacted ones
    unless included), empty when none was tested. fys defaults to the years in `awards`.
    Per funder type: the same columns then `funder_type`, for councils and years where that type
    (transforms.funder_types.FUNDER_TYPES; missing is `other`) has awards; empty when the awards carry
    no funder type.
    """
    from spendmap.queries import run
    from spendmap.transforms.funder_types import FUNDER_TYPES

    kinds = pd.Series(pd.NA, index=awards.index, dtype="string")
    if "funder_type" in awards.columns:
        kinds = awards["funder_type"].astype("string").fillna("other")
        kinds = kinds.where(kinds.isin(FUNDER_TYPES))
    frame = pd.DataFrame(
        {
            "la_code": awards["la_code"].astype("string"),
            "fy": awards["fy"].astype("string"),
            "scheme": scheme_key(awards),
            "recipient": recipient_key(awards),
            "funder_type": kinds,
            "amount_gbp": pd.to_numeric(awards["amount_gbp"], errors="coerce"),
            "is_redacted": awards["is_redacted"].astype("boolean"),
        }
    )
    out = run("place_summary", {"awards": frame, "grid": _council_grid(councils, _years(awards, fys))},
              threshold=float(threshold), include_zero=bool(include_zero),
              include_redacted=bool(include_redacted))
    out = out.astype({"la_code": "string", "la_name": "string", "fy": "string", "funder_type": "string"})
    out["total_gbp"] = out["total_gbp"].astype("float64").round(2)
    out["share_small"] = out["n_small_awards"] / out["n_tested"].where(out["n_tested"] > 0)
    every = out["funder_type"].isna()
    summary = out[every].sort_values(["la_code", "fy"], kind="stable", ignore_index=True)
    by_type = out[~every].sort_values(["la_code", "fy", "funder_type"], kind="stable", ignore_index=True)
    return (summary[PLACE_SUMMARY_COLUMNS],
            by_type[[*PLACE_SUMMARY_COLUMNS, "funder_type"]].astype({"funder_type": str}))


def place_summary(awards: pd.DataFrame, councils: pd.DataFrame,
                  threshold: float = DEFAULT_SMALL_THRESHOLD, **options: Any) -> pd.DataFrame:
    """One row per council (from `councils`) and financial year: PLACE_SUMMARY_COLUMNS; `options` as
    place_summaries (fys, include_zero, include_redacted)."""
    return place_summaries(awards, councils, threshold, **options)[0]


def small_grants(
    awards: pd.DataFrame,
    councils: pd.DataFrame,
    threshold: float = DEFAULT_SMALL_THRESHOLD,
    fys: list[str] | None = None,
    include_zero: bool = False,
    include_redacted: bool = False,
) -> pd.DataFrame:
    """One row per council, year and scope (`all_recipients`: awards placed in the council;
    `council`: awards to the council itself).

    Columns: SMALL_GRANTS_COLUMNS, then n_all_awards, n_zero_value, n_negative, n_redacted. n_awards is
    the number of awards tested against the threshold (n_all_awards less the excluded ones), so
    share_small = n_small / n_awards (empty when n_awards is 0). The counting is the DuckDB query
    queries/small_grants.sql (both scopes in one GROUPING SETS pass); the tests flag awards as
    `award_flags` does.
    """
    from spendmap.queries import run

    columns = ["la_code", "fy", "amount_gbp", "is_redacted", "is_council_recipient"]
    out = run(
        "small_grants",
        {"awards": awards[columns], "grid": _council_grid(councils, _years(awards, fys))},
        threshold=float(threshold), include_zero=bool(include_zero), include_redacted=bool(include_redacted),
    )
    # The dtypes the table always had (scope plain Python text).
    text = dict.fromkeys(["la_code", "la_name", "fy"], "string")
    out = out.astype({**text, "scope": object, "share_small": "float64", "threshold_gbp": "float64"})
    return out[SMALL_GRANTS_COLUMNS + SMALL_GRANTS_EXTRA_COLUMNS]


def award_counts(
    awards: pd.DataFrame,
    threshold: float = DEFAULT_SMALL_THRESHOLD,
    include_zero: bool = False,
    include_redacted: bool = False,
) -> dict[str, float | int | bool]:
    """Counts for the run manifest: awards and £ in total, placed and unplaced, zero-value, negative,
    redacted (each with its £), tested and small, plus the threshold and flags used."""
    flags = award_flags(awards, threshold, include_zero, include_redacted)
    amount = pd.to_numeric(awards["amount_gbp"], errors="coerce").fillna(0.0).to_numpy()
    placed = awards["la_code"].notna().to_numpy()

    def pair(mask: np.ndarray) -> tuple[int, float]:
        return int(mask.sum()), round(float(amount[mask].sum()), 2)

    counts: dict[str, float | int | bool] = {
        "small_threshold_gbp": float(threshold),
        "small_includes_zero_value": include_zero,
        "small_includes_redacted": include_redacted,
    }
    for name, mask in {
        "awards": np.ones(len(awards), dtype=bool),
        "placed": placed,
        "unplaced": ~placed,
        "zero_value": flags["is_zero"].to_numpy(),
        "negative": flags["is_negative"].to_numpy(),
        "redacted": flags["redacted"].to_numpy(),
        "tested_for_small": flags["tested"].to_numpy(),
        "small": flags["is_small"].to_numpy(),
    }.items():
        n, gbp = pair(mask)
        counts[f"n_{name}"] = n
        counts[f"gbp_{name}"] = gbp
    return counts
