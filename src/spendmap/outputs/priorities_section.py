"""A council page's "Funding against <place>'s priorities" section, its Sankey page and workbook sheet.

Built from the run's priority tables (steps.match_priority_outcomes) sliced to one council:
`priorities` (transforms.priority_matching.priority_table), `priority_funding`, `priority_matches`,
`priority_overlaps`. The section is rendered by templates/priorities_section.html.j2, included by the
profile page when the council has priorities.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from spendmap.outputs.money import format_count, format_gbp, format_gbp_full
from spendmap.outputs.sankey_figure import (
    OTHER_COLOUR,
    PALETTE,
    FigureBuilder,
    SankeyData,
    escape_label,
    figure_height,
    figure_layout,
    rgba,
    shorten,
)
from spendmap.outputs.workbook import Col
from spendmap.transforms.funder_types import FUNDER_TYPE_LABELS
from spendmap.transforms.priority_matching import GRANT_SOURCES, LITTLE_SHARE, SOURCE_LABELS, gaps

SANKEY_FILE = "sankey_priorities.html"
MAX_FUNDERS = 12  # funders listed per priority on the page (all are in priority_matches.csv)
MAX_SCHEMES = 12
WEIGHT_COUNT, WEIGHT_GBP = "count", "gbp"
TABLE_NAMES = ("priorities", "priority_funding", "priority_matches", "priority_overlaps")

PRIORITY_SHEET_COLUMNS = [
    Col("priority_id", "Priority id", width=22),
    Col("priority_title", "Priority", width=48),
    Col("source_label", "Source", width=30),
    Col("n_items", "Lines matched", "int", 12),
    Col("amount_gbp", "£ matched", "gbp", 16),
]
PRIORITY_MATCH_SHEET_COLUMNS = [
    Col("priority_id", "Priority id", width=22),
    Col("source_label", "Source", width=26),
    Col("funder_type_label", "Funder type", width=22),
    Col("funder_name", "Funder", width=28),
    Col("scheme_title", "Scheme", width=36),
    Col("title", "Title", width=36),
    Col("recipient_name", "Recipient", width=28),
    Col("amount_gbp", "£", "gbp", 14),
    Col("rules", "Rules matched", width=22),
    Col("matched_on", "Matched on", width=44),
    Col("n_priorities_matched", "Priorities sharing the line", "int", 12),
    Col("line_id", "Line", width=24),
]


def _rows(df: pd.DataFrame | None, fy: str | None = None) -> pd.DataFrame:
    if df is None or df.empty:
        return pd.DataFrame() if df is None else df
    if fy is not None and "fy" in df.columns:
        return df[df["fy"].astype("string") == fy]
    return df


def _listed(text: object) -> list[str]:
    return [t for t in str(text or "").split("; ") if t and text is not pd.NA]


def _rule_text(p: Mapping[str, Any]) -> str:
    parts = []
    for field, words in (("policy_areas", "policy areas"), ("keywords", "keywords"), ("schemes", "schemes")):
        items = _listed(p.get(field))
        if items:
            parts.append(f"{words}: " + ", ".join(items))
    return "; ".join(parts) or "no matching rules (only local-spend lines naming its id can match)"


def section(tables: Mapping[str, pd.DataFrame], la_code: str, la_name: str, fy: str,
            place_total_gbp: float = 0.0, funding_words: str = "") -> dict[str, Any] | None:
    """The section's template values for one council (None when it has no priorities).
    `place_total_gbp`: all grants placed in the council in the year (the yardstick for "little");
    `funding_words`: what the run's grants are (RunContext.funding_words), said in a gap's sentence."""
    prios = _rows(tables.get("priorities"))
    if prios.empty:
        return None
    prios = prios[prios["la_code"] == la_code]
    if prios.empty:
        return None
    funding = _rows(tables.get("priority_funding"), fy)
    matches = _rows(tables.get("priority_matches"), fy)
    overlaps = _rows(tables.get("priority_overlaps"), fy)
    funding = funding[funding["la_code"] == la_code] if len(funding) else funding
    matches = matches[matches["la_code"] == la_code] if len(matches) else matches
    overlaps = overlaps[overlaps["la_code"] == la_code] if len(overlaps) else overlaps
    gap_of = (gaps(funding, place_total_gbp).set_index("priority_id")["gap"].to_dict() if len(funding)
              else {})
    items = []
    for p in prios.to_dict("records"):
        pid = p["priority_id"]
        f = funding[funding["priority_id"] == pid] if len(funding) else funding
        m = matches[matches["priority_id"] == pid] if len(matches) else matches
        o = overlaps[overlaps["priority_id"] == pid] if len(overlaps) else overlaps
        sources = [{"source": r["source"], "label": SOURCE_LABELS.get(r["source"], r["source"]),
                    "n": int(r["n_items"]), "gbp": float(r["amount_gbp"]),
                    "context": r["source"] == "cra_allocated"} for r in f.to_dict("records")]
        grant_n = sum(s["n"] for s in sources if s["source"] in GRANT_SOURCES)
        grant_gbp = sum(s["gbp"] for s in sources if s["source"] in GRANT_SOURCES)
        local = [s for s in sources if s["source"] == "local_spend"]
        by_type = []
        if len(m):
            g = m.groupby("funder_type")["amount_gbp"].agg(["size", "sum"])
            g = g.sort_values("sum", ascending=False)
            by_type = [{"label": FUNDER_TYPE_LABELS.get(t, t), "n": int(r["size"]), "gbp": float(r["sum"])}
                       for t, r in g.iterrows()]
        funders, schemes = [], []
        if len(m):
            g = m.groupby(["funder_name", "funder_type"])["amount_gbp"].agg(["size", "sum"])
            g = g.sort_values("sum", ascending=False)
            funders = [{"name": n, "type": FUNDER_TYPE_LABELS.get(t, t), "n": int(r["size"]),
                        "gbp": float(r["sum"])} for (n, t), r in g.head(MAX_FUNDERS).iterrows()]
            s = m.assign(scheme=m["scheme_title"].fillna("(no scheme)")).groupby("scheme")["amount_gbp"].agg(
                ["size", "sum"]).sort_values("sum", ascending=False)
            schemes = [{"name": n, "n": int(r["size"]), "gbp": float(r["sum"])}
                       for n, r in s.head(MAX_SCHEMES).iterrows()]
        gap = ""
        if gap_of.get(pid, "none") == "none":
            held = f" ({funding_words})" if funding_words else ""
            gap = (f"Gap: no grant in this run's data{held} for {fy} matched this priority"
                   + (" (only the council's own spend did)." if local and local[0]["n"] else "."))
        elif gap_of[pid] == "little":
            gap = (f"Little funding: the grants matched ({format_gbp(grant_gbp)}) are under "
                   f"{LITTLE_SHARE:.0%} of all grants placed in {la_name} ({format_gbp(place_total_gbp)}).")
        overlap = ""
        if len(o):
            r = o.iloc[0]
            overlap = (f"Overlap: {int(r['n_funders'])} funders ({r['funders']}) of "
                       f"{int(r['n_funder_types'])} funder type(s) fund this priority: "
                       f"{format_count(int(r['n_items']))} lines, {format_gbp(float(r['amount_gbp']))}.")
        items.append({
            "id": pid, "title": p["priority_title"], "description": p.get("description") or "",
            "rules": _rule_text(p), "cra_functions": ", ".join(_listed(p.get("cra_functions"))),
            "sources": sources, "grant_n": grant_n, "grant_gbp": grant_gbp, "by_type": by_type,
            "funders": funders, "n_funders": int(m["funder_name"].nunique()) if len(m) else 0,
            "schemes": schemes, "gap": gap, "overlap": overlap,
        })
    return {"items": items, "n_matches": len(matches), "sankey_file": SANKEY_FILE,
            "has_sankey": len(matches) > 0,
            "shared_lines": int((matches["n_priorities_matched"] > 1).sum()) if len(matches) else 0}


def priority_sankey(matches: pd.DataFrame, place_name: str, fy: str) -> SankeyData:
    """Source -> funder -> priority for one council's matched lines, by count and by £."""
    title = f"Funding matched to {place_name}'s priorities, {fy}: source → funder → priority"
    m = matches[matches["amount_gbp"].fillna(0) > 0] if len(matches) else matches
    if m.empty:
        return SankeyData({"data": [], "layout": figure_layout(300)}, title=title,
                          notes=[f"No line of money in this run was matched to {place_name}'s priorities."])
    b = FigureBuilder()

    def label(name: object, gbp: float) -> str:
        return f"{escape_label(shorten(str(name)))} · {format_gbp(gbp)}"

    def hover(name: object, r: pd.Series) -> str:
        return (f"<b>{escape_label(name)}</b><br>{format_count(r['size'])} line(s) · "
                f"{format_gbp_full(r['sum'])}")

    def flow(a: object, z: object, r: pd.Series) -> str:
        return (f"{escape_label(a)} → {escape_label(shorten(str(z), 80))}<br>{format_count(r['size'])} "
                f"line(s) · {format_gbp_full(r['sum'])}")

    sources = m.groupby("source")["amount_gbp"].agg(["size", "sum"]).sort_values("sum", ascending=False)
    colour = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(sources.index)}
    for s, r in sources.iterrows():
        words = SOURCE_LABELS.get(s, s)
        words = words[:1].upper() + words[1:]
        b.node(f"s:{s}", label(words, r["sum"]), colour[s], hover(words, r))
    funders = m.groupby(["source", "funder_name"])["amount_gbp"].agg(["size", "sum"])
    for (s, f), r in funders.iterrows():
        b.node(f"f:{s}:{f}", label(f, r["sum"]), "#4D4D4D", hover(f, r))
        b.link(f"s:{s}", f"f:{s}:{f}", r["size"], r["sum"], rgba(colour[s], 0.35),
               flow(SOURCE_LABELS.get(s, s), f, r))
    prios = m.groupby(["priority_id", "priority_title"])["amount_gbp"].agg(["size", "sum"])
    for (pid, t), r in prios.iterrows():
        b.node(f"p:{pid}", label(t, r["sum"]), "#1A1A1A", hover(t, r))
    links = m.groupby(["source", "funder_name", "priority_id", "priority_title"])["amount_gbp"].agg(
        ["size", "sum"])
    for (s, f, pid, t), r in links.iterrows():
        b.link(f"f:{s}:{f}", f"p:{pid}", r["size"], r["sum"], rgba(colour.get(s, OTHER_COLOUR), 0.25),
               flow(f, t, r))
    trace = b.trace(b.gbp, valueformat=",.0f")  # money first, like every Sankey; counts one click away
    fig = {"data": [trace], "layout": figure_layout(figure_height(max(len(funders), len(prios))))}
    fig["weights"] = {WEIGHT_COUNT: b.count, WEIGHT_GBP: b.gbp}
    notes = []
    if (m["n_priorities_matched"] > 1).any():
        notes.append("A line matched to several priorities flows into each of them in full.")
    return SankeyData(fig, title=title, n_nodes=len(b.labels), n_links=len(b.src), notes=notes)


