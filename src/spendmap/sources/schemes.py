"""Government grant scheme registers (2013-14, 2014-15 and 2016-17 layouts) as one scheme table.

Three layouts are recognised by their headers:
- 2013-14 register: Department, Year 2013-14, Grants Description, Amount (£,000s), Grant Category, ...
- 2014-15 register: Department, Grants Description, Amount (£m), Grant Category, ...,
  Sector type (from COFOG level 0 code); tens of thousands of trailing blank rows.
- 2016-17 GGIS scheme list: Funding Org:Name, Grant Programme:Code, Grant Programme:Title, Aims and
  objectives, Value per year (thousands separators, negatives), ..., COFOG L0 Long Name; lines end in
  a bare CR.
Every non-blank row is either a scheme or a reject with a reason; blank rows are counted.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from spendmap.errors import InputError
from spendmap.fiscal_year import fy_from_text
from spendmap.paths import BUNDLED_SCHEMES, reference_path

SCHEME_COLUMNS = [
    "fy",
    "department_raw",
    "department",
    "scheme_code",
    "scheme_title",
    "description",
    "value_gbp",
    "cofog",
    "allocation_method",
    "source_file",
    "source_row",
]
SCHEME_DTYPES = {
    "fy": "string",
    "department_raw": "string",
    "department": "string",
    "scheme_code": "string",
    "scheme_title": "string",
    "description": "string",
    "value_gbp": "float64",
    "cofog": "string",
    "allocation_method": "string",
    "source_file": "string",
    "source_row": "Int64",
}
REJECT_COLUMNS = ["source_file", "source_sheet", "source_row", "reason", "original_values"]

# COFOG level-0 divisions as the registers spell them, and the canonical spelling.
COFOG_DIVISIONS = [
    "General public services",
    "Defence",
    "Public order and safety",
    "Economic affairs",
    "Environment protection",
    "Housing and community amenities",
    "Health",
    "Recreation, culture and religion",
    "Education",
    "Social protection",
]
_COFOG_ALIASES = {d.lower(): d for d in COFOG_DIVISIONS} | {
    "environmental protection": "Environment protection"
}
_NOT_STATED = {"", "n/a", "na", "unknown", ".", "-", "tbc"}


@dataclass(frozen=True)
class Layout:
    name: str
    department: str
    title: str
    amount: str
    multiplier: float
    code: str | None = None
    description: str | None = None
    cofog: str | None = None
    fy_column: str | None = None
    allocation: str | None = None  # how the scheme is allocated (Formula, Competed, ...), where given
    required: tuple[str, ...] = field(default=())


LAYOUTS = [
    Layout(
        name="GGIS scheme list (2015-16 onwards)",
        department="Funding Org:Name",
        title="Grant Programme:Title",
        amount="Value per year",
        multiplier=1.0,
        code="Grant Programme:Code",
        description="Aims and objectives",
        cofog="COFOG L0 Long Name",
        allocation="Allocation Method",
    ),
    Layout(
        name="grants register 2014-15 (Amount in £m)",
        department="Department",
        title="Grants Description",
        amount="Amount (£m)",
        multiplier=1e6,
        cofog="Sector type (from COFOG level 0 code)",
    ),
    Layout(
        name="grants register 2013-14 (Amount in £,000s)",
        department="Department",
        title="Grants Description",
        amount="Amount (£,000s)",
        multiplier=1e3,
        fy_column="Year 2013-14",
    ),
]


@dataclass
class SchemeRegister:
    """The scheme table, the rejected rows, and per-file counts for the run manifest."""

    schemes: pd.DataFrame
    rejects: pd.DataFrame
    stats: list[dict]


def _read_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    # csv with newline='' treats CR, LF and CRLF alike, also inside quoted fields.
    return list(csv.reader(io.StringIO(text, newline="")))


def _layout_of(header: list[str], path: Path) -> Layout:
    cleaned = [h.strip() for h in header]
    for layout in LAYOUTS:
        needed = [c for c in (layout.department, layout.title, layout.amount) if c]
        if all(c in cleaned for c in needed):
            return layout
    expected = "; ".join(f"{lay.name}: {lay.department}, {lay.title}, {lay.amount}" for lay in LAYOUTS)
    raise InputError(
        f"The scheme register {path} has a header this reader does not know: found "
        f"{', '.join(cleaned) or 'no header'}. Expected one of these column sets — {expected}."
    )


def parse_amount(text: pd.Series) -> pd.Series:
    """'1,234', '-2,442,056,000', ' 0.30 ', '(1,000)' → floats; blank → <NA>; anything else → NaN
    with the caller rejecting it."""
    cleaned = text.str.strip().str.replace(",", "", regex=False).str.replace("£", "", regex=False)
    negative = cleaned.str.fullmatch(r"\(\s*[\d.]+\s*\)").fillna(False)
    cleaned = cleaned.where(~negative, "-" + cleaned.str.strip("() "))
    valid = cleaned.str.fullmatch(r"-?\d+(\.\d+)?|-?\.\d+").fillna(False)
    value = pd.to_numeric(cleaned.where(valid), errors="coerce")
    return value


def canonical_cofog(text: pd.Series) -> pd.Series:
    """'1. General public services' → 'General public services'; n/a and unknown → <NA>."""
    t = text.astype("string").str.strip().str.replace(r"^\d+\.\s*", "", regex=True)
    lower = t.str.lower()
    out = lower.map(_COFOG_ALIASES).astype("string").fillna(t)
    return out.where(~lower.isin(_NOT_STATED).fillna(True), pd.NA)


def read_scheme_register(path: Path | str) -> SchemeRegister:
    """One scheme register file → SchemeRegister (schemes in SCHEME_COLUMNS, rejects, stats)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"The scheme register {path} does not exist.")
    rows = _read_rows(path)
    if not rows:
        raise InputError(f"The scheme register {path} is empty: expected a header row and schemes.")
    header = [h.strip() for h in rows[0]]
    layout = _layout_of(header, path)
    width = len(header)
    body = [r + [""] * (width - len(r)) if len(r) < width else r[:width] for r in rows[1:]]
    df = pd.DataFrame(body, columns=header, dtype="string")
    df["_row"] = range(2, len(df) + 2)

    blank = (df[header].apply(lambda s: s.str.strip()) == "").all(axis=1)
    n_blank = int(blank.sum())
    df = df[~blank]

    fy_file = fy_from_text(path.name)
    if layout.fy_column:
        fy = df[layout.fy_column].str.strip().map(lambda v: fy_from_text(v) if v else None).astype("string")
        fy = fy.fillna(fy_from_text(layout.fy_column) or fy_file)
    else:
        fy = pd.Series(fy_file, index=df.index, dtype="string")

    amount_text = df[layout.amount].fillna("")
    value = (parse_amount(amount_text) * layout.multiplier).round(2)
    title = df[layout.title].str.strip()

    reasons = pd.Series(pd.NA, index=df.index, dtype="string")
    reasons = reasons.mask(title == "", f"no scheme title ({layout.title} is empty)")
    bad_amount = value.isna() & (amount_text.str.strip() != "")
    reasons = reasons.fillna(
        pd.Series(f"{layout.amount} is not a number: '", index=df.index, dtype="string")
        .str.cat(amount_text)
        .str.cat(pd.Series("'", index=df.index, dtype="string"))
        .where(bad_amount)
    )
    reasons = reasons.mask(reasons.isna() & fy.isna(), "no financial year in the file name or Year column")

    rejected = reasons.notna()
    rejects = pd.DataFrame(
        {
            "source_file": path.name,
            "source_sheet": "",
            "source_row": df.loc[rejected, "_row"].astype("Int64"),
            "reason": reasons[rejected],
            "original_values": df.loc[rejected, header].apply(
                lambda r: " | ".join(f"{k}={v}" for k, v in r.items() if str(v).strip()), axis=1
            )
            if rejected.any()
            else pd.Series(dtype="string"),
        },
        columns=REJECT_COLUMNS,
    )

    keep = ~rejected

    def col(name: str | None) -> pd.Series:
        if name is None or name not in df.columns:
            return pd.Series(pd.NA, index=df.index[keep], dtype="string")
        text = df.loc[keep, name].str.strip()
        return text.where(~text.str.lower().isin(_NOT_STATED), pd.NA)

    schemes = pd.DataFrame(
        {
            "fy": fy[keep],
            "department_raw": col(layout.department),
            "department": pd.Series(pd.NA, index=df.index[keep], dtype="string"),
            "scheme_code": col(layout.code),
            "scheme_title": title[keep],
            "description": col(layout.description),
            "value_gbp": value[keep],
            "cofog": canonical_cofog(col(layout.cofog)),
            "allocation_method": col(layout.allocation),
            "source_file": path.name,
            "source_row": df.loc[keep, "_row"],
        }
    ).astype(SCHEME_DTYPES)
    stats = [
        {
            "source_file": path.name,
            "layout": layout.name,
            "rows_read": len(rows) - 1,
            "blank_rows": n_blank,
            "rows_accepted": int(keep.sum()),
            "rows_rejected": int(rejected.sum()),
            "value_gbp": float(schemes["value_gbp"].sum()),
            "values_not_stated": int(schemes["value_gbp"].isna().sum()),
        }
    ]
    return SchemeRegister(schemes.reset_index(drop=True), rejects.reset_index(drop=True), stats)


def read_scheme_registers(paths: list[Path | str] | None = None) -> SchemeRegister:
    """Several registers (default: the three bundled ones) concatenated into one SchemeRegister."""
    if paths is None:
        paths = [reference_path(*parts) for parts in BUNDLED_SCHEMES]
    parts = [read_scheme_register(p) for p in paths]
    schemes = pd.concat([p.schemes for p in parts], ignore_index=True).astype(SCHEME_DTYPES)
    rejects = pd.concat([p.rejects for p in parts], ignore_index=True)
    return SchemeRegister(schemes, rejects, [s for p in parts for s in p.stats])
