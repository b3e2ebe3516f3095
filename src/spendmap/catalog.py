"""Every dataset the pipeline reads or writes, declared once: its name, where it lives, format, columns.

Steps name their inputs and outputs from here instead of spelling file names. A path is relative to
its `root`:
- `in`: a run input (a path or URL given on the command line, or the bundled reference default);
- `work`: a step's working folder (the run's staging `_work/`, or, for cached steps, the step's
  folder in the result cache, so that a later run can reuse it);
- `out`: the output folder the run publishes.
Columns come from `spendmap.schemas` where a table has a declared shape; an empty tuple means the
columns are the reader's own (rejects keep REJECT_COLUMNS; reading summaries are free-form).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from spendmap.schemas import (
    AWARD_COLUMNS,
    COUNTY_AREA_COLUMNS,
    CRA_ALLOCATION_COLUMNS,
    DUPLICATION_COLUMNS,
    PLACE_SUMMARY_COLUMNS,
    PRIORITY_FUNDING_COLUMNS,
    PRIORITY_MATCH_COLUMNS,
    PRIORITY_OVERLAP_COLUMNS,
    REJECT_COLUMNS,
    SMALL_GRANTS_COLUMNS,
    UNPLACED_COLUMNS,
)

Format = Literal["parquet", "csv", "duckdb", "json", "html", "spreadsheet"]
Root = Literal["in", "work", "out"]


@dataclass(frozen=True)
class Dataset:
    name: str
    path: str
    format: Format
    root: Root
    columns: tuple[str, ...] = ()
    description: str = ""

    def at(self, folder: Path | str) -> Path:
        """This dataset's file inside `folder` (a work folder or the output folder, as `root` says)."""
        return Path(folder) / self.path


def _ds(name: str, path: str, fmt: Format, root: Root, columns=(), description: str = "") -> Dataset:
    return Dataset(name, path, fmt, root, tuple(columns), description)


# --- run inputs (pipeline.STEPS name them; their paths come from RunParams) ---------------------------
GRANTS_REGISTERS = _ds("grants_registers", "--grants", "spreadsheet", "in", (),
                       "grants registers (ODS/XLSX/CSV/360Giving), one or more")
POSTCODE_LOOKUP = _ds("postcode_lookup", "--postcodes", "csv", "in", (),
                      "ONS postcode lookup; the built-in directory when not given")
CRA_DATABASE = _ds("cra_database", "--cra", "spreadsheet", "in", (), "HM Treasury CRA database edition")
POPULATION = _ds("population", "--population", "csv", "in", (), "ONS population by council")

# --- intermediate tables (work folders) ---------------------------------------------------------------
AWARDS_READ = _ds("awards_read", "awards_read.parquet", "parquet", "work", AWARD_COLUMNS,
                  "awards as read from the grants registers, before placement")
REJECTS_GRANTS = _ds("rejects_grants", "rejects_grants.parquet", "parquet", "work", REJECT_COLUMNS,
                     "grants-register rows not accepted")
AWARDS_PLACED = _ds("awards_placed", "awards_placed.parquet", "parquet", "work", AWARD_COLUMNS,
                    "awards with la_code/geo_method filled")
AWARDS_CLASSIFIED = _ds("awards_classified", "awards.parquet", "parquet", "work", AWARD_COLUMNS,
                        "awards with canonical departments and policy areas")
SCHEMES = _ds("schemes", "schemes.parquet", "parquet", "work", (),
              "the national scheme registers, with departments and policy areas")
REJECTS_SCHEMES = _ds("rejects_schemes", "rejects_schemes.parquet", "parquet", "work", REJECT_COLUMNS,
                      "scheme-register rows not accepted")
# Written beside the classified awards, in the same step folder (recipient identity runs there).
RECIPIENT_MERGES = _ds("recipient_merges", "recipient_merges.parquet", "parquet", "work", (),
                       "how recipient records were merged into organisations, one edge per row")
CRA_ALLOCATION = _ds("cra_allocation", "cra_allocation.parquet", "parquet", "work", CRA_ALLOCATION_COLUMNS,
                     "CRA identifiable spend allocated to councils")
REJECTS_CRA = _ds("rejects_cra", "rejects_cra.parquet", "parquet", "work", REJECT_COLUMNS,
                  "CRA cells not accepted")
REJECTS_POPULATION = _ds("rejects_population", "rejects_population.parquet", "parquet", "work",
                         REJECT_COLUMNS, "population rows not accepted")
PLACE_SUMMARY = _ds("place_summary", "place_summary.parquet", "parquet", "work", PLACE_SUMMARY_COLUMNS)
SMALL_GRANTS = _ds("small_grants", "small_grants.parquet", "parquet", "work", SMALL_GRANTS_COLUMNS)
DUPLICATION = _ds("duplication", "duplication.parquet", "parquet", "work", DUPLICATION_COLUMNS)
NATIONAL_SCHEME_OVERLAPS = _ds("national_scheme_overlaps", "national_scheme_overlaps.parquet", "parquet",
                               "work", (), "policy areas with schemes from several departments")

