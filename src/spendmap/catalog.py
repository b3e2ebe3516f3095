"""Every dataset the pipeline reads or writes, declared once: its name, where it lives, format, columns.

Steps name their inputs and outputs from here instead of spelling file names. A path is relative to
its `root`:
- `in`: a run input (a path or URL given on the command line, or the bundled reference default);
- `work`: a step's working folder (the run's staging `_work/`, or, for cached steps, the step's
  folder in the result cache, so that a later run can reuse it);
- `out`: the output folder the run publishes.
Columns come from `spendmap.schemas` where a table has a declared shape; an empty tuple means the
columns are the reader's own (rejects keep REJECT_COLUMNS; reading summaries are free-form). A table's
declared columns are a floor: a step may write more, never fewer (`pipeline.check_outputs` fails the run).

The published part (`PUBLISHED`) is the output folder's contract: CSV export and spendmap.duckdb
(`CSV_EXPORTS`, `DUCKDB_TABLES`), the manifest's `outputs` (`MANIFEST_OUTPUTS`), the pages' tables
(`SITE_INPUTS`) and docs/outputs.md (`outputs.outputs_doc`) are all read from here, and a test fails when
a real run publishes a file not declared below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from spendmap.schemas import (
    AWARD_COLUMNS,
    CLASSIFICATION_COLUMNS,
    COUNTY_AREA_COLUMNS,
    CRA_ALLOCATION_COLUMNS,
    DUPLICATION_COLUMNS,
    DUPLICATION_EXTRA_COLUMNS,
    DUPLICATION_KINDS,
    NATIONAL_OVERLAP_COLUMNS,
    PLACE_SUMMARY_COLUMNS,
    PLACEMENT_COLUMNS,
    PRIORITY_FUNDING_COLUMNS,
    PRIORITY_MATCH_COLUMNS,
    PRIORITY_OVERLAP_COLUMNS,
    RECIPIENT_MERGE_COLUMNS,
    REJECT_COLUMNS,
    REJECT_EXTRA_COLUMNS,
    SMALL_GRANT_SCOPES,
    SMALL_GRANTS_COLUMNS,
    UNPLACED_COLUMNS,
)
from spendmap.transforms.allocation import CRA_ALLOCATION_EXTRA_COLUMNS
from spendmap.transforms.profiles import SMALL_GRANTS_EXTRA_COLUMNS
from spendmap.transforms.trends import TREND_COLUMNS

Format = Literal["parquet", "csv", "duckdb", "json", "html", "js", "spreadsheet", "text", "folder"]
Root = Literal["in", "work", "out"]


@dataclass(frozen=True)
class Dataset:
    name: str
    path: str  # relative to its root; `<slug>` stands for a council's folder, a trailing `/` for a folder
    format: Format
    root: Root
    columns: tuple[str, ...] = ()
    description: str = ""
    link: str = ""  # the index's one-line description, for a file it links (INDEX_DOWNLOADS)

    def at(self, folder: Path | str) -> Path:
        """This dataset's file inside `folder` (a work folder or the output folder, as `root` says)."""
        return Path(folder) / self.path

    def matches(self, relative: str) -> bool:
        """Whether a file at `relative` (inside this dataset's root, '/'-separated) is this dataset:
        `councils/<slug>/index.html` is every council's page, `assets/` everything in that folder."""
        pattern = re.escape(self.path).replace(re.escape("<slug>"), "[^/]+")
        pattern += ".+" if self.path.endswith("/") else ""
        return re.fullmatch(pattern, relative) is not None


def _ds(name: str, path: str, fmt: Format, root: Root, columns=(), description: str = "",
        link: str = "") -> Dataset:
    return Dataset(name, path, fmt, root, tuple(columns), description, link)


def _set(values) -> str:
    return "{" + ", ".join(f"`{v}`" for v in values) + "}"


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
# Layers of the award table (spendmap.award_layers): each step that adds columns writes only those.
AWARDS_PLACED = _ds("awards_placed", "awards_placed.parquet", "parquet", "work",
                    ("award_id", *PLACEMENT_COLUMNS),
                    "each award's placement: la_code, geo_method and reasons")
AWARDS_CLASSIFIED = _ds("awards_classified", "awards_classified.parquet", "parquet", "work",
                        ("award_id", *CLASSIFICATION_COLUMNS),
                        "each award's canonical department, policy area, organisation, recipient and "
                        "funder type")
