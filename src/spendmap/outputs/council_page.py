"""One council's folder: profile page, two Sankey pages, CSV extract and workbook.

`render_council(job)` is a plain function of one `CouncilJob` (picklable: frames and dicts only), so a
runner can map it over councils in-process, in a process pool, or as Prefect/Dask mapped tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from spendmap import schemas
from spendmap.outputs import pages, priorities_section, sankey
from spendmap.outputs.context import (
    GEO_LABELS,
    KIND_LABELS,
    OUTPUT_CAVEATS,
    SANKEY_ALL_RECIPIENTS_MAX,
    SANKEY_MAX_CRA_DEPARTMENTS,
    SANKEY_MAX_SCHEMES,
    SANKEY_RECIPIENTS_PER_SCHEME,
    SANKEY_TOP_RECIPIENTS,
    SCOPE_LABELS,
    coverage,
    placed_share,
)
from spendmap.outputs.index_page import band_rows
from spendmap.outputs.money import format_gbp, format_gbp_full
from spendmap.outputs.safe import neutralise_frame
from spendmap.outputs.search_page import council_config, finder_frame
from spendmap.outputs.workbook import write_workbook
from spendmap.transforms.duplication import explain_finding, finding_awards, number_findings
from spendmap.transforms.page_figures import (
    as_number,
    as_text,
    cra_by_function,
    department_scheme_table,
    describe_types,
    organisation_keys,
    predecessors,
)
from spendmap.transforms.recipient_types import type_counts

# A council with fewer placed awards than this gets a sentence saying why the count may be low.
FEW_AWARDS = 20


@dataclass
class CouncilJob:
    """Everything one council's folder is built from (this council's rows only)."""

    la_code: str
    slug: str
    info: dict[str, Any]
    summary: dict[str, Any] | None
    awards: pd.DataFrame
    awards_csv: pd.DataFrame | None  # the CSV extract (awards_extract); None: made here from awards
    small: pd.DataFrame
    duplication: pd.DataFrame
    cra: pd.DataFrame
    ctx: dict[str, Any]
    out_dir: str
    per_head: dict[str, Any] = field(default_factory=dict)  # a page_figures.grants_per_head row
    trend: list[dict[str, Any]] = field(default_factory=list)  # place_summary rows, one per run year
    # Computed for every council at once by the site (page_figures / duplication), sliced per council.
    scheme_rows: list[dict[str, Any]] = field(default_factory=list)
    finding_awards: pd.DataFrame | None = None
    # issue 18: this council's rows of the priority tables (outputs.priorities_section.TABLE_NAMES)
    priority_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    bands: list[dict[str, Any]] = field(default_factory=list)  # page_figures.amount_bands rows
    # [name, region, page href from the site root, search names] for the award finder's data, and this
    # council's rows of search_page.finder_frame (None: computed from `awards`).
    finder_meta: list[Any] = field(default_factory=list)
    finder: pd.DataFrame | None = None
    # The extract's text columns the whole table's neutralising changed, this council's rows (None:
    # neutralise this council's rows here).
    neutralised_text: pd.DataFrame | None = None


def awards_extract(awards: pd.DataFrame, neutralised: pd.DataFrame | None = None) -> pd.DataFrame:
    """The CSV extract of awards: canonical award columns, then recipient type and its rule, with
    formula-neutralised text. `neutralised`: these rows' columns already neutralised (with the whole
    table, site.prepare_site), put in place of the awards' own; without it the rows are neutralised here.
    """
    columns = [c for c in {**schemas.AWARD_DTYPES, **schemas.AWARD_EXTRA_DTYPES} if c in awards.columns]
    columns += [c for c in ("recipient_type", "recipient_type_rule") if c in awards.columns]
    if neutralised is None:
        return neutralise_frame(awards[columns])
    # neutralise_frame of a few hundred rows costs ~30 ms (pandas per column); this costs ~1 ms.
    return awards[columns].assign(**{c: neutralised[c].array for c in neutralised.columns if c in columns})


def assumptions(ctx: dict[str, Any]) -> list[str]:
    return [a for a in ctx.get("assumptions", []) if a] + OUTPUT_CAVEATS


def _grants_caption(ctx: dict[str, Any], name: str) -> list[str]:
    source = ctx["grants_sources"] or "the grants register given to this run"
    return [
        f"What it shows: {ctx.get('funding_words', 'central-government grants')} (for central government, "
        "its departments and the bodies they manage) to "
        f"recipients placed in {name}, flowing department → grant scheme → recipient, for "
        f"{ctx['fy']}: every recipient when there are at most {SANKEY_ALL_RECIPIENTS_MAX}, else the "
        f"{SANKEY_TOP_RECIPIENTS} largest by £ and the others grouped by type of recipient. "
        "Link width is the £ value; the switch above shows the number of awards instead.",
        f"Source: {source}.",
        "Caveats: a recipient is placed by its recorded address, often a head office, which is not "
        "necessarily where the money is spent. Recipient types are inferred (org-id, registered numbers, "
        f"name rules) and 'unknown' when unsure. Schemes beyond the largest {SANKEY_MAX_SCHEMES} are "
        "grouped per department. The table below lists every department and scheme.",
    ]


def _cra_caption(ctx: dict[str, Any], name: str, region: str) -> list[str]:
    source = ctx["cra_sources"] or "HM Treasury Country and Regional Analysis (CRA)"
    vintage = bool(ctx.get("population_vintage"))
    return [
        f"What it shows: identifiable public spending by department and function in {region or 'the region'},"
        f" allocated to {name} for {ctx['fy']}.",
        f"Source: {source}" + (f"; population: {ctx['population_vintage']}" if vintage else "") + ".",
        "Caveats: only identifiable spending is included; the council's share is its share of the "
        "region's population, so per-head figures equal the region's by construction. The allocation is "
        "only as accurate as the departments' own regional attribution.",
    ]


def _small_rows(job: CouncilJob) -> list[dict[str, Any]]:
    threshold = job.ctx["small_threshold_gbp"]
    rows = []
    for scope in schemas.SMALL_GRANT_SCOPES:
        part = job.small[job.small["scope"] == scope] if not job.small.empty else job.small
        row = part.iloc[0].to_dict() if len(part) else {}
        share = as_number(row.get("share_small"))
        rows.append(
            {
                "scope": scope,
                "scope_label": SCOPE_LABELS[scope],
                "label": SCOPE_LABELS[scope],
                "n_awards": as_number(row.get("n_awards"), 0),
                "n_small": as_number(row.get("n_small"), 0),
                "share_small": share,
                "threshold_gbp": as_number(row.get("threshold_gbp"), threshold),
                "bar_pct": round(100 * share, 1) if share is not None else 0,
            }
        )
    return rows


def _small_excluded(small: pd.DataFrame) -> str:
    """What the small-grant scopes leave out (zero, negative, redacted), when the analytics reported it."""
    excluded = []
    first = small[small["scope"] == "all_recipients"] if len(small) else small
    for col, label in (
        ("n_zero_value", "zero-value"),
        ("n_negative", "negative"),
        ("n_redacted", "redacted"),
    ):
        value = as_number(first[col].iloc[0]) if col in first.columns and len(first) else None
        if value:
            excluded.append(f"{int(value):,} {label} award{'s' if value != 1 else ''}")
    return ", ".join(excluded)


def _findings(job: CouncilJob) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Findings in page order (number_findings), with kind label and explanation, and their page rows."""
    dup = job.duplication
    if dup.empty:
        return dup.assign(finding=[], kind_label=[], explanation=[]), []
    if "finding" not in dup.columns:
        dup = number_findings(dup)
    dup = dup.sort_values("finding", kind="stable").reset_index(drop=True)
    dup = dup.assign(
        kind_label=[KIND_LABELS.get(as_text(k), as_text(k)) for k in dup["kind"]],
        explanation=dup["explanation"]
        if "explanation" in dup.columns and dup["explanation"].notna().all()
        else [explain_finding(r) for r in dup.to_dict("records")],
    )
    rows = [
        {
            "finding": r["finding"],
            "explanation": r["explanation"],
            "policy_area": as_text(r["policy_area"]),
            "kind": r["kind_label"],
            "departments": as_text(r["departments"]),
            "schemes": as_text(r["schemes"]).split("; ") if as_text(r["schemes"]) else [],
            "recipients": as_text(r["recipients"]).split("; ") if as_text(r["recipients"]) else [],
            "n_schemes": r["n_schemes"],
            "n_recipients": r["n_recipients"],
            "n_awards": r["n_awards"],
            "total_gbp": r["total_gbp"],
        }
        for r in dup.to_dict("records")
    ]
    return dup, rows


