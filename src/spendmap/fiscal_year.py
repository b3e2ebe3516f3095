"""UK financial years (1 April to 31 March), written `2016-17`."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd

from spendmap.errors import InputError

_FY_PATTERNS = [
    # 2016-17, 2016/17, 2016_17, 2016 to 2017, 2016-2017, 16/17, 16-17
    re.compile(r"(?<!\d)(20\d{2})\s*(?:[-/_ ]*to[-/_ ]*|-|/|_)\s*(?:20)?(\d{2})(?!\d)", re.IGNORECASE),
    re.compile(r"(?<!\d)(\d{2})\s*(?:-|/|_)\s*(\d{2})(?!\d)"),
]


def format_fy(start_year: int) -> str:
    """2016 -> '2016-17'."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def fy_start_year(fy: str) -> int:
    """'2016-17' -> 2016; raises InputError for anything else."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", fy.strip())
    if not m or (int(m.group(1)) + 1) % 100 != int(m.group(2)):
        raise InputError(f"'{fy}' is not a financial year: write it as 2016-17 (April 2016 to March 2017).")
    return int(m.group(1))


def fy_from_text(text: str) -> str | None:
    """Find a financial year in a file or sheet name ('..._2016_to_2017...', 'Grants 2022-23')."""
    for pattern in _FY_PATTERNS:
        for m in pattern.finditer(text):
            first, second = m.group(1), m.group(2)
            start = int(first) if len(first) == 4 else 2000 + int(first)
            if (start + 1) % 100 == int(second[-2:]) and 1990 <= start <= 2100:
                return format_fy(start)
    return None


def fy_of_date(d: date | pd.Timestamp) -> str:
    """The financial year a date falls in."""
    return format_fy(d.year if d.month >= 4 else d.year - 1)


def fy_of_dates(dates: pd.Series) -> pd.Series:
    """Vectorised fy_of_date; missing dates give <NA>."""
    ts = pd.to_datetime(dates, errors="coerce")
    start = ts.dt.year.where(ts.dt.month >= 4, ts.dt.year - 1)
    out = start.map(lambda y: format_fy(int(y)) if pd.notna(y) else pd.NA)
    return out.astype("string")