SCHEMES = _ds("schemes", "schemes.parquet", "parquet", "work", (),
              "the national scheme registers, with departments and policy areas")
REJECTS_SCHEMES = _ds("rejects_schemes", "rejects_schemes.parquet", "parquet", "work", REJECT_COLUMNS,
                      "scheme-register rows not accepted")
# Written beside the classified awards, in the same step folder (recipient identity runs there).
RECIPIENT_MERGES = _ds(
    "recipient_merges", "recipient_merges.parquet", "parquet", "work", RECIPIENT_MERGE_COLUMNS,
    "how recipient records became organisations: one row per edge that joined two identifiers of one "
    "organisation (`rule` ∈ {`same_record`, `name_postcode`}) or was refused (`merged` false: a name "
    "never joins two register ids)")
CRA_ALLOCATION = _ds(
    "cra_allocation", "cra_allocation.parquet", "parquet", "work",
    (*CRA_ALLOCATION_COLUMNS, *CRA_ALLOCATION_EXTRA_COLUMNS),
    "CRA identifiable spend allocated to councils by population share, one row per council, year, "
    "department and function, with £ per head beside the region's, England's and the UK's")
REJECTS_CRA = _ds("rejects_cra", "rejects_cra.parquet", "parquet", "work", REJECT_COLUMNS,
                  "CRA cells not accepted")
REJECTS_POPULATION = _ds("rejects_population", "rejects_population.parquet", "parquet", "work",
                         REJECT_COLUMNS, "population rows not accepted")
PLACE_SUMMARY = _ds("place_summary", "place_summary.parquet", "parquet", "work", PLACE_SUMMARY_COLUMNS,
                    "one row per council and year: awards, schemes, recipients, £ and the small-grant share")
SMALL_GRANTS = _ds(
    "small_grants", "small_grants.parquet", "parquet", "work",
    (*SMALL_GRANTS_COLUMNS, *SMALL_GRANTS_EXTRA_COLUMNS),
    "awards tested against the small-grant threshold per council, year and `scope` ∈ "
    f"{_set(SMALL_GRANT_SCOPES)}")
DUPLICATION = _ds(
    "duplication", "duplication.parquet", "parquet", "work",
    (*DUPLICATION_COLUMNS, *DUPLICATION_EXTRA_COLUMNS),
    "several schemes or departments funding one policy area in one place: "
    f"`kind` ∈ {_set(DUPLICATION_KINDS)}; one finding per place, year and policy sub-area (and department, "
    "for `within_department`); `allocation_methods` are the schemes' methods from the scheme register; "
    "`n_formula_to_council` counts the council's own formula allocations (left out of a within-department "
    "finding); `score` = `n_schemes` × `n_recipients`, the rank pages use; `explanation` says in one "
    "sentence why the finding is listed; `funder_types` are the kinds of funder in the finding (a funder is "
    "a department by lineage, or another funder of a known type by its org-id or name); lists are "
    "`; `-joined (the workbook lists each finding's awards one per row)")
NATIONAL_SCHEME_OVERLAPS = _ds(
    "national_scheme_overlaps", "national_scheme_overlaps.parquet", "parquet", "work",
    NATIONAL_OVERLAP_COLUMNS,
    "from the scheme registers: policy areas with schemes from several departments (overseas departments "
    "left out)")

# --- issue 18: priority outcomes (steps.match_priority_outcomes) ---
PRIORITIES = _ds("priorities", "priorities.parquet", "parquet", "work", (),
                 "the run's priority outcomes, one row per place and priority")
PRIORITY_FUNDING = _ds(
    "priority_funding", "priority_funding.parquet", "parquet", "work", PRIORITY_FUNDING_COLUMNS,
    "per year, place priority and source, the lines matched and their £ (zero rows state gaps); `source` ∈ "
    "{`central_government_grants`, `other_public_grants`, `charitable_grants`, `local_spend`, "
    "`cra_allocated`}; CRA is context, never added to the grants")
