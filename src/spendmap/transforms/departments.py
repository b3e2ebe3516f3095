"""Canonical departments for raw funder names and org-ids, across machinery-of-government changes.

The published funder name decides first (it says which name was in force when the data was
published); the org-id (`GB-GOR-D9`, `D9`) is the fallback, resolved by date because one GOV.UK id can
carry several names over time. A funder matched by neither stays <NA> and is listed by
`unknown_funders`, never guessed.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from spendmap.fiscal_year import fy_start_year
from spendmap.sources.rules import org_id_key
from spendmap.text import distinct_combos, normalise_text


def _reference_dates(df: pd.DataFrame) -> pd.Series:
    """The date a row's department name is resolved at: mid-year (1 October) of its financial year,
    else its award date. The financial year wins because GGIS award dates can be years before the
    year whose amount is reported."""
    fy = df["fy"].astype("string") if "fy" in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")
    # One parse per distinct year (a register has one or a few), not one per award.
    starts = {v: fy_start_year(v) for v in fy.dropna().unique() if re.fullmatch(r"\d{4}-\d{2}", v)}
    start = fy.map(starts).astype("Int64")
    mid = pd.to_datetime(start.astype("string") + "-10-01", errors="coerce")
    award = (
        pd.to_datetime(df["award_date"], errors="coerce")
        if "award_date" in df.columns
        else pd.Series(pd.NaT, index=df.index)
    )
    return mid.fillna(award).astype("datetime64[ns]")


def _match(keys: pd.Series, dates: pd.Series, table: pd.DataFrame, key_type: str) -> pd.DataFrame:
    """For each row, the table row for its key whose validity contains the date.

    A name whose dates do not contain the row's date still matches (the published name is evidence
    of the department even when a register kept an old name); an org-id must match by date. Matched
    once per distinct (key, date) pair: a million awards name a few hundred departments and years.
    """
    key_codes, key_values = pd.factorize(keys)  # a missing key or date is code -1
    date_codes, date_values = pd.factorize(dates)
    combos, inverse = distinct_combos([key_codes + 1, date_codes + 1])
    distinct = _match_distinct(
        pd.Series(pd.array(key_values).take(combos[:, 0] - 1, allow_fill=True)),
        pd.Series(pd.array(date_values).take(combos[:, 1] - 1, allow_fill=True)),
        table, key_type,
    )
    rows = np.flatnonzero(np.isin(inverse, distinct.index.to_numpy()))
    found = distinct.iloc[distinct.index.get_indexer(inverse[rows])]
    return found.set_axis(pd.Index(rows, name="_row"))


def _match_distinct(keys: pd.Series, dates: pd.Series, table: pd.DataFrame, key_type: str) -> pd.DataFrame:
    rows = table[table["key_type"] == key_type]
    left = pd.DataFrame({"match_key": keys, "_date": dates, "_row": range(len(keys))}).dropna(
        subset=["match_key"]
    )
    merged = left.merge(
        rows[["match_key", "short_name", "lineage", "department", "valid_from", "valid_to"]],
        on="match_key",
        how="inner",
    )
    in_range = (merged["valid_from"].isna() | (merged["_date"] >= merged["valid_from"])) & (
        merged["valid_to"].isna() | (merged["_date"] < merged["valid_to"])
    )
    # Rows with no date can only match an undated entry or one whose candidates all agree.
    merged["_rank"] = (~in_range.fillna(False)).astype(int)
    if key_type == "org_id":
        merged = merged[in_range.fillna(False)]
    merged = merged.sort_values(["_row", "_rank"], kind="stable").drop_duplicates("_row")
    return merged.set_index("_row")[["short_name", "lineage", "department"]]


def apply_departments(awards: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Fill `department` (short name, e.g. DfT) and `department_lineage` from `department_raw` and
    `funder_id`; `department_raw` is kept as published. Unknown funders get <NA>.

    Works on any frame with `department_raw` (and optionally `funder_id`, `fy`, `award_date`), so the
    scheme registers use it too. `table` is sources.rules.load_departments().
    """
    out = awards.copy()
    n = len(out)
    dates = _reference_dates(out).reset_index(drop=True)
    raw = out["department_raw"] if "department_raw" in out.columns else pd.Series(pd.NA, index=out.index)
    by_name = _match(normalise_text(raw).reset_index(drop=True), dates, table, "name")
    fid = out["funder_id"] if "funder_id" in out.columns else pd.Series(pd.NA, index=out.index)
    by_id = _match(org_id_key(fid).reset_index(drop=True), dates, table, "org_id")

    result = pd.DataFrame(index=range(n), columns=["short_name", "lineage"], dtype="string")
    result.update(by_id[["short_name", "lineage"]].astype("string"))
    result.update(by_name[["short_name", "lineage"]].astype("string"))
    out["department"] = result["short_name"].astype("string").to_numpy()
    out["department_lineage"] = result["lineage"].astype("string").to_numpy()
    return out


def unknown_funders(awards: pd.DataFrame) -> pd.DataFrame:
    """Funders that apply_departments could not map: department_raw, funder_id, n_awards, amount_gbp.

    Empty when every funder is known. Sorted by number of awards, largest first.
    """
    cols = ["department_raw", "funder_id", "n_awards", "amount_gbp"]
    # Only the four columns read below are sliced, not every column of a million awards.
    wanted = [c for c in ("department_raw", "funder_id", "amount_gbp", "value_gbp") if c in awards.columns]
    unknown = awards.loc[awards["department"].isna().to_numpy(), wanted]
    if unknown.empty:
        return pd.DataFrame({c: pd.Series(dtype="string" if c in cols[:2] else "float64") for c in cols})
    frame = pd.DataFrame(
        {
            "department_raw": unknown["department_raw"].astype("string").fillna("(none)")
            if "department_raw" in unknown
            else "(none)",
            "funder_id": unknown["funder_id"].astype("string").fillna("(none)")
            if "funder_id" in unknown
            else "(none)",
            "amount": pd.to_numeric(unknown.get("amount_gbp", unknown.get("value_gbp")), errors="coerce"),
        }
    )
    grouped = frame.groupby(["department_raw", "funder_id"], dropna=False).agg(
        n_awards=("amount", "size"), amount_gbp=("amount", "sum")
    )
    return (
        grouped.reset_index().sort_values("n_awards", ascending=False, kind="stable").reset_index(drop=True)
    )
