"""HM Treasury's Country and Regional Analysis (CRA) database: long by segment × region, wide by year.

`read_cra` finds the data sheet (any edition's header variants, a `Metadata` sheet first, or a CSV of
the same layout), melts the year columns to one row per segment × region × year, converts £ thousands
(or £ millions) to £, and normalises the region labels to ONS region/nation codes. Rows are classified:
only identifiable spend in an English region or a devolved nation can be allocated to councils; the
rest (outside the UK, non-regional, non-identifiable) is kept, totalled and reported, never allocated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spendmap.errors import InputError
from spendmap.fiscal_year import fy_from_text
from spendmap.paths import BUNDLED_CRA, reference_path
from spendmap.schemas import REJECT_COLUMNS
from spendmap.sources.tabular import normalise_header, read_table
from spendmap.text import is_missing, normalise_label

# Header variants across editions -> canonical column.
CRA_ALIASES: dict[str, str] = {
    "department name": "department",
    "department": "department",
    "organisation name": "organisation",
    "organisation": "organisation",
    "organization name": "organisation",
    "cra segment code": "segment_code",
    "cra segment": "segment_code",
    "segment code": "segment_code",
    "cra segment name": "segment_name",
    "cra segment description": "segment_name",
    "segment name": "segment_name",
    "cofog level 0": "cofog_l0",
    "cofog l0": "cofog_l0",
    "hmt function": "function",
    "function": "function",
    "cofog level 1": "cofog_l1",
    "cofog l1": "cofog_l1",
    "hmt subfunction": "subfunction",
    "hmt sub-function": "subfunction",
    "hmt sub function": "subfunction",
    "subfunction": "subfunction",
    "id/non-id": "identifiable",
    "id / non-id": "identifiable",
    "id or non-id": "identifiable",
    "cap or cur": "capital_current",
    "cap/cur": "capital_current",
    "cg, lg, pc, boe": "sector",
    "cg, lg or pc": "sector",
    "cg, lg, pc, boe, psp": "sector",
    "cg, lg, pc, psp, boe": "sector",
    "cg, lg, pc": "sector",
    "allocated by hmt or dept": "allocated_by",
    "nuts region": "region_label",
    "itl region": "region_label",
    "nuts 1 region": "region_label",
    "itl1 region": "region_label",
    "region": "region_label",
    "country": "country",
}
CRA_REQUIRED = ["department", "function", "identifiable", "region_label"]

CRA_LONG_COLUMNS = [
    "fy",
    "department",
    "organisation",
    "segment_code",
    "segment_name",
    "cofog_l0",
    "function",
    "cofog_l1",
    "subfunction",
    "is_identifiable",
    "capital_current",
    "sector",
    "region_label",
    "region_code",
    "region_category",
    "value_gbp",
    "source_row",
]

# Region categories. Only `regional` rows (identifiable ones) are allocated to councils.
REGIONAL = "regional"
OUTSIDE_UK = "outside_uk"
NON_REGIONAL = "non_regional"
NOT_IDENTIFIABLE = "not_identifiable"
COUNTRY_LEVEL = "country_level"  # England/UK/GB as a whole: no region to share it within

UNITS = {"thousands": 1_000, "millions": 1_000_000, "pounds": 1}

# Region labels, keyed by _label_key (lower case, no 'england_' prefix, '&' as 'and', no 'the').
_REGION_ALIASES: dict[str, str] = {
    "north east": "E12000001",
    "north west": "E12000002",
    "yorkshire and humber": "E12000003",
    "yorkshire and humberside": "E12000003",
    "east midlands": "E12000004",
    "west midlands": "E12000005",
    "east": "E12000006",  # CRA's 'East'/'Eastern' is the ONS East of England region
    "eastern": "E12000006",
    "east of england": "E12000006",
    "london": "E12000007",
    "south east": "E12000008",
    "south west": "E12000009",
    "scotland": "S92000003",
    "wales": "W92000004",
    "northern ireland": "N92000002",
}
_OTHER_LABELS: dict[str, str] = {
    "outside uk": OUTSIDE_UK,
    "outside united kingdom": OUTSIDE_UK,
    "non-regional": NON_REGIONAL,
    "non regional": NON_REGIONAL,
    "nonregional": NON_REGIONAL,
    "not identifiable": NOT_IDENTIFIABLE,
    "non-identifiable": NOT_IDENTIFIABLE,
    "non identifiable": NOT_IDENTIFIABLE,
    "non-identifiable spending": NOT_IDENTIFIABLE,
    "not identifiable spending": NOT_IDENTIFIABLE,
    "uk": COUNTRY_LEVEL,
    "united kingdom": COUNTRY_LEVEL,
    "great britain": COUNTRY_LEVEL,
    "gb": COUNTRY_LEVEL,
    "england": COUNTRY_LEVEL,
    "england and wales": COUNTRY_LEVEL,
}


def _label_key(label: str) -> str:
    s = normalise_label(label)
    s = re.sub(r"^england\s*[_:\-–]\s*", "", s)
    s = s.replace("&", " and ").replace("_", " ")
    s = re.sub(r"\bthe\b", " ", s)
    s = re.sub(r"\s+", " ", s).strip()
    return s


def normalise_region(label: object) -> tuple[str | None, str | None]:
    """(region_code, category) of a CRA region label, or (None, None) if the label is unknown.

    Regions and nations give their ONS code and category `regional`; outside-UK, non-regional,
    non-identifiable and UK/England-level labels give no code and their category.
    """
    if is_missing(label):
        return None, None
    key = _label_key(str(label))
    if key in _REGION_ALIASES:
        return _REGION_ALIASES[key], REGIONAL
    if key in _OTHER_LABELS:
        return None, _OTHER_LABELS[key]
    return None, None


def known_region_labels() -> list[str]:
    """The labels (in normalised form) that normalise_region understands, for error messages."""
    return sorted(_REGION_ALIASES) + sorted(_OTHER_LABELS)


@dataclass
class CraTable:
    """One CRA edition, long: one row per segment × region × year (CRA_LONG_COLUMNS)."""

    frame: pd.DataFrame
    rejects: pd.DataFrame  # REJECT_COLUMNS: cells that are not numbers
    path: Path
    sheet: str | None
    header_row: int
    units: str
    rows_read: int
    year_columns: dict[str, str]  # fy -> header as found
    blank_cells: int  # empty value cells, read as £0
    # False when the edition holds none of the years asked for: only its header was read (no values).
    values_read: bool = True

    @property
    def years(self) -> list[str]:
        return sorted(self.year_columns)

    def summary(self) -> dict:
        """What the manifest records: rows, years, and £ totals by category (allocated or not)."""
        f = self.frame
        category = np.where(
            (f["region_category"] == REGIONAL) & f["is_identifiable"],
            "allocated_identifiable_regional",
            np.where(
                ~f["is_identifiable"],
                "not_allocated_non_identifiable",
                "not_allocated_" + f["region_category"].astype(str),
            ),
        )
        totals = (
            pd.DataFrame({"fy": f["fy"], "category": category, "value_gbp": f["value_gbp"]})
            .groupby(["fy", "category"])["value_gbp"]
            .sum()
            .round(2)
        )
        by_year: dict[str, dict[str, float]] = {}
        for (fy, cat), v in totals.items():
            by_year.setdefault(str(fy), {})[str(cat)] = float(v)
        return {
            "path": str(self.path),
            "sheet": self.sheet,
            "header_row": self.header_row,
            "units": self.units,
            "rows_read": self.rows_read,
            "cells_read": self.rows_read * len(self.year_columns),
            "cells_accepted": len(f),
            "cells_rejected": len(self.rejects),
            "blank_cells_read_as_zero": self.blank_cells,
            "years": self.years,
            "values_read": self.values_read,
            "totals_gbp_by_year": by_year,
            "total_gbp": float(round(f["value_gbp"].sum(), 2)),
        }


def _year_columns(columns: list[str], original: dict[str, str]) -> dict[str, str]:
    """fy -> frame column for headers that are a financial year ('2016-17', '2016-17 outturn')."""
    found: dict[str, str] = {}
    for col in columns:
        header = original.get(col, col)
        text = normalise_header(header)
        fy = fy_from_text(text)
        if fy is None:
            continue
        rest = re.sub(
            r"[\d\s\-/_()£'’,.]|\bto\b|\boutturn\b|\bplans?\b|\bfy\b|\bthousands?\b|\bmillions?\b|\bm\b|"
            r"\bestimated?\b|\bprovisional\b|\brevised\b",
            "",
            text,
        )
        if rest:
            continue  # a header that merely mentions a year is not a year column
        if fy in found:
            raise InputError(
                f"Two columns are headed with the same financial year {fy}: "
                f"'{original.get(found[fy], found[fy])}' and '{header}'."
            )
        found[fy] = col
    return found


def _stated_units(path: Path, sheet_names: list[str], data_sheet: str | None) -> str | None:
    """The units a workbook's notes state ("£'000s", "£ thousands", "£ million"), if any."""
    if not sheet_names:
        return None
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    for name in sheet_names:
        if name == data_sheet:
            continue
        rows = wb.get_sheet_by_name(name).to_python(nrows=200)
        text = " ".join(str(c) for r in rows for c in r if isinstance(c, str)).lower()
        if re.search(r"£\s*['’]?\s*000s?|£\s*thousands?|thousands of pounds", text):
            return "thousands"
        if re.search(r"£\s*m(illions?)?\b|£\s*bn|millions of pounds", text):
            return "millions"
    return None