PRIORITY_MATCHES = _ds(
    "priority_matches", "priority_matches.parquet", "parquet", "work", PRIORITY_MATCH_COLUMNS,
    "every award or local-spend line matched to a priority; `rules` ⊆ {`explicit_id`, `scheme`, "
    "`policy_area`, `keyword`} and `matched_on` says what matched; `n_priorities_matched` > 1 for a line "
    "counted in full in several priorities")
PRIORITY_OVERLAPS = _ds("priority_overlaps", "priority_overlaps.parquet", "parquet", "work",
                        PRIORITY_OVERLAP_COLUMNS, "priorities funded by two or more funders (or departments)")
LOCAL_SPEND = _ds("local_spend", "local_spend.parquet", "parquet", "work", (), "accepted --local lines")
REJECTS_LOCAL = _ds("rejects_local", "rejects_local.parquet", "parquet", "work", REJECT_COLUMNS,
                    "--local rows not accepted")
PRIORITY_TABLES = (PRIORITIES, PRIORITY_FUNDING, PRIORITY_MATCHES, PRIORITY_OVERLAPS, LOCAL_SPEND)

# issue 18: place_summary per funder type (grant_analytics)
PLACE_SUMMARY_BY_FUNDER_TYPE = _ds(
    "place_summary_by_funder_type", "place_summary_by_funder_type.parquet", "parquet", "work",
    (*PLACE_SUMMARY_COLUMNS, "funder_type"),
    "place_summary per funder type, for councils and years with awards (central-government figures stay "
    "separable when `--funding` data is in the run)")
# The analytic tables grant_analytics writes, by name (also their CSV names in the output folder).
ANALYTIC_TABLES = (PLACE_SUMMARY, SMALL_GRANTS, DUPLICATION, NATIONAL_SCHEME_OVERLAPS,
                   PLACE_SUMMARY_BY_FUNDER_TYPE)  # issue 18: the last

# --- published outputs (the output folder) ------------------------------------------------------------
AWARDS = _ds("awards", "awards.parquet", "parquet", "out", AWARD_COLUMNS,
             "every accepted award: the canonical columns, then the extras below")
REJECTS = _ds(
    "rejects", "rejects.csv", "csv", "out", (*REJECT_COLUMNS, *REJECT_EXTRA_COLUMNS),
    "every input row not accepted, from every input (grants, CRA, population, scheme registers, --local), "
    "with its reason; `input_id` is the grants input's id, as in awards (blank for other inputs)",
    link="input rows not accepted, each with its reason")
DUCKDB = _ds("spendmap_duckdb", "spendmap.duckdb", "duckdb", "out", (),
             "the tables in one database, each table and column with a `COMMENT` (`duckdb_tables()`, "
             "`duckdb_columns()`)",
             link="every table in one DuckDB database, with views and column comments")
MANIFEST = _ds("run_manifest", "run_manifest.json", "json", "out", (), "see below")
INDEX_HTML = _ds(
    "index_html", "index.html", "html", "out", (),
    "what the figures cover (per department: awards and £ read and placed, and the main reason for the "
    "unplaced); a hex map of every district and unitary council (coloured by grants £ per head, £, awards "
    "or small-grant share, each hexagon linking to its page); the small-grants chart of the 13 pilots "
    "(each pilot without a bar says why); every council with placed awards and key figures, largest £ "
    "first, sortable and searchable by any current or former name (the councils with none listed once "
    "below); awards and £ by amount band; links to the CSV files and the database; the national view of "
    "policy areas funded by several departments")


def csv_output(
    table: Dataset | str, columns: tuple[str, ...] | list[str] = (), description: str = "", *, link: str
) -> Dataset:
    """The published CSV of a table (place_summary.csv, ...; also cra_allocation, unplaced, trends);
    `link` is what the index says of it."""
    name = table if isinstance(table, str) else table.name
    columns = table.columns if isinstance(table, Dataset) else columns
    description = description or (table.description if isinstance(table, Dataset) else "")
    return _ds(f"{name}_csv", f"{name}.csv", "csv", "out", columns, description, link)


