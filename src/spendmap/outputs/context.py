"""What the site is built from: the run's tables, facts about the run, and what was written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import spendmap
from spendmap.outputs.money import format_gbp

CRA_EXTRA_COLUMNS = [
    "region_code",
    "is_aggregate",
    "per_head_gbp",
    "region_per_head_gbp",
    "england_per_head_gbp",
    "population_vintage",
    "population_source",
]
SCOPE_LABELS = {
    "all_recipients": "All recipients located in the council area",
    "council": "The council itself",
}
KIND_LABELS = {"cross_department": "Across departments", "within_department": "Within a department"}
GEO_LABELS = {
    "geo_code": "by an ONS code in the data",
    "council_match": "as the council itself",
    "postcode": "by recipient postcode",
    "unresolved": "unresolved",
}
# Caveats every page carries, before the run's own assumptions.
SANKEY_MAX_SCHEMES = 15
SANKEY_RECIPIENTS_PER_SCHEME = 9  # every recipient type (8) and redacted: no grouping
SANKEY_ALL_RECIPIENTS_MAX = 12  # up to this many recipients: the diagram ends in every one of them
SANKEY_TOP_RECIPIENTS = 8  # more: the largest by £ get their own node, the rest are grouped by type
SANKEY_MAX_CRA_DEPARTMENTS = 12
# Caveats about the pages themselves, listed after the run's own assumptions (which carry the method:
# placement by address, small-grant rule, CRA allocation by population).
OUTPUT_CAVEATS = [
    "Grant diagrams end in the recipients themselves when a council has at most "
    f"{SANKEY_ALL_RECIPIENTS_MAX}; otherwise in the {SANKEY_TOP_RECIPIENTS} largest recipients by £ and "
    "recipient types for the rest "
    "(council, charity, company, ...) inferred from org-ids, "
    "registered numbers and names, 'unknown' when unsure; schemes beyond the largest are grouped per "
    "department; redacted recipients are kept in the counts and grouped. The table beside each diagram, the "
    "CSV extract and the workbook list the figures in full.",
    f"CRA diagrams show the {SANKEY_MAX_CRA_DEPARTMENTS} largest departments and group the rest; lines with "
    "net negative spending cannot be drawn in a Sankey and are stated under the diagram.",
    "In the CSV extracts, text that could run as a spreadsheet formula (starting =, +, - or @) is prefixed "
    "with an apostrophe; the workbooks store such text as text.",
]


@dataclass
class SiteTables:
    """The run's tables the pages are built from (canonical column names from spendmap.schemas).

    councils: spendmap.sources.councils.load_councils() (one row per current council).
    awards: canonical awards (AWARD_DTYPES + AWARD_EXTRA_DTYPES) with la_code/la_name filled by geography.
    place_summary: PLACE_SUMMARY_COLUMNS. small_grants: SMALL_GRANTS_COLUMNS (scope all_recipients|council).
    duplication: DUPLICATION_COLUMNS. cra_allocation: CRA_ALLOCATION_COLUMNS + CRA_EXTRA_COLUMNS.
    national_overlaps (optional): transforms.duplication.national_scheme_overlaps of the scheme registers.
    Tables may hold several years: only rows of `RunContext.fy` are used.

    Each table field names the catalog dataset it is read from (`from_datasets`); the priority tables
    are the catalog's other SITE_INPUTS, by name.
    """

    councils: pd.DataFrame
    awards: pd.DataFrame
    place_summary: pd.DataFrame = field(metadata={"dataset": "place_summary"})
    small_grants: pd.DataFrame = field(metadata={"dataset": "small_grants"})
    duplication: pd.DataFrame = field(metadata={"dataset": "duplication"})
    cra_allocation: pd.DataFrame = field(metadata={"dataset": "cra_allocation"})
    national_overlaps: pd.DataFrame | None = field(
        default=None, metadata={"dataset": "national_scheme_overlaps"})
    # issue 18: priorities, priority_funding, priority_matches, priority_overlaps (outputs.priorities_section)
    priorities: dict[str, pd.DataFrame] | None = None
    # Every award of the run in REGISTER_COLUMNS only, when `awards` holds just the rendered councils'
    # rows (--places): the index's coverage, amount bands and the finder are over the whole register.
    register: pd.DataFrame | None = None

    @classmethod
    def from_datasets(
        cls, councils: pd.DataFrame, awards: pd.DataFrame, paths: Mapping[str, str | Path],
        register: pd.DataFrame | None = None,
    ) -> SiteTables:
        """The pages' tables read from the run's parquet files (`paths`: catalog dataset name -> path):
        every catalog.SITE_INPUTS dataset the run wrote; the ones no field names go to `priorities`."""
        from dataclasses import fields

        from spendmap import catalog

        read = {d.name: pd.read_parquet(paths[d.name]) for d in catalog.SITE_INPUTS if d.name in paths}
        named = {f.name: f.metadata["dataset"] for f in fields(cls) if "dataset" in f.metadata}
        return cls(
            councils=councils, awards=awards, register=register,
            **{f: read[d] for f, d in named.items() if d in read},
            priorities={n: t for n, t in read.items() if n not in named.values()},
        )


# The award columns the whole-register figures of the index use (search_page.finder_frame,
# page_figures.department_coverage and amount_bands): all a --places run reads of every award.
REGISTER_COLUMNS = ("award_id", "title", "recipient_name", "is_redacted", "scheme_title", "scheme_code",
                    "department", "funder_type", "policy_area", "la_code", "amount_gbp", "fy", "award_date",
                    "unplaced_reason")


@dataclass
class RunContext:
    """Facts about the run shown on every page and in every workbook's Notes sheet.

    sources: one mapping per input with keys `name`, `licence` and optionally `kind`
    (`grants` | `cra` | `population` | `reference`), `url` and `note`.
    """

    fy: str
    sources: list[dict[str, str]] = field(default_factory=list)
    small_threshold_gbp: float = 100_000.0
    population_vintage: str = ""
    assumptions: list[str] = field(default_factory=list)
    generated_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    n_unresolved_awards: int = 0
    unresolved_gbp: float = 0.0
    version: str = spendmap.__version__
    # Coverage, stated on every page (issue 11 §4). All optional so a bare context still renders.
    years: list[str] = field(default_factory=list)  # every year of the run (trends when several)
    departments: list[str] = field(default_factory=list)  # departments the grants register holds
    n_awards_read: int = 0
    amount_read_gbp: float = 0.0
    geo_methods: dict[str, dict[str, float]] = field(default_factory=dict)  # manifest["geo_methods"]
    cra_years: list[str] = field(default_factory=list)
    coverage_notes: list[str] = field(default_factory=list)  # extra sentences (e.g. postcode directory)
    # manifest["classification"]["unclassified"]: awards and £ no policy-area rule matched.
    unclassified: dict[str, float] = field(default_factory=dict)
    # issue 18: what the grants are, by funder type (transforms.funder_types.describe_funding)
    funding_words: str = "central-government grants"
    # page_figures.department_coverage rows: per department, awards read and placed, main unplaced reason.
    department_coverage: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> RunContext:
        """Build from a dict (unknown keys are ignored, so a manifest-like dict can be passed)."""
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in names})

    def source_names(self, kind: str) -> str:
        chosen = [s for s in self.sources if s.get("kind") == kind] or []
        return "; ".join(
            f"{s.get('name', '')}" + (f" ({s['licence']})" if s.get("licence") else "") for s in chosen
        )


@dataclass
class SiteResult:
    """What render_site wrote."""

    out_dir: Path
    index_path: Path
    profiles: dict[str, Path]  # la_code -> councils/<slug>/index.html
    slugs: dict[str, str]  # la_code -> slug, for every council listed on the index
    seconds: float
    n_files: int
    bytes_written: int




GEO_METHOD_TEXT = {
    "council_match": "as the council itself (the recipient is a council)",
    "geo_code": "by an ONS code in the register",
    "postcode": "by the recipient's postcode",
    "postcode_sector": "by the recipient's postcode sector",
    "recipient_postcode": "by the recipient's postcode",
}


def coverage(ctx: Mapping[str, Any]) -> list[str]:
    """What every page states about coverage: departments held, awards placed and how, the years used."""
    lines = []
    depts = list(ctx.get("departments") or [])
    if depts:
        lines.append(
            f"The grants register for {ctx['fy']} holds awards from {len(depts)} "
            f"department{'s' if len(depts) != 1 else ''}: {', '.join(depts)}. Grants of other departments "
            "are not in it, so no page shows them."
        )
    geo = ctx.get("geo_methods") or {}
    read = int(ctx.get("n_awards_read") or sum(int(v.get("awards", 0)) for v in geo.values()))
    if geo and read:
        placed = {k: v for k, v in geo.items() if k != "unresolved" and v.get("awards")}
        n_placed = sum(int(v["awards"]) for v in placed.values())
        gbp_placed = sum(float(v.get("amount_gbp", 0.0)) for v in placed.values())
        gbp_read = float(ctx.get("amount_read_gbp") or 0.0) or sum(
            float(v.get("amount_gbp", 0.0)) for v in geo.values()
        )
        how = "; ".join(
            f"{int(v['awards']):,} {GEO_METHOD_TEXT.get(k, k)}"
            for k, v in sorted(placed.items(), key=lambda kv: -kv[1]["awards"])
        )
        share = f"{n_placed / read:.0%}"
        lines.append(
            f"{n_placed:,} of the {read:,} awards read ({share}), worth {format_gbp(gbp_placed)} of "
            f"{format_gbp(gbp_read)}, were placed in a council" + (f": {how}." if how else ".")
            + " Awards not placed appear on no council page; run_manifest.json counts them."
        )
    lines += [department_line(d) for d in ctx.get("department_coverage") or []]
    years = [f"grants register {ctx['fy']}"]
    if ctx.get("cra_years"):
        years.append(f"Country and Regional Analysis {ctx['fy']} (from an edition covering "
                     f"{ctx['cra_years'][0]} to {ctx['cra_years'][-1]})")
    if ctx.get("population_vintage"):
        years.append(f"population: {ctx['population_vintage']}")
    lines.append("Years used: " + "; ".join(years) + ".")
    unclassified = ctx.get("unclassified") or {}
    if unclassified.get("awards"):
        n = int(unclassified["awards"])
        gbp = format_gbp(float(unclassified.get("amount_gbp", 0.0)))
        lines.append(
            f"{n:,} award{'s' if n != 1 else ''} read ({gbp}) "
            "have no policy area: no rule recognised their scheme or title. They count in every total but in "
            "no policy area and no duplication finding."
        )
    lines += [n for n in ctx.get("coverage_notes") or [] if n]
    return lines


def department_line(d: Mapping[str, Any]) -> str:
    """'MoJ: 2 of 774 awards placed (£40k of £171.4m) — 772 of the 772 unplaced: no postcode, …'."""
    text = (
        f"{d['department']}: {int(d['n_placed']):,} of {int(d['n_read']):,} awards placed "
        f"({format_gbp(d['gbp_placed'])} of {format_gbp(d['gbp_read'])})"
    )
    if d.get("n_unplaced"):
        n, main = int(d["n_unplaced"]), int(d["n_main_reason"])
        who = f"all {n:,} unplaced" if main == n else f"{main:,} of the {n:,} unplaced"
        text += f" — {who}: {d['main_reason']}"
    return text + "."


def placed_share(ctx: Mapping[str, Any]) -> float | None:
    """Share of the awards read that were placed in a council (None when unknown)."""
    geo = ctx.get("geo_methods") or {}
    read = sum(int(v.get("awards", 0)) for v in geo.values())
    if not read:
        return None
    return 1 - int(geo.get("unresolved", {}).get("awards", 0)) / read