def _first_known(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _all_recipients(small_rows: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in small_rows if r["scope"] == "all_recipients")


def _tested_of(small_rows: list[dict[str, Any]], n_awards: int) -> str:
    """"of 12 tested" when the all-recipients share is of fewer awards than the page counts (zero-value
    and redacted awards are not tested against the threshold)."""
    row = _all_recipients(small_rows)
    if row["share_small"] is None or int(row["n_awards"]) == n_awards:
        return ""
    return f"of {int(row['n_awards']):,} tested (zero-value and redacted awards are not)"


def _why_few(ctx: dict[str, Any], name: str, n_awards: int) -> str:
    """Why a council may show few awards: the register's departments and the placement rate."""
    if n_awards >= FEW_AWARDS:
        return ""
    depts = ctx.get("departments") or []
    share = placed_share(ctx)
    parts = [f"Only {n_awards:,} award{'s' if n_awards != 1 else ''} could be shown for {name}."]
    if depts:
        parts.append(f"The register holds only {', '.join(depts)} awards.")
    if share is not None and share < 0.999:
        parts.append(
            f"Only {share:.0%} of its awards could be placed in any council, so awards to organisations here "
            "may be among the unplaced."
        )
    parts.append("A low count here is not evidence that the council area receives few grants.")
    return " ".join(parts)


def former_councils_note(la_code: str, name: str, awards: pd.DataFrame, fy: str) -> str:
    """Which abolished councils this council replaced, and their own awards shown here under their names."""
    gone = predecessors(la_code)
    if gone.empty:
        return ""
    names = gone["official_name"].tolist()
    when = sorted({d[:4] for d in gone["end_date"] if d})
    listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    text = f"{name} replaced {listed}" + (f" in {' and '.join(when)}" if when else "") + "."
    if awards.empty:
        return text
    keys, _ = organisation_keys(awards)
    amounts = pd.to_numeric(awards["amount_gbp"], errors="coerce").fillna(0.0)
    parts = []
    for code, official in zip(gone["register_code"], gone["official_name"], strict=True):
        mine = (keys == f"COUNCIL:{code}").fillna(False).to_numpy(dtype=bool)
        if mine.any():
            n = int(mine.sum())
            gbp = format_gbp_full(amounts[mine].sum())
            parts.append(f"{official} ({n:,} award{'s' if n != 1 else ''}, {gbp})")
    if parts:
        text += (
            f" Its {fy} figures include awards to the former councils themselves, shown under their own "
            "names: "
            + "; ".join(parts) + "."
        )
    return text + (
        f" Awards to other organisations located in their areas are placed in {name} by address."
    )


def _sankey_page(
    ctx: dict[str, Any],
    name: str,
    data: sankey.SankeyData,
    caption: list[str],
    cover: list[str],
    weights: bool,
    table: list[dict[str, Any]],
) -> str:
    """One Sankey page; an empty diagram shows its note instead, and no weight switch."""
    return pages.render_sankey(
        ctx,
        place=name,
        title=data.title,
        figure=data.figure,
        weights=weights and not data.is_empty,
        empty=data.notes[0] if data.is_empty else "",
        caption=caption,
        notes=[] if data.is_empty else data.notes,
        table=table,
        coverage=cover,
    )


def render_council(job: CouncilJob) -> tuple[str, str]:
    """Write one council's folder: profile, two Sankeys, CSV extract, workbook. Returns (code, page path)."""
    ctx = job.ctx
    folder = Path(job.out_dir) / "councils" / job.slug
    folder.mkdir(parents=True, exist_ok=True)
    info, s = job.info, job.summary or {}
    name = as_text(info.get("la_name")) or job.la_code
    region = as_text(info.get("region_name")) or as_text(info.get("nation"))
    awards = job.awards

    n_awards = int(as_number(s.get("n_awards"), len(awards)) or 0)
    total_gbp = as_number(s.get("total_gbp"))
    if total_gbp is None:
        total_gbp = float(pd.to_numeric(awards["amount_gbp"], errors="coerce").sum()) if len(awards) else 0.0
    small_rows = _small_rows(job)
    dup, dup_rows = _findings(job)
    dup_awards = job.finding_awards
    if dup_awards is None:  # a job built by hand: derive this council's finding awards here
        dup_awards = finding_awards(awards, dup)
    cra_rows, cra_totals = cra_by_function(job.cra)
    is_aggregate = bool(job.cra["is_aggregate"].fillna(False).astype(bool).any()) if len(job.cra) else False
    grants = sankey.grants_sankey(
        awards, name, ctx["fy"], SANKEY_MAX_SCHEMES, SANKEY_RECIPIENTS_PER_SCHEME,
        SANKEY_ALL_RECIPIENTS_MAX, SANKEY_TOP_RECIPIENTS,
    )
    cra_fig = sankey.cra_sankey(job.cra, name, ctx["fy"], SANKEY_MAX_CRA_DEPARTMENTS)
    notes = assumptions(ctx)
    scheme_rows = job.scheme_rows or department_scheme_table(awards).to_dict("records")
    types = describe_types(type_counts(awards))

    geo_counts = []
    if len(awards):
        counts = awards["geo_method"].astype("string").fillna("unresolved").value_counts()
        geo_counts = [{"label": GEO_LABELS.get(k, k), "n": int(v)} for k, v in counts.items()]

    csv_name = f"{job.slug}_awards.csv"
    xlsx_name = f"{job.slug}_grant_profile.xlsx"
    tier_text = as_text(info.get("la_type_name")) or as_text(info.get("tier")).capitalize() or "Council"
    p = {
        "la_code": job.la_code,
        "la_name": name,
        "region": region,
        "tier_text": tier_text,
        "county_name": as_text(info.get("county_name")),
        "n_awards": n_awards,
        "n_schemes": as_number(s.get("n_schemes")),
        "n_recipients": as_number(s.get("n_recipients")),
        "recipient_types": types,
        "total_gbp": total_gbp,
        # The card's share and its denominator come from one table (small_grants, all recipients).
        "share_small": _first_known(
            _all_recipients(small_rows)["share_small"], as_number(s.get("share_small"))
        ),
        "share_small_of": _tested_of(small_rows, n_awards),
        "small": small_rows,
        "small_excluded": _small_excluded(job.small),
        "dup_rows": dup_rows,
        "cra_rows": cra_rows,
        "cra_aggregate": is_aggregate,
        "cra_total": cra_totals.get("cra_total"),
        "cra_per_head": cra_totals.get("cra_per_head"),
        "cra_region_per_head": cra_totals.get("cra_region_per_head"),
        "cra_england_per_head": cra_totals.get("cra_england_per_head"),
        "per_head": job.per_head,
        "grants_sankey": not grants.is_empty,
        "grants_height": grants.figure["layout"]["height"] + 360,
        "cra_height": cra_fig.figure["layout"]["height"] + 320,
        "scheme_rows": scheme_rows,
        "geo_counts": geo_counts,
        "why_few": _why_few(ctx, name, n_awards),
        "trend": job.trend if len(job.trend) > 1 else [],
        "csv_name": csv_name,
        "xlsx_name": xlsx_name,
        "bands": band_rows(pd.DataFrame(job.bands), ctx["small_threshold_gbp"]) if job.bands else [],
        "predecessors": former_councils_note(job.la_code, name, awards, ctx["fy"]),
    }
    meta = job.finder_meta or [name, region, f"councils/{job.slug}/index.html", []]
    finder = job.finder if job.finder is not None else finder_frame(awards)
    config = council_config(ctx, folder, job.la_code, job.slug, finder, meta) if len(awards) else {}
    cover = coverage(ctx)
    # issue 18: the priorities section, its Sankey page and workbook sheets (when the council has any)
    p["priorities"] = priorities_section.section(job.priority_tables, job.la_code, name, ctx["fy"],
                                                 total_gbp or 0.0, ctx.get("funding_words", ""))
    extra_sheets = []
    if p["priorities"]:
        priorities_section.write_sankey_page(folder, ctx, job.priority_tables, job.la_code, name, cover)
        extra_sheets.append(
            priorities_section.workbook_sheets(job.priority_tables, job.la_code, ctx["fy"], name))
    (folder / "index.html").write_text(
        pages.render_profile(ctx, p=p, assumptions=notes, coverage=cover, config=config, finder_council=True),
        encoding="utf-8",
    )
    (folder / "sankey_grants.html").write_text(
        _sankey_page(ctx, name, grants, _grants_caption(ctx, name), cover, weights=True, table=scheme_rows),
        encoding="utf-8",
    )
    (folder / "sankey_cra.html").write_text(
        _sankey_page(ctx, name, cra_fig, _cra_caption(ctx, name, region), cover, weights=False, table=[]),
        encoding="utf-8",
    )

    # CSV extract: every award placed here, canonical columns first, formula-neutralised text.
    # utf-8-sig so Excel (the tool councils open it with) reads £ and accents correctly.
    extract = job.awards_csv if job.awards_csv is not None else awards_extract(awards, job.neutralised_text)
    extract.to_csv(folder / csv_name, index=False, encoding="utf-8-sig")

    all_small = _all_recipients(small_rows)
    council_small = next(r for r in small_rows if r["scope"] == "council")
    threshold = format_gbp(ctx["small_threshold_gbp"])
    ph = job.per_head
    summary_rows = [
        ("Council", name, "text"),
        ("GSS code", job.la_code, "text"),
        ("Type", tier_text, "text"),
        ("Region or nation", region, "text"),
        ("Financial year", ctx["fy"], "text"),
        ("Grant awards", n_awards, "int"),
        ("Grant schemes", p["n_schemes"], "int"),
        ("Recipients", p["n_recipients"], "int"),
        ("Recipients by type", types or "—", "text"),
        ("Total grants", total_gbp, "gbp"),
        ("Grants per head", as_number(ph.get("per_head")), "gbp_pence"),
        (f"Grants per head, {region or 'region'}", as_number(ph.get("region_per_head")), "gbp_pence"),
        ("Grants per head, England", as_number(ph.get("england_per_head")), "gbp_pence"),
        (
            f"Grants per head, all {as_text(ph.get('type_name')) or 'councils of this type'}",
            as_number(ph.get("type_per_head")),
            "gbp_pence",
        ),
        (f"Share of awards under {threshold} (all recipients)", all_small["share_small"], "share"),
        (f"Share of awards under {threshold} (the council itself)", council_small["share_small"], "share"),
        ("Duplication findings", len(dup_rows), "int"),
        ("CRA identifiable spending allocated", p["cra_total"], "gbp"),
        ("CRA per head (the region's, by construction)", p["cra_per_head"], "gbp_pence"),
        ("CRA per head, England", p["cra_england_per_head"], "gbp_pence"),
        ("Generated", ctx["generated_at"], "text"),
    ]
    sheet_notes = [("Coverage", c) for c in cover] + [
        (
            s_.get("name", "Source"),
            "; ".join(x for x in (s_.get("licence", ""), s_.get("url", ""), s_.get("note", "")) if x) or "—",
        )
        for s_ in ctx.get("sources", [])
    ]
    if ctx.get("population_vintage"):
        sheet_notes.append(("Population", str(ctx["population_vintage"])))
    sheet_notes.append(("Small-grant threshold", f"Awards under {threshold}"))
    sheet_notes += [("Assumption", a) for a in notes]
    if not len(awards):
        sheet_notes.insert(
            0, ("No awards", f"No grant awards in the {ctx['fy']} register were placed in {name}.")
        )
    elif p["why_few"]:
        sheet_notes.insert(0, ("Few awards", p["why_few"]))
    cra_sheet = job.cra.sort_values("allocated_gbp", ascending=False) if len(job.cra) else job.cra
    write_workbook(
        folder / xlsx_name,
        summary_rows,
        awards,
        pd.DataFrame(small_rows),
        dup,
        cra_sheet,
        sheet_notes,
        name,
        finding_awards=dup_awards,
        extra_sheets=extra_sheets,
    )
    return job.la_code, str(folder / "index.html")
