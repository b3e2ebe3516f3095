import pandas as pd
import pytest

from spendmap.errors import InputError
from spendmap.fiscal_year import format_fy, fy_from_text, fy_of_date, fy_of_dates, fy_start_year


@pytest.mark.parametrize(
    ("text", "fy"),
    [
        ("government-grant-awards-2016-17.xlsx", "2016-17"),
        ("GGIS_Grant_Awards_2016_to_2017_2017-10-27_1621.xlsx", "2016-17"),
        ("2024-03-19_Government_Grants_Register_2022_to_2023.ods", "2022-23"),
        ("Grants 2022/23", "2022-23"),
        ("awards 99-00", "2099-00"),
        ("2017-10-27", None),  # a date is not a financial year
        ("register.ods", None),
    ],
)
def test_fy_from_text(text, fy):
    assert fy_from_text(text) == fy


def test_fy_of_dates_splits_at_april():
    dates = pd.Series(["2016-03-31", "2016-04-01", None])
    assert fy_of_dates(dates).tolist()[:2] == ["2015-16", "2016-17"]
    assert pd.isna(fy_of_dates(dates).iloc[2])
    assert fy_of_date(pd.Timestamp("2017-03-31")) == "2016-17"


def test_format_and_parse():
    assert format_fy(1999) == "1999-00"
    assert fy_start_year("2016-17") == 2016
    for bad in ("2016-18", "2016/17", "16-17", "x"):
        with pytest.raises(InputError):
            fy_start_year(bad)