# The tables published as CSV (and as tables of spendmap.duckdb), in this order; write_tables exports
# each one the run produced (trends only when a run covers several years). A new published table is
# one entry here (and the function that makes it).
CSV_EXPORTS: tuple[Dataset, ...] = (
    csv_output(PLACE_SUMMARY, link="awards, recipients and £ per council and year"),
    csv_output(SMALL_GRANTS, link="small-grant counts and shares per council, in both scopes"),
    csv_output(DUPLICATION, link="the duplication findings, one per row"),
    csv_output(CRA_ALLOCATION, link="CRA identifiable spending allocated to councils by population"),
    csv_output(NATIONAL_SCHEME_OVERLAPS, link="policy areas funded by several departments' schemes"),
    csv_output("unplaced", UNPLACED_COLUMNS,
               "every award not placed in a council, with its `reason` in words",
               link="every award that could not be placed in a council, with its reason"),
    csv_output("county_areas", COUNTY_AREA_COLUMNS,
               "two-tier areas, one row per county council and year: the county council's own awards "
               "beside those placed in its districts",
               link="two-tier areas: the county council's own awards beside its districts'"),
    csv_output(RECIPIENT_MERGES, link="how recipient records became organisations, each merge explained"),
    csv_output("trends", TREND_COLUMNS,
               "only for several years (`--years`): per council and year, the grant profile beside the "
               "CRA allocation, and the change from the previous year",
               link="per council and year, the grant profile beside the CRA allocation, and the change"),
    # issue 18: the council profile per funder type and the priority tables
    csv_output(PLACE_SUMMARY_BY_FUNDER_TYPE, link="the council figures per funder type"),
    csv_output(PRIORITY_FUNDING, link="£ and lines per place priority and source, gaps included"),
    csv_output(PRIORITY_MATCHES, link="every award or local-spend line matched to a priority, and why"),
    csv_output(PRIORITY_OVERLAPS, link="priorities funded by two or more funders"),
)


def exported_table(dataset: Dataset) -> str:
    """The table a CSV export holds (place_summary for place_summary_csv)."""
    return dataset.name.removesuffix("_csv")


# The tables of spendmap.duckdb, in this order: the awards, the rejects and the council register, every
# CSV export, and the priority tables that have no CSV of their own. write_tables writes each one the
# run produced.
DUCKDB_TABLES: tuple[str, ...] = (
    "awards", "rejects", "councils", *(exported_table(d) for d in CSV_EXPORTS), PRIORITIES.name,
    LOCAL_SPEND.name,
)

# The pages (outputs.site): what render_site writes beside the tables.
COUNCIL_FOLDERS = _ds("council_folders", "councils/", "folder", "out", (),
                      "one folder per council rendered (the files below)")
COUNCIL_PAGES: tuple[Dataset, ...] = (
    _ds("council_page", "councils/<slug>/index.html", "html", "out", (),
        "the council's profile page: the former councils it replaced (their own awards shown under their "
        "own names), coverage, headline figures, grants per head beside its region, England and its type, "
        "small grants, the grants diagram with a department × scheme table, awards and £ by amount band, "
        "every award placed here (searchable, sortable, 50 a page, CSV of the selection), explained "
        "duplication findings, the CRA allocation, and with `--years` a year-by-year table; where the place "
        "has priorities, \"Funding against <place>'s priorities\" (per priority: £ and lines by source and "
        "funder type, funders and schemes, gaps, overlaps)"),
    _ds("council_sankey_grants", "councils/<slug>/sankey_grants.html", "html", "out", (),
        "department → scheme → recipients (every one when few, else the largest and recipient types; each "
        "organisation one node, never two councils under one name), opening on £ and switchable to the "
        "number of awards, with the same figures as a table"),
    _ds("council_sankey_cra", "councils/<slug>/sankey_cra.html", "html", "out", (),
        "department → function → council of allocated CRA spend"),
    _ds("council_sankey_priorities", "councils/<slug>/sankey_priorities.html", "html", "out", (),
        "source → funder → priority of the lines matched to the place's priorities (places with priorities)"),
    _ds("council_workbook", "councils/<slug>/<slug>_grant_profile.xlsx", "spreadsheet", "out", (),
        "the council's workbook: Summary, Awards, Small grants, Duplication, Duplication awards (one award "
        "per row), CRA allocation, Priorities and Priority matches (places with priorities), Notes"),
    _ds("council_awards_csv", "councils/<slug>/<slug>_awards.csv", "csv", "out", (),
        "the council's awards, formula-safe"),
    _ds("council_awards_js", "councils/<slug>/awards_data.js", "js", "out", (),
        "the council's awards for its page's award table (and search.html)"),
)
SEARCH_PAGES: tuple[Dataset, ...] = (
    _ds("search_html", "search.html", "html", "out", (),
        "find any award of the year, placed or not: words in the title, recipient, scheme or council "
        "(former names included), filters for department, funder type (when the awards carry it), policy "
        "area, amount band, council, region and year; sortable, totalled, CSV of the filtered set; the "
        "filters live in the address (`#q=arriva&department=DfT`), so a link shares the view"),
    _ds("search_awards_js", "search/awards.js", "js", "out", (),
        "search.html's data, up to 150,000 awards; above that it loads the councils' `awards_data.js` and "
        "`search/unplaced.js`"),
    _ds("search_unplaced_js", "search/unplaced.js", "js", "out", (),
        "above 150,000 awards: the unplaced awards for search.html"),
    _ds("search_councils", "search/councils/", "folder", "out", (),
        "above 150,000 awards, in a run that wrote pages for some councils only (`--places`): each other "
        "council's awards for search.html, one `<slug>.js` per council"),
)
ASSETS = _ds("assets", "assets/", "folder", "out", (),
             "plotly.js, styles, scripts and the hex map's licence, once for the whole folder (works from "
             "`file://`, no network)")
