"""--funding lines outside the run's years are rejected with that reason, their £ kept for reconciling."""

from __future__ import annotations

import json

import pandas as pd

from spendmap.transforms.run_years import OUTSIDE_YEARS, split_outside_years


def test_each_line_counts_in_its_own_dates_year():
    awards = pd.DataFrame({
        "award_id": ["a", "b", "c", "d"],
        "fy": ["2020-21"] * 4,
        "award_date": pd.to_datetime(["2020-04-01", "2021-03-31", "2021-04-01", None]),
        "amount_gbp": [1.0, 2.0, 4.0, 8.0],
        "source_file": "f.json", "source_sheet": "grants", "source_row": [1, 2, 3, 4],
    })
    kept, rejects = split_outside_years(awards, ["2020-21"], "Amount Awarded")
    assert list(kept["award_id"]) == ["a", "b", "d"]  # no date: the file's year
    assert list(rejects["source_row"]) == [3]
    assert rejects.loc[0, "reason"] == f"{OUTSIDE_YEARS} (2021-22, run: 2020-21)"
    values = json.loads(rejects.loc[0, "original_values"])
    assert values == {"award_id": "c", "award_date": "2021-04-01", "Amount Awarded": 4.0}
    kept2, _ = split_outside_years(awards, ["2020-21", "2021-22"], "Amount Awarded")
    assert list(kept2["fy"]) == ["2020-21", "2020-21", "2021-22", "2020-21"]