def _parse_values(cells: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(value, is_blank, is_bad) for cells holding numbers or text such as '1,234.5', '(12)', '-'."""
    obj = cells.astype(object)
    is_num = obj.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
    numeric = pd.to_numeric(obj.where(is_num), errors="coerce").astype("float64")
    text = obj.where(~is_num).astype("string").str.strip()
    # A dash alone is PESA's way of writing nil; an empty cell is a segment with nothing that year.
    blank = obj.isna() | text.isin(["", "-", "–", "—"]).fillna(False)
    cleaned = text.str.replace(r"[,£\s]", "", regex=True)
    negative = cleaned.str.fullmatch(r"\(.*\)").fillna(False)
    cleaned = cleaned.str.strip("()")
    parsed = pd.to_numeric(cleaned.where(~blank), errors="coerce").astype("float64")
    parsed = parsed.where(~negative, -parsed)
    value = numeric.where(is_num, parsed).where(~blank, 0.0)
    bad = value.isna() | ~np.isfinite(value.fillna(0.0))
    return value.fillna(0.0), blank, bad


def read_cra(
    path: str | Path | None = None, *, units: str | None = None, years: list[str] | None = None
) -> CraTable:
    """Read a CRA database workbook or CSV into the long canonical table (values in £).

    `years`: the run's years. An edition that holds none of them is read no further than its header
    (which years it covers, for the coverage note): its values would be allocated to nothing.

    `units` is the unit of the year columns: "thousands" (CRA's own), "millions" (`--cra-units`) or
    "pounds". If omitted, the unit stated in the workbook's notes is used, else thousands; a unit that
    contradicts the notes is an InputError rather than a silent factor of 1,000.
    """
    path = Path(path) if path is not None else reference_path(*BUNDLED_CRA)
    if units is not None and units not in UNITS:
        raise InputError(f"CRA units '{units}' are not understood: use one of {', '.join(UNITS)}.")
    raw = read_table(
        path,
        aliases=CRA_ALIASES,
        required=CRA_REQUIRED,
        preferred_sheets=["CRA 2018 database", "CRA database", "Database", "Data"],
        what="CRA database",
    )
    where = f"CRA database '{path}'" + (
        f" (sheet '{raw.sheet}', header on row {raw.header_row})"
        if raw.sheet
        else f" (header on line {raw.header_row})"
    )
    stated = _stated_units(path, raw.sheet_names, raw.sheet)
    if units is None:
        units = stated or "thousands"
    elif stated is not None and stated != units:
        raise InputError(
            f"{where}: values were declared to be in £ {units}, but the workbook's notes state £ {stated}. "
            f"Check the edition and pass the units that match it (--cra-units {stated})."
        )
    df = raw.frame
    years_found = _year_columns([c for c in df.columns if c != "source_row"], raw.original_headers)
    if not years_found:
        raise InputError(
            f"{where} has no year columns: expected headers that are financial years such as 2016-17; "
            f"the headers found are {raw.headers_found}."
        )
    year_columns = {fy: raw.original_headers.get(c, c) for fy, c in years_found.items()}
    if years is not None and not set(years) & set(years_found):
        empty = pd.DataFrame({c: pd.Series(dtype="string") for c in CRA_LONG_COLUMNS})
        empty = empty.astype({"is_identifiable": bool, "value_gbp": "float64", "source_row": "int64"})
        return CraTable(frame=empty, rejects=pd.DataFrame(columns=REJECT_COLUMNS), path=path,
                        sheet=raw.sheet, header_row=raw.header_row, units=units, rows_read=len(df),
                        year_columns=year_columns, blank_cells=0, values_read=False)

    # Region labels: every distinct label must be understood before anything is converted.
    labels = df["region_label"].astype("string").str.strip()
    distinct = labels.dropna().unique()
    mapping = {lab: normalise_region(lab) for lab in distinct}
    unknown = sorted(lab for lab, (code, cat) in mapping.items() if cat is None)
    n_missing_label = int(labels.isna().sum())
    if unknown or n_missing_label:
        problem = []
        if unknown:
            problem.append(f"unknown region labels {unknown}")
        if n_missing_label:
            rows = df.loc[labels.isna(), "source_row"].head(10).tolist()
            problem.append(f"{n_missing_label} rows with no region (rows {rows})")
        raise InputError(
            f"{where}: {' and '.join(problem)}. Known labels (case, an 'ENGLAND_' prefix, '&' and 'the' "
            f"are ignored): {', '.join(known_region_labels())}."
        )
    region_code = labels.map(lambda lab: mapping[lab][0]).astype("string")
    category = labels.map(lambda lab: mapping[lab][1]).astype("string")

    ident = df["identifiable"].astype("string").str.strip().str.upper().str.replace(r"[\s_]", "-", regex=True)
    bad_ident = ~ident.isin(["ID", "NON-ID"]).fillna(False)
    if bad_ident.any():
        found = sorted(set(df.loc[bad_ident, "identifiable"].astype(str)))[:10]
        raise InputError(
            f"{where}: the ID/non-ID column must hold 'ID' or 'Non-ID'; found {found} "
            f"(rows {df.loc[bad_ident, 'source_row'].head(10).tolist()})."
        )
    is_ident = (ident == "ID").astype(bool)

    def text(col: str) -> pd.Series:
        if col not in df:
            return pd.Series(pd.NA, index=df.index, dtype="string")
        return df[col].astype("string").str.strip()

    base = pd.DataFrame(
        {
            "department": text("department"),
            "organisation": text("organisation"),
            "segment_code": text("segment_code"),
            "segment_name": text("segment_name"),
            "cofog_l0": text("cofog_l0"),
            "function": text("function"),
            "cofog_l1": text("cofog_l1"),
            "subfunction": text("subfunction"),
            "is_identifiable": is_ident,
            "capital_current": text("capital_current").str.upper(),
            "sector": text("sector"),
            "region_label": labels,
            "region_code": region_code,
            "region_category": category,
            "source_row": df["source_row"].astype("int64"),
        }
    )
    factor = UNITS[units]
    parts, reject_rows, blank_total = [], [], 0
    for fy, col in sorted(years_found.items()):
        value, blank, bad = _parse_values(df[col])
        blank_total += int(blank.sum())
        if bad.any():
            for i in df.index[bad.to_numpy()]:
                reject_rows.append(
                    {
                        "source_file": str(path),
                        "source_sheet": raw.sheet,
                        "source_row": int(df.at[i, "source_row"]),
                        "reason": f"{fy} value is not a number: {df.at[i, col]!r}",
                        "original_values": "; ".join(
                            f"{k}={df.at[i, k]}"
                            for k in ["department", "segment_code", "region_label", col]
                            if k in df
                        ),
                    }
                )
        part = base[~bad.to_numpy()].copy()
        # Values are rounded to pennies: the unit conversion of a float must not invent fractions.
        part["value_gbp"] = (value[~bad].to_numpy() * factor).round(2)
        part.insert(0, "fy", fy)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame["fy"] = frame["fy"].astype("string")
    frame = frame[CRA_LONG_COLUMNS]
    rejects = pd.DataFrame(reject_rows, columns=REJECT_COLUMNS)
    return CraTable(
        frame=frame,
        rejects=rejects,
        path=path,
        sheet=raw.sheet,
        header_row=raw.header_row,
        units=units,
        rows_read=len(df),
        year_columns=year_columns,
        blank_cells=blank_total,
    )


def identifiable_regional(cra: pd.DataFrame) -> pd.DataFrame:
    """The rows the allocation uses: identifiable spend in an English region or a devolved nation."""
    keep = cra["is_identifiable"].astype(bool) & (cra["region_category"] == REGIONAL)
    return cra[keep]
