import pandas as pd
import pytest

from spendmap.transforms.trends import TREND_COLUMNS, council_trends


def test_trends_join_grants_and_cra_and_diff_by_council():
    summary = pd.DataFrame(
        {
            "la_code": ["A", "A", "B"], "la_name": ["Ay", "Ay", "Bee"],
            "fy": ["2016-17", "2017-18", "2017-18"],
            "n_schemes": [1, 2, 3], "n_recipients": [1, 1, 1], "n_awards": [10, 15, 4],
            "total_gbp": [100.0, 80.0, 5.0], "share_small": [0.5, 0.2, None],
        }
    )
    cra = pd.DataFrame(
        {
            "la_code": ["A", "A", "A"], "fy": ["2016-17", "2016-17", "2017-18"],
            "allocated_gbp": [600.0, 400.0, 1200.0], "population": [100, 100, 120],
        }
    )
    out = council_trends(summary, cra)
    assert list(out.columns) == TREND_COLUMNS
    a = out[out["la_code"] == "A"].set_index("fy")
    assert a.loc["2016-17", "cra_allocated_gbp"] == 1000.0 and a.loc["2016-17", "cra_per_head_gbp"] == 10.0
    assert a.loc["2017-18", "change_n_awards"] == 5 and a.loc["2017-18", "change_total_gbp"] == -20.0
    assert pd.isna(a.loc["2016-17", "change_n_awards"])
    b = out[out["la_code"] == "B"].iloc[0]
    assert pd.isna(b["cra_allocated_gbp"]) and pd.isna(b["change_total_gbp"])
    assert out["n_awards"].sum() == pytest.approx(summary["n_awards"].sum())