OUTPUT_MARKER = _ds("output_marker", ".spendmap-output", "text", "out", (),
                    "marks the folder as spendmap's, so a later run may replace it")
README = _ds("readme", "README.md", "text", "out", (),
             "not written by spendmap: a README.md already in the folder is kept when a run replaces it")

# Every file of the output folder, in the order docs/outputs.md lists them; a file a run publishes
# that none of these matches fails tests/outputs/test_outputs_doc.py.
PUBLISHED: tuple[Dataset, ...] = (
    MANIFEST, AWARDS, REJECTS, *CSV_EXPORTS, DUCKDB, INDEX_HTML, COUNCIL_FOLDERS, *COUNCIL_PAGES,
    *SEARCH_PAGES, ASSETS, OUTPUT_MARKER, README,
)
# What run_manifest.json lists under `outputs` (manifest.listed_outputs: those present in the folder).
MANIFEST_OUTPUTS: tuple[Dataset, ...] = (
    AWARDS, REJECTS, *CSV_EXPORTS, DUCKDB, INDEX_HTML, COUNCIL_FOLDERS, *SEARCH_PAGES, ASSETS)
# The files index.html links under "Download the tables" (those the run wrote), with each one's `link`.
INDEX_DOWNLOADS: tuple[Dataset, ...] = (*CSV_EXPORTS, REJECTS, DUCKDB)
# The tables the pages are built from (outputs.context.SiteTables reads each by name), besides the
# awards and the council register.
SITE_INPUTS: tuple[Dataset, ...] = (
    PLACE_SUMMARY, SMALL_GRANTS, DUPLICATION, CRA_ALLOCATION, NATIONAL_SCHEME_OVERLAPS,
    PRIORITIES, PRIORITY_FUNDING, PRIORITY_MATCHES, PRIORITY_OVERLAPS,
)


def published(relative: str) -> Dataset | None:
    """The published dataset a file of the output folder is (`relative` '/'-separated), else None.

    A folder whose files are declared one by one (`councils/`) claims none of them itself, so an
    undeclared file inside it is found."""
    for d in PUBLISHED:
        if not declares_inside(d) and d.matches(relative):
            return d
    return None


def declares_inside(folder: Dataset) -> bool:
    """Whether the catalog declares the files inside this folder one by one (`councils/`), rather than
    the folder standing for everything in it (`assets/`)."""
    return folder.path.endswith("/") and any(
        o.path.startswith(folder.path) for o in PUBLISHED if o is not folder)


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        GRANTS_REGISTERS, POSTCODE_LOOKUP, CRA_DATABASE, POPULATION,
        AWARDS_READ, REJECTS_GRANTS, AWARDS_PLACED, AWARDS_CLASSIFIED, SCHEMES, REJECTS_SCHEMES,
        RECIPIENT_MERGES,
        CRA_ALLOCATION, REJECTS_CRA, REJECTS_POPULATION, *ANALYTIC_TABLES, *PRIORITY_TABLES, REJECTS_LOCAL,
        *PUBLISHED,
    )
}
