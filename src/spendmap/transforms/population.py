"""Population of every current council for a financial year, from the district tables the readers give.

`population_for_councils` brings one vintage to the current council geography: former districts are
summed into their successor (codes mapped forward with `sources.councils.gss_to_current_gss`),
counties are the sum of their districts, and councils the file does not cover take mySociety's 2020
population, flagged. Pure: tables in, table out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from spendmap.errors import InputError
from spendmap.fiscal_year import fy_start_year
from spendmap.sources.councils import gss_to_current_gss, load_councils
from spendmap.sources.population import SOURCE_DISTRICT_SUM, SOURCE_LABELS, SOURCE_MYSOCIETY, PopulationTable

MYSOCIETY_VINTAGE = 2020
# A council whose figure from the file differs from its mySociety 2020 population by more than this
# share is listed as suspect: usually a file covering only some of the districts merged into it.
SUSPECT_RATIO = 0.25

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
    # A copy: the mapped counts can share a read-only buffer, and missing councils are filled in below.
    out["n_source_areas"] = out["la_code"].map(from_file["size"]).astype("Int64").copy()
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