# --- issue 18: priority outcomes (steps.match_priority_outcomes) ---
PRIORITIES = _ds("priorities", "priorities.parquet", "parquet", "work", (),
                 "the run's priority outcomes, one row per place and priority")
PRIORITY_FUNDING = _ds("priority_funding", "priority_funding.parquet", "parquet", "work",
                       PRIORITY_FUNDING_COLUMNS, "per priority and source: lines matched and their £")
PRIORITY_MATCHES = _ds("priority_matches", "priority_matches.parquet", "parquet", "work",
                       PRIORITY_MATCH_COLUMNS, "every line of money matched to a priority, with its rule")
PRIORITY_OVERLAPS = _ds("priority_overlaps", "priority_overlaps.parquet", "parquet", "work",
                        PRIORITY_OVERLAP_COLUMNS, "priorities funded by two or more funders")
LOCAL_SPEND = _ds("local_spend", "local_spend.parquet", "parquet", "work", (), "accepted --local lines")
REJECTS_LOCAL = _ds("rejects_local", "rejects_local.parquet", "parquet", "work", REJECT_COLUMNS,
                    "--local rows not accepted")
PRIORITY_TABLES = (PRIORITIES, PRIORITY_FUNDING, PRIORITY_MATCHES, PRIORITY_OVERLAPS, LOCAL_SPEND)

# issue 18: place_summary per funder type (grant_analytics)
PLACE_SUMMARY_BY_FUNDER_TYPE = _ds("place_summary_by_funder_type", "place_summary_by_funder_type.parquet",
                                   "parquet", "work", (*PLACE_SUMMARY_COLUMNS, "funder_type"),
                                   "place_summary per funder type (councils and years with awards)")
# The analytic tables grant_analytics writes, by name (also their CSV names in the output folder).
ANALYTIC_TABLES = (PLACE_SUMMARY, SMALL_GRANTS, DUPLICATION, NATIONAL_SCHEME_OVERLAPS,
                   PLACE_SUMMARY_BY_FUNDER_TYPE)  # issue 18: the last

# --- published outputs (the output folder) ------------------------------------------------------------
AWARDS = _ds("awards", "awards.parquet", "parquet", "out", AWARD_COLUMNS, "every accepted award")
REJECTS = _ds("rejects", "rejects.csv", "csv", "out", REJECT_COLUMNS, "every input row not accepted")
DUCKDB = _ds("spendmap_duckdb", "spendmap.duckdb", "duckdb", "out", (), "the same tables, queryable")
MANIFEST = _ds("run_manifest", "run_manifest.json", "json", "out", (), "inputs, reconciliation, versions")
INDEX_HTML = _ds("index_html", "index.html", "html", "out", (), "entry page")


def csv_output(table: Dataset | str, columns: tuple[str, ...] | list[str] = ()) -> Dataset:
    """The published CSV of a table (place_summary.csv, ...; also cra_allocation, unplaced, trends)."""
    name = table if isinstance(table, str) else table.name
    columns = table.columns if isinstance(table, Dataset) else columns
    return _ds(f"{name}_csv", f"{name}.csv", "csv", "out", columns)


# The tables published as CSV (and as tables of spendmap.duckdb), in this order; write_tables exports
# each one the run produced (trends only when a run covers several years). A new published table is
# one entry here (and the function that makes it).
CSV_EXPORTS: tuple[Dataset, ...] = (
    csv_output(PLACE_SUMMARY), csv_output(SMALL_GRANTS), csv_output(DUPLICATION), csv_output(CRA_ALLOCATION),
    csv_output(NATIONAL_SCHEME_OVERLAPS), csv_output("unplaced", UNPLACED_COLUMNS),
    csv_output("county_areas", COUNTY_AREA_COLUMNS), csv_output(RECIPIENT_MERGES), csv_output("trends"),
    # issue 18: the council profile per funder type and the priority tables
    csv_output(PLACE_SUMMARY_BY_FUNDER_TYPE), csv_output(PRIORITY_FUNDING), csv_output(PRIORITY_MATCHES),
    csv_output(PRIORITY_OVERLAPS),
)


def exported_table(dataset: Dataset) -> str:
    """The table a CSV export holds (place_summary for place_summary_csv)."""
    return dataset.name.removesuffix("_csv")


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        GRANTS_REGISTERS, POSTCODE_LOOKUP, CRA_DATABASE, POPULATION,
        AWARDS_READ, REJECTS_GRANTS, AWARDS_PLACED, AWARDS_CLASSIFIED, SCHEMES, REJECTS_SCHEMES,
        RECIPIENT_MERGES,
        CRA_ALLOCATION, REJECTS_CRA, REJECTS_POPULATION, *ANALYTIC_TABLES, *PRIORITY_TABLES, REJECTS_LOCAL,
        AWARDS, REJECTS, DUCKDB, MANIFEST, INDEX_HTML, *CSV_EXPORTS,
    )
}
