"""Lines of other funders' data (--funding, --local) dated outside the run's years.

The government register's year is the file's year (its award dates may precede it). Other funders'
grants and a council's own spend carry their own dates, so each line belongs to the financial year of
its own date: lines outside the run's years are left out of that run, with the reason below, so every
row read is still accepted or rejected.
"""

from __future__ import annotations

import json

import pandas as pd

from spendmap.fiscal_year import fy_of_dates
from spendmap.schemas import REJECT_COLUMNS

OUTSIDE_YEARS = "outside the run's years"
# The fields a left-out line keeps in rejects.csv (its amount under the input's own amount header).
_SHOWN = ("award_id", "title", "recipient_name", "department_raw", "award_date")


def own_years(awards: pd.DataFrame) -> pd.Series:
    """Each award's financial year from its own date; the file's year where it has no readable date."""
    return fy_of_dates(awards["award_date"]).fillna(awards["fy"].astype("string"))


def split_outside_years(awards: pd.DataFrame, years: list[str], amount_header: str
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(awards whose own year is one of `years`, with `fy` set to it; rejects for the others)."""
    fy = own_years(awards)
    inside = fy.isin(years).to_numpy()
    kept = awards[inside].copy()
    kept["fy"] = fy[inside].to_numpy()
    out = awards[~inside]
    originals = []
    for rec in out.to_dict(orient="records"):
        values = {c: rec[c].date().isoformat() if isinstance(rec.get(c), pd.Timestamp) else rec.get(c)
                  for c in _SHOWN if not pd.isna(rec.get(c))}
        values[amount_header] = rec.get("amount_gbp")
        originals.append(json.dumps(values, default=str, ensure_ascii=False))
    rejects = pd.DataFrame({
        "source_file": out["source_file"].astype("string").to_numpy(),
        "source_sheet": out["source_sheet"].astype("string").to_numpy(),
        "source_row": out["source_row"].astype("Int64").to_numpy(),
        "reason": [f"{OUTSIDE_YEARS} ({f}, run: {', '.join(years)})" for f in fy[~inside]],
        "original_values": originals,
    }, columns=REJECT_COLUMNS)
    return kept.reset_index(drop=True), rejects.astype({"source_row": "Int64"})
