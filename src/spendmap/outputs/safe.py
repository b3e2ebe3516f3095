"""Untrusted text from data made safe for files, spreadsheets and file names."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import pandas as pd

# A cell starting with one of these can run as a formula in Excel/LibreOffice (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_MAX_SLUG = 60
# The same rule as a DuckDB macro, for tables exported by `COPY … TO` (outputs.tables.write_csv).
FORMULA_SQL = (
    "CREATE OR REPLACE TEMP MACRO neutralised(text) AS CASE WHEN left(text, 1) IN ("
    + ", ".join("'" + p.replace("'", "''") + "'" if p.isprintable() else f"chr({ord(p)})"
                for p in FORMULA_PREFIXES)
    + ") THEN chr(39) || text ELSE text END"
)


def neutralise_formula(value: object) -> object:
    """Prefix a text cell that could be read as a formula with an apostrophe; other values pass."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of df in which every text cell is formula-safe; numbers are left as numbers."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or isinstance(out[col].dtype, pd.StringDtype):
            text = out[col].astype("string")
            risky = text.str.startswith(FORMULA_PREFIXES).fillna(False)
            if risky.any():
                out[col] = text.where(~risky, "'" + text)
    return out


def slugify(text: str, max_length: int = _MAX_SLUG) -> str:
    """A lowercase ASCII file-name-safe slug: letters, digits and single hyphens; never empty."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    slug = slug[:max_length].rstrip("-")
    return slug or "unnamed"


def unique_slugs(names: Iterable[str], max_length: int = _MAX_SLUG) -> list[str]:
    """Slugs for names, made unique by a numeric suffix (kept within max_length)."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        base = slugify(name, max_length)
        slug, n = base, 1
        while slug in seen:
            n += 1
            suffix = f"-{n}"
            slug = base[: max_length - len(suffix)].rstrip("-") + suffix
        seen[slug] = 1
        result.append(slug)
    return result
