"""index.html: the hex map, the small-grants chart of the 13 pilots, the council table and the national view.

`render_index(...)` is a plain function of the site-wide figures; the council folders can be written
before or after it (it only needs to know which councils have a page).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from spendmap import schemas
from spendmap.outputs import pages
from spendmap.outputs.context import coverage
from spendmap.outputs.money import format_gbp, format_per_head, format_share
from spendmap.paths import reference_path
from spendmap.sources.councils import PFPP_CODES
from spendmap.text import is_missing
from spendmap.transforms.page_figures import as_number

HEXMAP_FILE = ("hexmaps", "uk-local-authority-districts-2023.hexjson")
# The bundled layout carries 2024 codes; a council table still on the older codes is matched through these.
HEX_CODE_UPDATES = {"E08000016": "E08000038", "E08000019": "E08000039"}
HEX_SIZE = 10.0  # circumradius in SVG units
# Sequential, colour-blind-safe (light to dark blue); grey = no figure.
HEX_COLOURS = ["#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c"]
HEX_EMPTY = "#e0e0e0"
# Money first: the map opens on £ per head (the first figure), its legend in £.
HEX_FIGURES = {
    "grants_per_head": "Grants £ per head",
    "total_gbp": "Grants £ in total",
    "n_awards": "Number of grant awards",
    "share_all": "Share of awards that are small",
}


@lru_cache(maxsize=1)
def load_hexmap() -> dict[str, dict[str, Any]]:
    """The bundled hex layout: {GSS code: {n, q, r, region}} (Open Innovations, MIT)."""
    data = json.loads(reference_path(*HEXMAP_FILE).read_text(encoding="utf-8"))
    return data["hexes"]


def _hex_points(cx: float, cy: float) -> str:
    # Pointy-top hexagons (odd-r layout).
    return " ".join(
        f"{cx + HEX_SIZE * math.cos(math.radians(60 * i - 30)):.1f},"
        f"{cy + HEX_SIZE * math.sin(math.radians(60 * i - 30)):.1f}"
        for i in range(6)
    )


def _bins(values: Sequence[float]) -> list[float]:
    """Lower bounds of up to 5 bands: the smallest positive value, then the quintile edges above it (so
    a few very large councils do not wash out the rest; ties collapse bands rather than repeat them)."""
    positive = sorted(v for v in values if not is_missing(v) and v > 0)
    if not positive:
        return []
    edges = [positive[min(len(positive) - 1, int(len(positive) * k / 5))] for k in range(1, 5)]
    return sorted({positive[0], *edges})


def _colour(value: float | None, bounds: list[float]) -> str:
    if is_missing(value) or value <= 0 or not bounds:
        return HEX_EMPTY
    return HEX_COLOURS[sum(value >= b for b in bounds) - 1]


def hexmap(figures: pd.DataFrame, slugs: Mapping[str, str], rendered: set[str]) -> dict[str, Any]:
    """Hexagons with position, link, label and a colour per figure, plus the legend of each figure."""
    layout = load_hexmap()
    codes = set(figures["la_code"])
    older = {new: old for old, new in HEX_CODE_UPDATES.items()}
    by_code = figures.set_index("la_code")
    w = math.sqrt(3) * HEX_SIZE
    max_r = max(h["r"] for h in layout.values())
    min_r = min(h["r"] for h in layout.values())
    min_q = min(h["q"] for h in layout.values())
    edges = {f: _bins(pd.to_numeric(figures[f], errors="coerce").astype(float).tolist()) for f in HEX_FIGURES}
    hexes = []
    for code, h in layout.items():
        la = code if code in codes else older.get(code, code)
        row = by_code.loc[la] if la in by_code.index else None
        cx = w * (h["q"] - min_q + (0.5 if h["r"] % 2 else 0.0)) + w
        cy = 1.5 * HEX_SIZE * (max_r - h["r"]) + HEX_SIZE * 1.5
        values = {f: (None if row is None else row.get(f)) for f in HEX_FIGURES}
        values = {f: as_number(v) for f, v in values.items()}
        name = h.get("n", code) if row is None else str(row["la_name"])
        text = (
            f"{name}: {format_per_head(values['grants_per_head'])} per head; "
            f"{format_gbp(values['total_gbp'] or 0)} in {int(values['n_awards'] or 0):,} awards; "
            f"{format_share(values['share_all'])} small"
        )
        hexes.append(
            {
                "code": la,
                "href": f"councils/{slugs[la]}/index.html" if la in rendered and la in slugs else "",
                "points": _hex_points(cx, cy),
                "title": text,
                "values": values,
                "colours": {f: _colour(values[f], edges[f]) for f in HEX_FIGURES},
            }
        )
    width = w * (max(h["q"] for h in layout.values()) - min_q + 2.5)
    height = 1.5 * HEX_SIZE * (max_r - min_r + 2)

    def label(figure: str, v: float) -> str:
        if figure == "n_awards":
            return f"{v:,.0f}"
        if figure == "share_all":
            return format_share(v)
        if figure == "total_gbp":
            return format_gbp(v)
        return format_per_head(v) + " per head"

    legends = {}
    for f in HEX_FIGURES:
        # The first band starts at the smallest non-zero value, which can round to £0.00: say "above".
        bands = [("above " if i == 0 else "from ") + label(f, 0.0 if i == 0 else x)
                 for i, x in enumerate(edges[f])]
        legends[f] = [{"colour": HEX_EMPTY, "text": "none or no figure"}] + [
            {"colour": HEX_COLOURS[i], "text": t} for i, t in enumerate(bands)
        ]
    return {
        "hexes": hexes,
        "width": round(width, 1),
        "height": round(height, 1),
        "figures": HEX_FIGURES,
        "legends": legends,
    }


def national_rows(overlaps: pd.DataFrame | None, fy: str) -> dict[str, Any]:
    """The scheme registers' policy areas funded by several departments, for the run's year."""
    if overlaps is None or overlaps.empty:
        return {"years": [], "rows": []}
    years = sorted(overlaps["fy"].astype(str).unique())
    this_year = overlaps[overlaps["fy"].astype(str) == fy].sort_values("value_gbp", ascending=False)
    rows = [
        {
            "policy_area": r.policy_area,
            "departments": r.departments,
            "n_departments": r.n_departments,
            "n_schemes": r.n_schemes,
            "value_gbp": r.value_gbp,
            "department_values": _readable_values(str(r.department_values)),
        }
        for r in this_year.itertuples()
    ]
    return {"years": years, "rows": rows}


def _readable_values(joined: str) -> str:
    """'DfE: 51730429451; BIS: 900000' -> 'DfE £51.7bn; BIS £900k'."""
    parts = []
    for item in joined.split("; "):
        name, _, value = item.rpartition(": ")
        try:
            parts.append(f"{name} {format_gbp(float(value))}")
        except ValueError:
            parts.append(item)
    return "; ".join(parts)


def _share_of(share: float | None, n: object, beside: object = None) -> str:
    """The number of awards a share is of ("of 12"), when it differs from the count beside it."""
    n_num = as_number(n)
    if share is None or n_num is None or (beside is not None and as_number(beside) == n_num):
        return ""
    return f"of {int(n_num):,}"


def index_rows(
    figures: pd.DataFrame,
    slugs: Mapping[str, str],
    rendered: set[str],
    search_names: Mapping[str, Sequence[str]] | None = None,
) -> list[dict[str, Any]]:
    """Template rows from page_figures.index_figures (already sorted largest £ first).

    `search_names` (la_code -> names, page_figures.council_search_names) lets the search box find a
    council by a former or variant name ("Harrogate" finds North Yorkshire).
    """
    names = search_names or {}
    rows = []
    for r in figures.to_dict("records"):
        code = r["la_code"]
        share_all, share_council, ph = (
            as_number(r["share_all"]),
            as_number(r["share_council"]),
            as_number(r["grants_per_head"]),
        )
        words = [r["la_name"], code, r["region"], r["official_name"] or "", r["county_name"] or ""]
        rows.append(
            {
                "la_code": code,
                "la_name": r["la_name"],
                "region": r["region"],
                "tier": r["type"],
                "href": f"councils/{slugs[code]}/index.html" if code in rendered and code in slugs else "",
                "n_awards": r["n_awards"],
                "n_schemes": r["n_schemes"],
                "n_recipients": r["n_recipients"],
                "total_gbp": r["total_gbp"],
                "share_all": share_all,
                "share_all_of": _share_of(share_all, r.get("n_tested_all"), r["n_awards"]),
                "share_all_sort": -1 if share_all is None else share_all,
                "share_council": share_council,
                "share_council_of": _share_of(share_council, r.get("n_tested_council")),
                "share_council_sort": -1 if share_council is None else share_council,
                "n_dup": r["n_dup"],
                "grants_per_head": ph,
                "grants_per_head_sort": -1 if ph is None else ph,
                "search": " ".join(
                    str(x) for x in (*words, *names.get(code, ())) if x is not None and x == x
                ).lower(),
            }
        )
    return rows


def pilot_chart(rows: list[dict[str, Any]], small: pd.DataFrame, threshold: float) -> dict[str, Any]:
    """Small-grant bars for every council, and the 13 pilots each with a reason when it has no bar."""
    by_code: dict[str, dict[str, Any]] = {}
    for r in small.to_dict("records") if len(small) else []:
        scope = str(r.get("scope"))
        if scope not in schemas.SMALL_GRANT_SCOPES:
            continue
        by_code.setdefault(str(r["la_code"]), {})[scope] = {
            "n_awards": int(as_number(r.get("n_awards")) or 0),
            "n_small": int(as_number(r.get("n_small")) or 0),
            "share_small": as_number(r.get("share_small")),
        }
    names = {r["la_code"]: r["la_name"] for r in rows}
    councils = [
        {"la_code": code, "la_name": names.get(code, code), "pilot": code in PFPP_CODES, "scopes": scopes}
        for code, scopes in by_code.items()
        if code in names
    ]
    pilots = []
    for code in PFPP_CODES:
        scopes = by_code.get(code, {})
        n_all = scopes.get("all_recipients", {}).get("n_awards", 0)
        n_council = scopes.get("council", {}).get("n_awards", 0)
        pilots.append(
            {
                "la_code": code,
                "la_name": names.get(code, code),
                "n_all": n_all,
                "n_council": n_council,
                "why_none": {
                    "all_recipients": "" if n_all else "no award in this run's register was placed here",
                    "council": "" if n_council else "no award to the council itself in this run's register",
                },
            }
        )
    return {"threshold_label": format_gbp(threshold), "councils": councils, "pilots": pilots}


def no_award_councils(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The councils with no placed award, listed once (name and link) instead of as rows of zeros."""
    keep = ("la_name", "href", "la_code", "search", "region", "tier")
    return [{k: r[k] for k in keep} for r in rows if not r["n_awards"]]


