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


def place_summary(
    awards: pd.DataFrame,
    councils: pd.DataFrame,
    threshold: float = DEFAULT_SMALL_THRESHOLD,
    fys: list[str] | None = None,
    include_zero: bool = False,
    include_redacted: bool = False,
) -> pd.DataFrame:
    """One row per council (from `councils`) and financial year: PLACE_SUMMARY_COLUMNS.

    n_awards and total_gbp count every award placed in the council; n_small_awards counts small
    awards; share_small = n_small_awards / awards tested (n_awards less zero-value, negative and
    redacted ones unless included) and is empty when none was tested. fys defaults to the years in
    `awards`.
    """
    flags = award_flags(awards, threshold, include_zero, include_redacted)
    frame = pd.DataFrame(
        {
            "la_code": awards["la_code"].astype("string"),
            "fy": awards["fy"].astype("string"),
            "scheme": scheme_key(awards),
            "recipient": recipient_key(awards),
            "amount": pd.to_numeric(awards["amount_gbp"], errors="coerce").fillna(0.0),
            "tested": flags["tested"],
            "small": flags["is_small"],
        }
    ).dropna(subset=["la_code", "fy"])
    stats = frame.groupby(["la_code", "fy"]).agg(
        n_schemes=("scheme", "nunique"),
        n_recipients=("recipient", "nunique"),
        n_awards=("amount", "size"),
        total_gbp=("amount", "sum"),
        n_small_awards=("small", "sum"),
        n_tested=("tested", "sum"),
    )
    out = _council_grid(councils, _years(awards, fys)).merge(
        stats.reset_index(), on=["la_code", "fy"], how="left"
    )
    for col in ("n_schemes", "n_recipients", "n_awards", "n_small_awards", "n_tested"):
        out[col] = out[col].fillna(0).astype("int64")
    out["total_gbp"] = out["total_gbp"].fillna(0.0).round(2)
    out["share_small"] = out["n_small_awards"] / out["n_tested"].where(out["n_tested"] > 0)
    out = out.sort_values(["la_code", "fy"], kind="stable").reset_index(drop=True)
    return out[PLACE_SUMMARY_COLUMNS]


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
