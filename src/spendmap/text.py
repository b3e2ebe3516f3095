"""Missing values and text normalising, shared by sources, transforms and outputs (one of each idea).

- `is_missing`: a typed value that is not known (None, NA, NaT, NaN) — as opposed to zero or ''.
- `is_blank`: a raw spreadsheet/CSV cell with nothing in it (None, or only whitespace).
- `normalise_label`: one label (header, sheet or region name) for matching: lower case, single spaces.
- `normalise_text`: a column of names for matching: lower case, '&' as 'and', no punctuation.
- `CONTROLS_RE2`, `LINE_CONTROLS`: characters removed from text at ingest (terminal escapes,
  bidirectional and control characters).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

_NON_ALNUM = r"[^0-9a-z]+"
_SPACES = re.compile(r"\s+")


def is_missing(value: object) -> bool:
    """None, NA, NaT or NaN: a value that is not known (as opposed to zero)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    kind = type(value)
    if kind is float:
        return value != value  # NaN only
    if kind is str or kind is int or kind is bool:  # the common cases, without pd.isna's dispatch
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def is_blank(cell: object) -> bool:
    """A raw cell with nothing in it: None (calamine's and csv's empty cells are '' or None) or spaces."""
    return cell is None or (isinstance(cell, str) and not cell.strip())


def normalise_label(text: object) -> str:
    """Lower case, trimmed, single-spaced text ('' when missing); no-break spaces and BOMs are spaces.
    A number typed as a label (a year column 2016) loses its '.0'."""
    if is_missing(text):
        return ""
    if isinstance(text, float) and text.is_integer():
        text = int(text)
    s = str(text).replace("\u00a0", " ").replace("\ufeff", "")
    return _SPACES.sub(" ", s).strip().lower()


def on_distinct(values: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply a text function once per distinct value (names repeat a lot) and map back."""
    codes, uniques = pd.factorize(values.astype("string"))
    done = fn(pd.Series(uniques, dtype="string")).astype("string").array
    # One take (missing values' code -1 gives <NA>), not a masked write into a column of <NA>s.
    return pd.Series(done.take(codes, allow_fill=True), index=values.index, dtype="string")


def distinct_combos(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows of the code columns, in sorted order; each award's row number among them): what
    np.unique(axis=0, return_inverse=True) gives, through one int64 key per award instead of sorting
    rows of a 2-D array."""
    bases = [int(col.max(initial=0)) + 1 for col in columns]
    if float(np.prod(bases, dtype=float)) >= 2**62:  # too many distinct values for one int64 key
        combos, inverse = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True)
        return combos, inverse.reshape(-1)
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for col in columns:
        key = key * (int(col.max(initial=0)) + 1) + col
    uniques, inverse = np.unique(key, return_inverse=True)
    combos = np.empty((len(uniques), len(columns)), dtype=np.int64)
    rest = uniques.copy()
    for i in range(len(columns) - 1, -1, -1):
        base = int(columns[i].max(initial=0)) + 1
        combos[:, i] = rest % base
        rest //= base
    return combos, inverse.reshape(-1)


def on_distinct_rows(frame: pd.DataFrame, fn: Callable[[pd.DataFrame], pd.DataFrame | pd.Series]
                     ) -> pd.DataFrame | pd.Series:
    """A row-wise fn applied once per distinct row of frame (registers repeat recipients and location
    codes; missing values are one value), its result mapped back to every row."""
    codes = [pd.factorize(frame[col], use_na_sentinel=True)[0] + 1 for col in frame.columns]
    _, inverse = distinct_combos(codes)
    first = np.empty(inverse.max(initial=-1) + 1, dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)  # each distinct row's first award
    done = fn(frame.iloc[first].reset_index(drop=True))
    return done.iloc[inverse].set_axis(frame.index)


def normalise_words(text: pd.Series) -> pd.Series:
    """normalise_text on every value (no de-duplication): for callers that build on it."""
    text = text.str.lower().str.replace("&", " and ", regex=False)
    text = text.str.replace(_NON_ALNUM, " ", regex=True).str.strip()
    return text.where(text != "", pd.NA)


def normalise_text(values: pd.Series) -> pd.Series:
    """Lower case, `&` as `and`, punctuation and runs of spaces as one space; missing stays <NA>."""
    return on_distinct(values, normalise_words)


# Characters that change how text is shown rather than what it says: ANSI terminal escapes (whole
# sequences), bidirectional controls (U+202A-U+202E, U+2066-U+2069: an override reverses the figures
# printed after a name), and the C0/C1 control characters. Line breaks and tabs (LINE_CONTROLS) become a
# space, so words stay apart; the rest are removed (sources.grants.clean_text). RE2 syntax (Arrow).
ANSI_ESCAPE = r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]"
LAYOUT_CONTROLS = r"[\x{202A}-\x{202E}\x{2066}-\x{2069}\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]"
LINE_CONTROLS = r"[\t\n\r]"
CONTROLS_RE2 = f"(?:{ANSI_ESCAPE})|{LAYOUT_CONTROLS}"
