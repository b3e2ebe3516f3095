# ruff: noqa: E501 — the document's own lines, kept as they appear in docs/outputs.md.
"""docs/outputs.md, generated from the column lists in spendmap.schemas (and the modules that add columns).

Regenerate with `python -m spendmap.outputs.outputs_doc` (writes docs/outputs.md); a test fails when the
file in the repository differs from what this module writes, so the document cannot drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from spendmap import schemas
from spendmap.outputs.context import CRA_EXTRA_COLUMNS
from spendmap.transforms.policy_areas import POLICY_BASES
from spendmap.transforms.profiles import SMALL_GRANTS_EXTRA_COLUMNS
from spendmap.transforms.recipient_identity import RECIPIENT_MERGE_COLUMNS
from spendmap.transforms.recipient_types import RECIPIENT_TYPES

DOC_PATH = Path(__file__).resolve().parents[3] / "docs" / "outputs.md"


def _cols(columns: list[str]) -> str:
    return ", ".join(columns)


def _set(values: tuple[str, ...] | list[str]) -> str:
    return "{" + ", ".join(f"`{v}`" for v in values) + "}"


def render() -> str:
    """The text of docs/outputs.md."""
    canonical = list(schemas.AWARD_DTYPES)
    extras = list(schemas.AWARD_EXTRA_DTYPES) + [
        "department_lineage",
        "policy_basis",
        "recipient_type",
        "recipient_type_rule",
    ]
    cra = schemas.CRA_ALLOCATION_COLUMNS
    files = [
        ("run_manifest.json", "see below"),
        ("awards.parquet", "every accepted award: the canonical columns, then the extras below"),
        (
            "rejects.csv",
            "every input row not accepted, from every input (grants, CRA, population, scheme "
            f"registers): `{_cols(schemas.REJECT_COLUMNS)}`, then `{_cols(schemas.REJECT_EXTRA_COLUMNS)}` "
            "(the grants input's id, as in awards; blank for other inputs)",
        ),
        ("place_summary.csv", f"one row per council and year: `{_cols(schemas.PLACE_SUMMARY_COLUMNS)}`"),
        (
            "place_summary_by_funder_type.csv",
            f"the same per funder type, for councils and years with awards: `{_cols(schemas.PLACE_SUMMARY_COLUMNS)}, "
            "funder_type` (central-government figures stay separable when `--funding` data is in the run)",
        ),
        (
            "small_grants.csv",
            f"`{_cols(schemas.SMALL_GRANTS_COLUMNS)}`, then "
            f"`{_cols(SMALL_GRANTS_EXTRA_COLUMNS)}`; `scope` ∈ "
            f"{_set(schemas.SMALL_GRANT_SCOPES)}",
        ),
        (
            "duplication.csv",
            f"`{_cols(schemas.DUPLICATION_COLUMNS)}`, then `{_cols(schemas.DUPLICATION_EXTRA_COLUMNS)}`; "
            f"`kind` ∈ {_set(schemas.DUPLICATION_KINDS)}; one finding per place, year and policy "
            "sub-area (and department, for `within_department`); `allocation_methods` are the schemes' "
            "methods from the scheme register; `n_formula_to_council` counts the council's own formula "
            "allocations (left out of a within-department finding); `score` = `n_schemes` × "
            "`n_recipients`, the rank pages use; `explanation` says in one sentence why the finding is "
            "listed; `funder_types` are the kinds of funder in the finding (a funder is a department by "
            "lineage, or another funder of a known type by its org-id or name); lists are `; `-joined "
            "(the workbook lists each finding's awards one per row)",
        ),
        (
            "recipient_merges.csv",
            f"how recipient records became organisations: `{_cols(RECIPIENT_MERGE_COLUMNS)}`, one "
            "row per edge that joined two identifiers of one organisation (`rule` ∈ {`same_record`, "
            "`name_postcode`}) or was refused (`merged` false: a name never joins two register ids)",
        ),
        (
            "cra_allocation.csv",
            f"`{_cols(cra)}`, then `{_cols(CRA_EXTRA_COLUMNS)}` and further per-head columns",
        ),
        (
            "unplaced.csv",
            f"every award not placed in a council: `{_cols(schemas.UNPLACED_COLUMNS)}` (`reason` in words)",
        ),
        (
            "county_areas.csv",
            "two-tier areas, one row per county council and year: "
            f"`{_cols(schemas.COUNTY_AREA_COLUMNS)}`",
        ),
        (
            "national_scheme_overlaps.csv",
            "from the scheme registers: `fy, policy_area, departments, "
            "n_departments, n_schemes, value_gbp, department_values` (overseas "
            "departments left out)",
        ),
        (
            "priority_funding.csv",
            f"`{_cols(schemas.PRIORITY_FUNDING_COLUMNS)}`: per year, place priority and source, the lines "
            "matched and their £ (zero rows state gaps); `source` ∈ "
            "{`central_government_grants`, `other_public_grants`, `charitable_grants`, `local_spend`, "
            "`cra_allocated`}; CRA is context, never added to the grants",
        ),
        (
            "priority_matches.csv",
            f"every award or local-spend line matched to a priority: `{_cols(schemas.PRIORITY_MATCH_COLUMNS)}`; "
            "`rules` ⊆ {`explicit_id`, `scheme`, `policy_area`, `keyword`} and `matched_on` says what matched; "
            "`n_priorities_matched` > 1 for a line counted in full in several priorities",
        ),
        (
            "priority_overlaps.csv",
            f"priorities funded by two or more funders (or departments): `{_cols(schemas.PRIORITY_OVERLAP_COLUMNS)}`",
        ),
        (
            "trends.csv",
            "only for several years (`--years`): per council and year, the grant profile beside "
            "the CRA allocation, and the change from the previous year",
        ),
        (
            "spendmap.duckdb",
            "tables `awards, rejects, councils, place_summary, small_grants, duplication, "
            "cra_allocation, national_scheme_overlaps, unplaced, county_areas, recipient_merges, priorities, priority_funding, "
            "priority_matches, priority_overlaps, local_spend, place_summary_by_funder_type` (+ `trends`), each table "
            "and column with a `COMMENT` (`duckdb_tables()`, `duckdb_columns()`), and the views "
            "`council_profile` (type, region, awards, £ and grants £ per head per council and year), "
            "`awards_by_council_department` and `unplaced_by_reason_department`",
        ),
        (
            "index.html",
            "what the figures cover (per department: awards and £ read and placed, and the main "
            "reason for the unplaced); a hex map of every district and unitary council (coloured "
            "by grants £ per head, £, awards or small-grant share, each hexagon linking to its "
            "page); the small-grants chart of the 13 pilots (each pilot without a bar says "
            "why); every council with placed awards and key figures, largest £ first, sortable and "
            "searchable by any current or former name (the councils with none listed once below); "
            "awards and £ by amount band; links to the CSV files and the database; the national view "
            "of policy areas funded by several departments",
        ),
        (
            "councils/<slug>/index.html",
            "the council's profile page: the former councils it replaced (their own awards shown "
            "under their own names), coverage, headline figures, grants per "
            "head beside its region, England and its type, small grants, the "
            "grants diagram with a department × scheme table, awards and £ by amount band, every "
            "award placed here (searchable, sortable, 50 a page, CSV of the selection), explained "
            "duplication findings, the CRA allocation, and with `--years` a "
            "year-by-year table; where the place has priorities, \"Funding against <place>'s priorities\" "
            "(per priority: £ and lines by source and funder type, funders and schemes, gaps, overlaps)",
        ),
        (
            "councils/<slug>/sankey_grants.html",
            "department → scheme → recipients (every one when few, else the largest and recipient types; each "
            "organisation one node, never two councils under one name), opening on £ and switchable to "
            "the number of awards, with the same figures as a table",
        ),
        ("councils/<slug>/sankey_cra.html", "department → function → council of allocated CRA spend"),
        (
            "councils/<slug>/sankey_priorities.html",
            "source → funder → priority of the lines matched to the place's priorities (places with priorities)",
        ),
        (
            "councils/<slug>/<slug>_grant_profile.xlsx",
            "the council's workbook: Summary, Awards, Small grants, "
            "Duplication, Duplication awards (one award per row), "
            "CRA allocation, Priorities and Priority matches (places with priorities), Notes",
        ),
        ("councils/<slug>/<slug>_awards.csv", "the council's awards, formula-safe"),
        ("councils/<slug>/awards_data.js", "the council's awards for its page's award table (and search.html)"),
        (
            "search.html",
            "find any award of the year, placed or not: words in the title, recipient, scheme or council "
            "(former names included), filters for department, funder type (when the awards carry it), "
            "policy area, amount band, council, region and year; sortable, totalled, CSV of the filtered "
            "set; the filters live in the address (`#q=arriva&department=DfT`), so a link shares the view",
        ),
        (
            "search/awards.js",
            "search.html's data (up to 150,000 awards; above that it loads the councils' "
            "`awards_data.js` and `search/unplaced.js`)",
        ),
        (
            "assets/",
            "plotly.js, styles, scripts and the hex map's licence, once for the whole folder "
            "(works from `file://`, no network)",
        ),
    ]
    lines = [
        "# The output folder",
        "",
        "<!-- Generated by `python -m spendmap.outputs.outputs_doc` from spendmap/schemas.py; do not edit. -->",
        "",
        "`spendmap run --out DIR` (default `outputs/`) writes the folder below, whole: the run builds it in a",
        "staging folder beside `DIR` and renames it into place only when every step succeeded. spendmap adds",
        "columns and files but never renames or removes those listed here. CSV files are UTF-8 and",
        "formula-safe (a text cell starting with `=`, `+`, `-` or `@` is prefixed with `'`); parquet and",
        "DuckDB keep values exactly.",
        "",
        "| path | content |",
        "|---|---|",
        *[f"| `{path}` | {text} |" for path, text in files],
        "",
        "## Awards (`awards.parquet`)",
        f"Canonical columns, in order: `{_cols(canonical)}`.",
        "",
        f"Then: `{_cols(extras)}`.",
        "",
        "- `funder_type` ∈ {`central_government`, `arms_length_body`, `lottery_distributor`, `local_government`,",
        "  `charitable_funder`, `other`}; `funder_type_rule` says which rule decided it (`known_list`, `grantnav`,",
        "  `department`, `org_id_prefix`, `unknown`); `funder_name` is the funder as the pages show it.",
        "- `department` is the canonical short name (DfT, MoJ, MHCLG…; `reference/departments.csv`);",
        "  `department_raw` the funder name as published; `department_lineage` groups renames.",
        f"- `geo_method` ∈ {_set(schemas.GEO_METHODS)}; `la_code` is the current council's GSS code;",
        "  `county_code` is the county of a two-tier district (an award *to* a county council has the county",
        "  as `la_code`).",
        "- `geo_detail`: for `council_match`, how (`org_id`, `name`, `fuzzy_name`, `split_successor`); for",
        "  `postcode`, `corrected` when an O/I typo was repaired. `postcode_status` ∈ {`matched`, `corrected`,",
        "  `sector`, `no_council`, `not_found`, `incomplete`, `invalid`, `placeholder`, `blank`}.",
        "  `unplaced_reason` (unresolved awards only): see docs/assumptions.md.",
        "- `is_aggregated` marks awards with `Number of recipients` > 1 (aggregated awards to individuals);",
        "  `location_codes`/`location_code_types` hold the ONS codes found in the location fields.",
        "- `policy_rule` is the id of the rule in `reference/policy_rules.csv` that set `policy_area`",
        "  (empty, with `policy_area` = `unclassified`, when none matched); `policy_basis` names the evidence",
        f"  it read, strongest first: {_set([b for b, _ in POLICY_BASES])} (scheme first; see docs/assumptions.md).",
        "- `policy_subarea` is the purpose within `policy_area` (`reference/policy_subareas.csv`: transport →",
        "  buses and community transport, roads and highways maintenance, rail, active travel …; the area",
        "  itself where no sub-area rule matched) and `policy_subrule` the rule that set it.",
        "- `allocation_method` ∈ {`formula`, `competed`, `criteria-based`, `un-competed`, `mixed`}: the",
        "  scheme register's allocation method for the award's scheme code (empty where no register says).",
        "- `organisation_id` and `organisation_name`: the organisation the recipient is",
        "  (transforms/recipient_identity.py): one id for the same body under several ids, names and",
        "  postcodes (`GB-CHC-…`, `GB-COH-…`, a council's own `GB-LAE-…`, else `NAME:…`); empty for redacted",
        "  or unnamed recipients. Every count of recipients counts these; `recipient_merges.csv` explains",
        "  each merge.",
        f"- `recipient_type` ∈ {_set(RECIPIENT_TYPES)}; `recipient_type_rule` names the evidence",
        "  (`org-id:GB-CHC`, `number:charity`, `name:company`, …; see docs/assumptions.md).",
        "- `source_row` is the 1-based row in the source sheet (header included), so every figure traces to a row.",
        "- `input_id` names the grants input the award came from: its 1-based position among the run's",
        "  `--grants` and its sha256 prefix (`1:3fa2b4c5d6e7`); the manifest's `inputs.grants[]` gives its path.",
        "  `award_date_outside_fy` flags a date more than a year outside the award's financial year.",
        "",
        "## `run_manifest.json`",
        "- `spendmap_run`: start and finish times and the full run configuration.",
        "- `financial_years`.",
        "- `inputs.grants[]`: `input_id`, path or URL, sha256, bytes, sheet, header row, rows read/accepted/",
        "  rejected, £ in / accepted / rejected, financial year and where it came from (`fy_source`: `file name`,",
        "  `sheet name`, `given`, `award dates`), redacted, aggregated and zero-value counts, rows rejected as",
        "  totals; for a download, whether its size was checked (`verified`, `verification`).",
        "  `inputs.cra` and `inputs.population`: the file (path or URL, sha256, bytes) and",
        "  under `reading` what the reader found (sheet, rows or cells read/accepted/rejected, years, units,",
        "  £ totals by category for the CRA); `inputs.postcodes` likewise when given.",
        "- `reconciliation`: for the grants registers, per input (by `input_id`) and in total, whether rows",
        "  read = accepted + rejected and £ in = accepted + rejected (`ok`), the input counted by a plain read",
        "  with its own amount parser; `other_inputs`: the same row (or CRA value-cell)",
        "  check for the CRA file, the population file and each scheme register.",
        "- `geo_methods`: awards and £ per placement method (unresolved included).",
        "- `postcode_directory`: the directory that placed awards (name, vintage, package or file, licence,",
        "  attribution); `placement`: postcode statuses, unplaced reasons, councils with awards.",
        "- `data_quality` (per grants input): awards over the plausibility ceiling, with invalid dates or dates",
        "  more than a year outside the year (kept, flagged), ambiguous decimal separators, text cells with",
        "  control characters removed.",
        "- `inputs.grants[].role` is `funding` for a `--funding` input (each grant in the year of its own award",
        "  date, `rows_outside_run_years` left out with that reason); `priorities`: the priorities file, places,",
        "  priorities, matches, overlaps, and per `--local` file the rows read/accepted/rejected.",
        "- `warnings`: what the run summary printed as `Warning:` lines (the same facts, in words).",
        "- `classification`: awards and £ per funder type (`funder_types`), unknown funders, unclassified share per department, the unclassified awards and",
        "  £ (`unclassified`), awards per policy area, sub-area, allocation method and recipient type,",
        "  scheme-register reading counts, and `recipient_identity`: how many recipient records",
        "  (`recipient_records`; `recipient_keys_before` the keys by id or spelling) became how many",
        "  `organisations`, with the merges by rule and the refused ones.",
        '- `analytics`: awards and £ placed/unplaced, zero-value, negative, redacted, tested for "small", small;',
        "  the number of duplication findings.",
        "- `assumptions`: small-grant threshold, population vintage per year (wanted, used, why, councils",
        "  filled from mySociety's 2020 figures), CRA units and scope.",
        "- `outputs`, `package_versions`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write docs/outputs.md (or the path given) from the schemas."""
    path = Path((argv or sys.argv[1:] or [str(DOC_PATH)])[0])
    path.write_text(render(), encoding="utf-8")
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
