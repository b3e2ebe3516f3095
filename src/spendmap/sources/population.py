"""Population by council: ONS mid-year estimates (Nomis CSV or the official MYE workbook), Census 2021.

Readers give one canonical table per file (`vintage_year, source, area_code, area_name, population,
source_row`) holding district-level rows only. `population_for_councils` then brings one vintage to
the current council geography (former districts summed into their successor, counties as the sum of
their districts) and fills councils the file does not cover from mySociety's 2020 population, flagging
the source of every figure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from spendmap.errors import InputError
from spendmap.fiscal_year import fy_start_year
from spendmap.paths import BUNDLED_POPULATION, reference_path
from spendmap.schemas import REJECT_COLUMNS
from spendmap.sources.councils import gss_to_current_gss, load_councils
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
MYSOCIETY_VINTAGE = 2020
# A council whose figure from the file differs from its mySociety 2020 population by more than this
# share is listed as suspect: usually a file covering only some of the districts merged into it.
SUSPECT_RATIO = 0.25

# GSS entity codes of district-level areas (the allocation unit): unitary, non-metropolitan district,
# metropolitan district, London borough, Welsh principal area, Scottish council area, NI district.
DISTRICT_PREFIXES = ("E06", "E07", "E08", "E09", "W06", "S12", "N09")

POPULATION_COLUMNS = ["vintage_year", "source", "area_code", "area_name", "population", "source_row"]
COUNCIL_POPULATION_COLUMNS = [
    "fy",
    "la_code",
    "la_name",
    "tier",
    "region_code",
    "county_code",
    "population",
    "population_vintage",
    "population_source",
    "is_aggregate",
    "n_source_areas",
]


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


@dataclass
class VintageChoice:
    """Which population vintage a financial year uses, and why."""

    fy: str
    wanted_vintage: int  # mid-year of the financial year's first calendar year
    vintage: int
    source: str
    path: str
    available_vintages: list[int]
    fallback_codes: list[str] = field(default_factory=list)  # councils filled from mySociety 2020
    suspect_codes: list[str] = field(default_factory=list)  # > SUSPECT_RATIO away from mySociety 2020

    @property
    def exact(self) -> bool:
        return self.vintage == self.wanted_vintage

    def describe(self) -> str:
        """One sentence for pages and the manifest."""
        how = "as wanted" if self.exact else f"the nearest available to mid-{self.wanted_vintage}"
        text = (
            f"{self.fy}: mid-{self.vintage} population ({SOURCE_LABELS.get(self.source, self.source)}), {how}"
        )
        if self.fallback_codes:
            n = len(self.fallback_codes)
            northern_ireland = all(c.startswith("N") for c in self.fallback_codes)
            which = f"Northern Ireland's {n} councils" if northern_ireland else f"{n} councils"
            text += f"; {which}, not in that file, use mySociety's 2020 population"
        if self.suspect_codes:
            text += (
                f"; {len(self.suspect_codes)} councils differ from their 2020 population by more than "
                f"{SUSPECT_RATIO:.0%} (check the file's geography): {', '.join(self.suspect_codes)}"
            )
        return text + "."

    def as_dict(self) -> dict:
        return {
            "fy": self.fy,
            "wanted_vintage": self.wanted_vintage,
            "vintage": self.vintage,
            "exact": self.exact,
            "source": self.source,
            "path": self.path,
            "available_vintages": self.available_vintages,
            "fallback_codes": self.fallback_codes,
            "suspect_codes": self.suspect_codes,
            "description": self.describe(),
        }


@dataclass
class CouncilPopulation:
    """Population of every current council for one financial year (COUNCIL_POPULATION_COLUMNS)."""

    frame: pd.DataFrame
    choice: VintageChoice


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
    if "gender" in df:
        keep &= (
            df["gender"].astype("string").str.strip().str.lower().isin(["total", "all persons", "persons"])
        )
    if "age" in df:
        keep &= df["age"].astype("string").str.strip().str.lower().isin(["all ages", "all age", "total"])
    if "measure" in df:
        keep &= df["measure"].astype("string").str.strip().str.lower().isin(["value", "count"])
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


def load_bundled_population() -> list[PopulationTable]:
    """The bundled ONS mid-2020 estimates (Nomis extract, 2018 districts)."""
    return [read_nomis_population(reference_path(*BUNDLED_POPULATION))]


# ---------------------------------------------------------------------------------------------------
# Vintage choice and council geography


def choose_vintage(fy: str, available: Sequence[int]) -> int:
    """Mid-year of the financial year's first calendar year (2016-17 -> 2016), else the nearest
    available vintage; on a tie the earlier one (the estimate that existed at the time)."""
    if not available:
        raise InputError(f"No population estimates were read, so {fy} cannot be given a population.")
    wanted = fy_start_year(fy)
    return min(available, key=lambda v: (abs(v - wanted), v))


def population_for_councils(
    tables: PopulationTable | Sequence[PopulationTable],
    fy: str,
    *,
    councils: pd.DataFrame | None = None,
    code_map: Mapping[str, str] | None = None,
    allow_fallback: bool = True,
) -> CouncilPopulation:
    """Population of every current council (districts, unitaries and counties) for financial year `fy`.

    Picks the vintage (see `choose_vintage`; the first table holding it wins), maps the file's district
    codes to current councils (merged districts summed), fills councils the file lacks from mySociety's
    2020 population (flagged; with `allow_fallback=False` a council missing from the file is an
    InputError instead), and adds each county as the sum of its districts (`is_aggregate`).
    """
    tables = [tables] if isinstance(tables, PopulationTable) else list(tables)
    councils = load_councils() if councils is None else councils
    code_map = gss_to_current_gss() if code_map is None else code_map
    available = sorted({v for t in tables for v in t.vintages})
    vintage = choose_vintage(fy, available)
    table = next(t for t in tables if vintage in t.vintages)
    rows = table.frame[table.frame["vintage_year"] == vintage]
    where = f"Population file {table.path}" + (f" (sheet {table.sheet!r})" if table.sheet else "")

    current = rows["area_code"].map(lambda c: code_map.get(c, pd.NA)).astype("string")
    unknown = sorted(rows.loc[current.isna(), "area_code"].unique())
    if unknown:
        raise InputError(
            f"{where}, mid-{vintage}: {len(unknown)} district codes are not in the council lookup "
            f"(mySociety current and former GSS codes): {', '.join(unknown[:30])}"
            f"{' …' if len(unknown) > 30 else ''}. Expected GSS codes of districts, unitaries, London "
            "boroughs, Welsh principal areas, Scottish council areas or NI districts."
        )
    lower = councils[councils["tier"] != "county"]
    not_lower = sorted(set(current) - set(lower["la_code"]))
    if not_lower:
        raise InputError(
            f"{where}, mid-{vintage}: codes map to councils that are not districts or unitaries: "
            f"{', '.join(not_lower)}."
        )
    # A file mixing geographies (a council's current code and a former code of the same council) would
    # count the same people twice.
    mapped = pd.DataFrame({"area_code": rows["area_code"].to_numpy(), "la_code": current.to_numpy()})
    self_coded = set(mapped.loc[mapped["area_code"] == mapped["la_code"], "la_code"])
    mixed = mapped[mapped["la_code"].isin(self_coded) & (mapped["area_code"] != mapped["la_code"])]
    if not mixed.empty:
        pairs = ", ".join(f"{a}→{c}" for a, c in zip(mixed["area_code"], mixed["la_code"], strict=True))
        raise InputError(
            f"{where}, mid-{vintage}: the file holds both a council's current code and a former code of "
            f"the same council ({pairs}), so it mixes geographies and would count people twice."
        )
    from_file = (
        pd.DataFrame({"la_code": current.to_numpy(), "population": rows["population"].to_numpy()})
        .groupby("la_code")["population"]
        .agg(["sum", "size"])
    )

    out = lower[["la_code", "la_name", "tier", "region_code", "county_code"]].copy()
    out["population"] = out["la_code"].map(from_file["sum"]).astype("Float64")
    out["n_source_areas"] = out["la_code"].map(from_file["size"]).astype("Int64")
    out["population_vintage"] = pd.Series(vintage, index=out.index, dtype="Int64")
    out["population_source"] = pd.Series(table.source, index=out.index, dtype="string")
    missing = out["population"].isna()
    if missing.any() and not allow_fallback:
        gone = out[missing]
        raise InputError(
            f"{where}, mid-{vintage}: {len(gone)} current councils have no district in the file: "
            f"{', '.join(gone['la_code'] + ' ' + gone['la_name'])}. Expected every district of the UK "
            "(or allow mySociety's 2020 population for the missing ones)."
        )
    ratio = out["population"] / lower["population_2020"].astype("Float64")
    suspect = sorted(out.loc[((ratio - 1).abs() > SUSPECT_RATIO).fillna(False), "la_code"].tolist())
    fallback = lower.loc[missing, "population_2020"].astype("Float64")
    out.loc[missing, "population"] = fallback
    out.loc[missing, "population_vintage"] = MYSOCIETY_VINTAGE
    out.loc[missing, "population_source"] = SOURCE_MYSOCIETY
    out.loc[missing, "n_source_areas"] = 0
    none = out[out["population"].isna() | (out["population"] <= 0)]
    if not none.empty:
        def listed(rows: pd.DataFrame) -> str:
            shown = rows["population"].map(lambda v: "none" if pd.isna(v) else f"{v:,.0f}").astype("string")
            return ", ".join(rows["la_code"] + " " + rows["la_name"] + " (" + shown + ")")

        in_file = none[~missing.loc[none.index]]
        fallback_none = none[missing.loc[none.index]]
        problems = []
        if len(in_file):
            problems.append(f"{len(in_file)} have a population of 0 or less in the file: {listed(in_file)}"
                            " (a council cannot have no residents: check those rows of the file)")
        if len(fallback_none):
            problems.append(f"{len(fallback_none)} are not in the file and mySociety's 2020 figure for "
                            f"them is missing or 0: {listed(fallback_none)}")
        raise InputError(
            f"{where}, mid-{vintage}: no usable population for {len(none)} councils, so CRA spend cannot "
            f"be shared out by population: {'; '.join(problems)}."
        )
    out["is_aggregate"] = False

    counties = councils[councils["tier"] == "county"]
    districts = out[out["county_code"].notna()]
    by_county = districts.groupby("county_code").agg(
        population=("population", "sum"),
        n_source_areas=("n_source_areas", "sum"),
        population_vintage=("population_vintage", "max"),
    )
    agg = counties[["la_code", "la_name", "tier", "region_code", "county_code"]].copy()
    agg["population"] = agg["la_code"].map(by_county["population"]).astype("Float64")
    agg["n_source_areas"] = agg["la_code"].map(by_county["n_source_areas"]).astype("Int64")
    agg["population_vintage"] = agg["la_code"].map(by_county["population_vintage"]).astype("Int64")
    agg["population_source"] = pd.Series(SOURCE_DISTRICT_SUM, index=agg.index, dtype="string")
    agg["is_aggregate"] = True
    empty = agg[agg["population"].isna()]
    if not empty.empty:
        raise InputError(
            f"Council lookup: counties with no districts, so no population: "
            f"{', '.join(empty['la_code'] + ' ' + empty['la_name'])}."
        )

    frame = pd.concat([out, agg], ignore_index=True)
    frame.insert(0, "fy", pd.Series(fy, index=frame.index, dtype="string"))
    frame["population"] = frame["population"].astype("int64")
    frame["is_aggregate"] = frame["is_aggregate"].astype("boolean")
    frame = frame[COUNCIL_POPULATION_COLUMNS].sort_values("la_code").reset_index(drop=True)
    choice = VintageChoice(
        fy=fy,
        wanted_vintage=fy_start_year(fy),
        vintage=vintage,
        source=table.source,
        path=str(table.path),
        available_vintages=available,
        fallback_codes=sorted(out.loc[missing, "la_code"].tolist()),
        suspect_codes=suspect,
    )
    return CouncilPopulation(frame, choice)


def region_populations(council_population: pd.DataFrame) -> pd.Series:
    """Population of each region/nation: the sum of its district-level councils (aggregates excluded)."""
    lower = council_population[~council_population["is_aggregate"].astype(bool)]
    return lower.groupby("region_code")["population"].sum()
