"""Readable money: the one formatter used by every output."""

from __future__ import annotations

import pandas as pd
import pytest

from spendmap.outputs.money import format_count, format_gbp, format_gbp_full, format_per_head, format_share


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "£0"),
        (950, "£950"),
        (999.4, "£999"),
        (999.6, "£1k"),
        (1_500, "£1.5k"),
        (12_345, "£12.3k"),
        (850_000, "£850k"),
        (999_499, "£999k"),
        (999_600, "£1m"),
        (1_234_567, "£1.2m"),
        (125_000_000, "£125m"),
        (999_960_000, "£1bn"),
        (3_920_986_733, "£3.9bn"),
        (-1_200_000, "-£1.2m"),
        (None, "–"),
        (float("nan"), "–"),
        (pd.NA, "–"),
    ],
)
def test_format_gbp(value, text):
    assert format_gbp(value) == text


def test_exact_and_other_formats():
    assert format_gbp_full(3_920_986_733) == "£3,920,986,733"
    assert format_gbp_full(-2_000) == "-£2,000"
    assert format_gbp_full(12.345, pence=True) == "£12.35"
    assert format_per_head(16.549) == "£16.55" and format_per_head(8_047.2) == "£8,047"
    assert (
        format_share(0.625) == "63%"
        and format_share(0.0049, 1) == "0.5%"
        and format_share(0.7) == "70%"
        and format_share(None) == "–"
    )
    assert format_count(63_669) == "63,669" and format_count(pd.NA) == "–"