def band_rows(bands: pd.DataFrame, threshold: float) -> list[dict[str, Any]]:
    """page_figures.amount_bands rows for one group, each marked above/below the small-grant threshold."""
    rows = []
    for r in bands.to_dict("records"):
        high = {"under_10k": 10_000.0, "10k_100k": 100_000.0}.get(r["band"])
        small = r["band"] == "zero_or_negative" or (high is not None and high <= threshold)
        rows.append({**r, "small": small})
    return rows


def render_index(
    out_dir: Path,
    ctx: Mapping[str, Any],
    figures: pd.DataFrame,
    small: pd.DataFrame,
    national: pd.DataFrame | None,
    slugs: Mapping[str, str],
    rendered: set[str],
    notes: list[str],
    search_names: Mapping[str, Sequence[str]] | None = None,
    national_bands: pd.DataFrame | None = None,
    downloads: Sequence[Mapping[str, str]] = (),
) -> Path:
    """Write index.html: figures is page_figures.index_figures for the run year."""
    rows = index_rows(figures, slugs, rendered, search_names)
    placed = figures[figures["n_awards"] > 0]
    totals = {
        "n_awards": int(figures["n_awards"].sum()),
        "total_gbp": float(figures["total_gbp"].sum()),
        "n_places": len(placed),
    }
    chart = pilot_chart(rows, small, ctx["small_threshold_gbp"])
    with_awards = [r for r in rows if r["n_awards"]]
    path = Path(out_dir) / "index.html"
    path.write_text(
        pages.render_index(
            ctx,
            rows=with_awards,
            n_councils=len(rows),
            no_awards=no_award_councils(rows),
            totals=totals,
            pilots=chart["pilots"],
            regions=sorted({r["region"] for r in with_awards if r["region"]}),
            tiers=sorted({r["tier"] for r in with_awards if r["tier"]}),
            chart_data=chart,
            hexmap=hexmap(figures, slugs, rendered),
            national=national_rows(national, ctx["fy"]),
            bands=band_rows(national_bands, ctx["small_threshold_gbp"]) if national_bands is not None else [],
            downloads=list(downloads),
            assumptions=notes,
            coverage=coverage(ctx),
        ),
        encoding="utf-8",
    )
    return path
