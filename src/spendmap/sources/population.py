"""Population by council: ONS mid-year estimates (Nomis CSV or the official MYE workbook), Census 2021.

Readers give one canonical table per file (`vintage_year, source, area_code, area_name, population,
source_row`) holding district-level rows only. `transforms.population.population_for_councils` then
brings one vintage to the current council geography.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from spendmap.errors import InputError
from spendmap.paths import BUNDLED_POPULATION, reference_path
from spendmap.schemas import REJECT_COLUMNS
from spendmap.sources.tabular import read_table

BUNDLED_CENSUS_2021 = ("ons_census2021", "census2021_lad_population.csv")

# Source identifiers carried in `population_source`, with the words pages and the manifest show.
SOURCE_NOMIS = "ons_mye_nomis"
SOURCE_MYE_WORKBOOK = "ons_mye_workbook"
SOURCE_CENSUS_2021 = "census_2021"
SOURCE_MYSOCIETY = "mysociety_pop_2020"
SOURCE_DISTRICT_SUM = "sum_of_districts"
SOURCE_LABELS: dict[str, str] = {
    SOURCE_NOMIS: "ONS mid-year population estimate (Nomis extract)",
    SOURCE_MYE_WORKBOOK: "ONS mid-year population estimate (MYE2 workbook)",
    SOURCE_CENSUS_2021: "Census 2021 usual residents (rounded to 100)",
    SOURCE_MYSOCIETY: "mySociety council table, 2020 population (fallback: not in the ONS file)",
    SOURCE_DISTRICT_SUM: "sum of the county's districts",
}
# GSS entity codes of district-level areas (the allocation unit): unitary, non-metropolitan district,
# metropolitan district, London borough, Welsh principal area, Scottish council area, NI district.
DISTRICT_PREFIXES = ("E06", "E07", "E08", "E09", "W06", "S12", "N09")

POPULATION_COLUMNS = ["vintage_year", "source", "area_code", "area_name", "population", "source_row"]


@dataclass
class PopulationTable:
    """District populations read from one file, with every row not used listed in `rejects`."""

    frame: pd.DataFrame  # POPULATION_COLUMNS
    rejects: pd.DataFrame  # REJECT_COLUMNS
    path: Path
    sheet: str | None
    source: str
    rows_read: int

    @property
    def vintages(self) -> list[int]:
        return sorted(int(v) for v in self.frame["vintage_year"].unique())

    def summary(self) -> dict:
        """What the manifest records about this input."""
        return {
            "path": str(self.path),
            "sheet": self.sheet,
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_accepted": len(self.frame),
            "rows_rejected": len(self.rejects),
            "vintages": self.vintages,
            "population_total_by_vintage": {
                int(k): int(v) for k, v in self.frame.groupby("vintage_year")["population"].sum().items()
            },
        }


# ---------------------------------------------------------------------------------------------------
# Readers


def _reject_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=REJECT_COLUMNS).astype(
        {
            "source_file": "string",
            "source_sheet": "string",
            "source_row": "Int64",
            "reason": "string",
            "original_values": "string",
        }
    )


def _original(row: pd.Series) -> str:
    return "; ".join(f"{k}={v}" for k, v in row.items() if k != "source_row")


def _to_population(values: pd.Series) -> pd.Series:
    """Cell values (numbers or text with thousands separators) -> float; anything else NaN."""
    text = values.astype("string").str.replace(",", "", regex=False).str.strip()
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _finish(
    raw, df: pd.DataFrame, keep: pd.Series, drop_reason: str, *, vintage: pd.Series, source: str
) -> PopulationTable:
    """Common tail of the readers: district filter, number checks, rejects, canonical frame."""
    path = Path(raw.path)
    code = df["area_code"].astype("string").str.strip().str.upper()
    pop = _to_population(df["population"])
    reasons = pd.Series(pd.NA, index=df.index, dtype="string")
    reasons = reasons.mask(~keep, drop_reason)
    not_district = ~code.str[:3].isin(DISTRICT_PREFIXES).fillna(False)
    reasons = reasons.mask(
        reasons.isna() & not_district,
        "not a district-level area (country, region, county or blank code): councils are built from "
        "districts",
    )
    bad_pop = pop.isna() | (pop < 0) | (pop != pop.round())
    reasons = reasons.mask(reasons.isna() & bad_pop, "population is not a whole non-negative number")
    bad_year = vintage.isna()
    reasons = reasons.mask(reasons.isna() & bad_year, "no year for this estimate")
    rejected = reasons.notna()
    rejects = _reject_frame(
        [
            {
                "source_file": str(path),
                "source_sheet": raw.sheet,
                "source_row": int(r.source_row),
                "reason": reasons[i],
                "original_values": _original(r),
            }
            for i, r in df[rejected].iterrows()
        ]
    )
    ok = ~rejected
    frame = pd.DataFrame(
        {
            "vintage_year": vintage[ok].astype("int64"),
            "source": source,
            "area_code": code[ok],
            "area_name": df.loc[ok, "area_name"].astype("string").str.strip(),
            "population": pop[ok].astype("int64"),
            "source_row": df.loc[ok, "source_row"].astype("int64"),
        }
    ).reset_index(drop=True)
    frame["source"] = frame["source"].astype("string")
    dup = frame[frame.duplicated(["vintage_year", "area_code"], keep=False)]
    if not dup.empty:
        pairs = ", ".join(
            sorted({f"{c} ({y})" for c, y in zip(dup["area_code"], dup["vintage_year"], strict=True)})[:20]
        )
        raise InputError(
            f"Population file {path} (sheet {raw.sheet!r}) has more than one row for the same area and "
            f"year: {pairs}. Expected one all-persons, all-ages figure per district and year."
        )
    return PopulationTable(frame, rejects, path, raw.sheet, source, len(df))


def read_nomis_population(path: str | Path) -> PopulationTable:
    """A Nomis mid-year-estimate extract (DATE_NAME, GEOGRAPHY_CODE, ..., OBS_VALUE), any number of years.

    Only all-persons, all-ages rows of the `Value` measure are kept; other rows are rejected with a reason.
    """
    raw = read_table(
        path,
        aliases={
            "date_name": "date",
            "date": "date",
            "geography_code": "area_code",
            "geography_name": "area_name",
            "gender_name": "gender",
            "c_age_name": "age",
            "measures_name": "measure",
            "obs_value": "population",
        },
        required=["date", "area_code", "area_name", "population"],
        what="Nomis population extract",
    )
    df = raw.frame
    keep = pd.Series(True, index=df.index)
    # Nomis labels: gender "Total"/"All persons", age "All Ages"/"All ages", measure "Value".
    totals = {"gender": ["total", "all persons", "persons"], "age": ["all ages", "all age", "total"],
              "measure": ["value", "count"]}
    for column, labels in totals.items():
        if column in df:
            keep &= df[column].astype("string").str.strip().str.lower().isin(labels)
    year = pd.to_numeric(
        df["date"].astype("string").str.extract(r"((?:19|20)\d{2})", expand=False), errors="coerce"
    )
    return _finish(
        raw,
        df,
        keep.fillna(False),
        "not an all-persons, all-ages count (another gender, age or measure)",
        vintage=year,
        source=SOURCE_NOMIS,
    )


def _mye_vintage(path: Path, sheet: str | None) -> int | None:
    """The mid-year of an ONS MYE workbook: from the title cells above the header, else the file name."""
    from python_calamine import CalamineWorkbook

    texts: list[str] = []
    if sheet is not None:
        try:
            rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(nrows=7)
            texts = [str(c) for r in rows for c in r if isinstance(c, str)]
        except Exception:  # unreadable title cells: fall back to the file name
            texts = []
    for text in [*texts, path.name]:
        m = re.search(r"mid[\s\-_]?((?:19|20)\d{2})", text, re.IGNORECASE)
        if m:
            return int(m.group(1))
    return None


def read_mye_workbook(path: str | Path, *, vintage_year: int | None = None) -> PopulationTable:
    """The official ONS mid-year-estimate workbook (sheet `MYE2 - Persons`, header Code, Name, Geography,
    All ages, ...). The vintage comes from `vintage_year`, else the title ("Mid-2020 ...") or file name."""
    path = Path(path)
    raw = read_table(
        path,
        aliases={
            "code": "area_code",
            "area code": "area_code",
            "name": "area_name",
            "area name": "area_name",
            "geography": "geography",
            "geography1": "geography",
            "all ages": "population",
        },
        required=["area_code", "area_name", "population"],
        preferred_sheets=["MYE2 - Persons", "MYE2 - All", "MYE2 Persons", "MYE2"],
        what="ONS mid-year population estimates",
    )
    year = vintage_year if vintage_year is not None else _mye_vintage(path, raw.sheet)
    if year is None:
        raise InputError(
            f"Population workbook {path} (sheet {raw.sheet!r}): cannot tell which mid-year it estimates: "
            "expected a title such as 'Mid-2020 Population Estimates' above the header or 'mid2020' in the "
            "file name. Name the year explicitly (vintage_year)."
        )
    df = raw.frame
    vintage = pd.Series(year, index=df.index, dtype="Int64")
    return _finish(raw, df, pd.Series(True, index=df.index), "", vintage=vintage, source=SOURCE_MYE_WORKBOOK)


def read_census2021_population(path: str | Path | None = None) -> PopulationTable:
    """Census 2021 usual residents by district (columns LAD, NAME, POP21; counts rounded to 100)."""
    path = Path(path) if path is not None else reference_path(*BUNDLED_CENSUS_2021)
    raw = read_table(
        path,
        aliases={
            "lad": "area_code",
            "lad21cd": "area_code",
            "name": "area_name",
            "lad21nm": "area_name",
            "pop21": "population",
        },
        required=["area_code", "area_name", "population"],
        what="Census 2021 population by district",
    )
    df = raw.frame
    vintage = pd.Series(2021, index=df.index, dtype="Int64")
    return _finish(raw, df, pd.Series(True, index=df.index), "", vintage=vintage, source=SOURCE_CENSUS_2021)


def read_population(path: str | Path, *, vintage_year: int | None = None) -> PopulationTable:
    """Any supported population file, recognised by its layout (Nomis CSV, MYE workbook, Census 2021)."""
    path = Path(path)
    if path.suffix.lower() in {".csv", ".txt"}:
        head = path.read_text(encoding="utf-8-sig", errors="replace")[:2000].lower()
        if "obs_value" in head:
            return read_nomis_population(path)
        if "pop21" in head:
            return read_census2021_population(path)
    return read_mye_workbook(path, vintage_year=vintage_year)


# issue 18: the ONS mid-2022 estimates (official MYE workbook, 2023 boundaries), bundled beside mid-2020.
BUNDLED_MYE_2022 = ("ons_population", "mye22final.xlsx")


def bundled_companions(population_path: str | Path) -> list[PopulationTable]:
    """The other bundled vintages to offer beside `population_path` when it is the bundled mid-2020
    file (each run year then takes the nearest vintage); none for a population file the user gave."""
    if Path(population_path).resolve() != reference_path(*BUNDLED_POPULATION).resolve():
        return []
    return [read_mye_workbook(reference_path(*BUNDLED_MYE_2022))]


def load_bundled_population() -> list[PopulationTable]:
    """The bundled ONS mid-2020 estimates (Nomis extract, 2018 districts)."""
    return [read_nomis_population(reference_path(*BUNDLED_POPULATION))]