def write_sankey_page(folder: Path, ctx: Mapping[str, Any], tables: Mapping[str, pd.DataFrame],
                      la_code: str, name: str, cover: list[str]) -> Path:
    """councils/<slug>/sankey_priorities.html."""
    from spendmap.outputs import pages

    matches = _rows(tables.get("priority_matches"), ctx["fy"])
    matches = matches[matches["la_code"] == la_code] if len(matches) else matches
    data = priority_sankey(matches, name, ctx["fy"])
    html = pages.render_sankey(
        ctx, place=name, title=data.title, figure=data.figure, weights=not data.is_empty,
        empty=data.notes[0] if data.is_empty else "",
        caption=[f"Every grant or local-spend line matched to one of {name}'s priorities "
                 "(priority_matches.csv gives the rule for each). Link width: number of lines or £."],
        notes=[] if data.is_empty else data.notes, table=[], coverage=cover,
    )
    path = folder / SANKEY_FILE
    path.write_text(html, encoding="utf-8")
    return path


def workbook_sheets(tables: Mapping[str, pd.DataFrame], la_code: str, fy: str, place_name: str):
    """The workbook's Priorities and Priority matches sheets, as callables for write_workbook."""
    from spendmap.outputs.workbook import _table_sheet

    funding = _rows(tables.get("priority_funding"), fy)
    matches = _rows(tables.get("priority_matches"), fy)
    funding = funding[funding["la_code"] == la_code] if len(funding) else pd.DataFrame()
    matches = matches[matches["la_code"] == la_code] if len(matches) else pd.DataFrame()
    if len(funding):
        funding = funding.assign(source_label=funding["source"].map(SOURCE_LABELS))
    if len(matches):
        matches = matches.assign(source_label=matches["source"].map(SOURCE_LABELS),
                                 funder_type_label=matches["funder_type"].map(FUNDER_TYPE_LABELS))

    def add(wb, formats) -> None:
        _table_sheet(wb, formats, "Priorities", funding, PRIORITY_SHEET_COLUMNS,
                     f"No priorities for {place_name} in this run.")
        _table_sheet(wb, formats, "Priority matches", matches, PRIORITY_MATCH_SHEET_COLUMNS,
                     f"No line of money was matched to {place_name}'s priorities.")

    return add


__all__ = ["section", "priority_sankey", "write_sankey_page", "workbook_sheets", "TABLE_NAMES", "SANKEY_FILE"]
