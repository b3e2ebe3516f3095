"""Render the output folder people open: index, council profiles, Sankeys, CSV extracts, workbooks.

Entry point: `render_site(out_dir, tables, context, places)`. Inputs are the run's tables (`SiteTables`)
and facts about the run (`RunContext`); nothing here reads source files or the network. plotly.js, the
stylesheet and the page script are copied once into `assets/`; every page points there by a relative
path, so the folder works from `file://` on a machine with no network.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import spendmap
from spendmap import schemas
from spendmap.errors import InputError
from spendmap.outputs import pages, sankey
from spendmap.outputs.money import format_gbp
from spendmap.outputs.safe import neutralise_frame, unique_slugs
from spendmap.outputs.workbook import write_workbook
from spendmap.sources.councils import PFPP_CODES

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
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
SANKEY_MAX_SCHEMES = 20
SANKEY_RECIPIENTS_PER_SCHEME = 5
SANKEY_MAX_CRA_DEPARTMENTS = 12
# Caveats about the pages themselves, listed after the run's own assumptions (which carry the method:
# placement by address, small-grant rule, CRA allocation by population).
OUTPUT_CAVEATS = [
    "Grant diagrams show each scheme's top recipients by £ or by number of awards and group the rest as "
    "'Other recipients'; schemes beyond the largest are grouped per department; redacted recipients are "
    "kept in the counts and grouped as 'Redacted recipients'. The CSV extract and workbook list every award.",
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
    """

    councils: pd.DataFrame
    awards: pd.DataFrame
    place_summary: pd.DataFrame
    small_grants: pd.DataFrame
    duplication: pd.DataFrame
    cra_allocation: pd.DataFrame
    national_overlaps: pd.DataFrame | None = None


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


# --------------------------------------------------------------------------------------------- helpers
def _ensure(df: pd.DataFrame | None, columns: Sequence[str]) -> pd.DataFrame:
    """The frame with every expected column present (missing ones as NA) — robust to empty inputs."""
    out = pd.DataFrame() if df is None else df.copy()
    for col in columns:
        if col not in out.columns:
            out[col] = pd.Series(pd.NA, index=out.index, dtype="object")
    return out


def _this_year(df: pd.DataFrame, fy: str) -> pd.DataFrame:
    if "fy" not in df.columns or df.empty:
        return df
    fys = df["fy"].astype("string")
    return df[(fys == fy) | fys.isna()]


def _num(value: Any, default: float | None = None) -> float | None:
    try:
        if value is None or pd.isna(value):
            return default
    except (TypeError, ValueError):
        return default
    return float(value)


def _str(value: Any) -> str:
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def council_slugs(councils: pd.DataFrame, extra: pd.DataFrame | None = None) -> dict[str, str]:
    """la_code -> folder slug, stable for a given council list (sorted by GSS code before slugging)."""
    names = councils[["la_code", "la_name"]].dropna(subset=["la_code"])
    if extra is not None and not extra.empty:
        more = extra[["la_code", "la_name"]].dropna(subset=["la_code"])
        names = pd.concat([names, more[~more["la_code"].isin(names["la_code"])]])
    names = names.drop_duplicates("la_code").sort_values("la_code")
    labels = [n if n else c for c, n in zip(names["la_code"], names["la_name"].fillna(""), strict=True)]
    return dict(zip(names["la_code"], unique_slugs(labels), strict=True))


def _split(df: pd.DataFrame, key: str = "la_code") -> dict[str, pd.DataFrame]:
    if df.empty:
        return {}
    return {str(k): g for k, g in df.groupby(key, sort=False, dropna=True)}


# ---------------------------------------------------------------------------------- per-council job
@dataclass
class _CouncilJob:
    la_code: str
    slug: str
    info: dict[str, Any]
    summary: dict[str, Any] | None
    awards: pd.DataFrame
    awards_csv: pd.DataFrame  # the same rows, extract columns, formula-neutralised
    small: pd.DataFrame
    duplication: pd.DataFrame
    cra: pd.DataFrame
    ctx: dict[str, Any]
    out_dir: str


def _cra_by_function(cra: pd.DataFrame) -> tuple[list[dict[str, Any]], dict[str, float | None]]:
    """CRA rows summed by function (plain Python: a council has ~100 rows). Per-head figures share one
    population per council/region, so they add up across rows; all-unknown stays unknown."""
    if cra.empty:
        return [], {}
    cols = ("allocated_gbp", "per_head_gbp", "region_per_head_gbp", "england_per_head_gbp")
    by_function: dict[str, list[list[float]]] = {}
    totals: list[list[float]] = [[], [], [], []]
    for func, *values in zip(cra["function"].tolist(), *(cra[c].tolist() for c in cols), strict=True):
        entry = by_function.setdefault(_str(func) or "Unknown function", [[], [], [], []])
        for i, v in enumerate(values):
            number = _num(v)
            if number is not None:
                entry[i].append(number)
                totals[i].append(number)

    def add(values: list[float]) -> float | None:
        return sum(values) if values else None

    rows = [
        {
            "function": f,
            "gbp": add(v[0]) or 0.0,
            "per_head": add(v[1]),
            "region_per_head": add(v[2]),
            "england_per_head": add(v[3]),
        }
        for f, v in by_function.items()
    ]
    rows.sort(key=lambda r: (-r["gbp"], r["function"]))
    return rows, {
        "cra_total": add(totals[0]) or 0.0,
        "cra_per_head": add(totals[1]),
        "cra_region_per_head": add(totals[2]),
        "cra_england_per_head": add(totals[3]),
    }


def _assumptions(ctx: Mapping[str, Any]) -> list[str]:
    return [a for a in ctx.get("assumptions", []) if a] + OUTPUT_CAVEATS


def _grants_caption(ctx: Mapping[str, Any], name: str) -> list[str]:
    source = ctx["grants_sources"] or "the grants register given to this run"
    return [
        f"What it shows: grant awards from central-government departments (and bodies they manage) to "
        f"recipients placed in {name}, flowing department → grant scheme → recipient, for {ctx['fy']}. "
        "Link width is the number of awards or the £ value (switch above); labels give £ totals and "
        "award counts.",
        f"Source: {source}.",
        "Caveats: a recipient is placed by its recorded address, often a head office, which is not "
        f"necessarily where the money is spent. The top {SANKEY_RECIPIENTS_PER_SCHEME} recipients of each "
        f"scheme are shown, the rest grouped as 'Other recipients'; schemes beyond the top "
        f"{SANKEY_MAX_SCHEMES} are grouped per department; redacted recipients are grouped.",
    ]


def _cra_caption(ctx: Mapping[str, Any], name: str, region: str) -> list[str]:
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


def render_council(job: _CouncilJob) -> tuple[str, str]:
    """Write one council's folder: profile, two Sankeys, CSV extract, workbook. Returns (code, page path)."""
    ctx = job.ctx
    folder = Path(job.out_dir) / "councils" / job.slug
    folder.mkdir(parents=True, exist_ok=True)
    info, s = job.info, job.summary or {}
    name = _str(info.get("la_name")) or job.la_code
    region = _str(info.get("region_name")) or _str(info.get("nation"))
    awards = job.awards

    n_awards = int(_num(s.get("n_awards"), len(awards)) or 0)
    total_gbp = _num(s.get("total_gbp"))
    if total_gbp is None:
        total_gbp = float(pd.to_numeric(awards["amount_gbp"], errors="coerce").sum()) if len(awards) else 0.0

    small_rows = []
    for scope in schemas.SMALL_GRANT_SCOPES:
        part = job.small[job.small["scope"] == scope] if not job.small.empty else job.small
        row = part.iloc[0] if len(part) else {}
        share = _num(row.get("share_small")) if len(part) else None
        small_rows.append(
            {
                "scope": scope,
                "scope_label": SCOPE_LABELS[scope],
                "label": SCOPE_LABELS[scope],
                "n_awards": _num(row.get("n_awards"), 0) if len(part) else 0,
                "n_small": _num(row.get("n_small"), 0) if len(part) else 0,
                "share_small": share,
                "threshold_gbp": _num(row.get("threshold_gbp"), ctx["small_threshold_gbp"])
                if len(part)
                else ctx["small_threshold_gbp"],
                "bar_pct": round(100 * share, 1) if share is not None else 0,
            }
        )

    # The analytics step may report what the small-grant scopes leave out (zero, negative, redacted).
    excluded = []
    if len(job.small):
        first = job.small[job.small["scope"] == "all_recipients"]
        for col, label in (
            ("n_zero_value", "zero-value"),
            ("n_negative", "negative"),
            ("n_redacted", "redacted"),
        ):
            value = _num(first[col].iloc[0]) if col in first.columns and len(first) else None
            if value:
                excluded.append(f"{int(value):,} {label} award{'s' if value != 1 else ''}")
    small_excluded = ", ".join(excluded)

    dup = job.duplication.copy()
    dup["kind_label"] = dup["kind"].map(lambda k: KIND_LABELS.get(_str(k), _str(k))) if len(dup) else []
    dup = dup.sort_values(["total_gbp"], ascending=False) if len(dup) else dup
    dup_rows = [
        {
            k: (_str(r.get(k)) if k in ("policy_area", "departments", "schemes", "recipients") else r.get(k))
            for k in (
                "policy_area",
                "departments",
                "schemes",
                "recipients",
                "n_schemes",
                "n_recipients",
                "n_awards",
                "total_gbp",
            )
        }
        | {"kind": r["kind_label"]}
        for r in dup.to_dict("records")
    ]

    cra_rows, cra_totals = _cra_by_function(job.cra)
    is_aggregate = bool(job.cra["is_aggregate"].fillna(False).astype(bool).any()) if len(job.cra) else False

    grants = sankey.grants_sankey(awards, name, ctx["fy"], SANKEY_MAX_SCHEMES, SANKEY_RECIPIENTS_PER_SCHEME)
    cra_fig = sankey.cra_sankey(job.cra, name, ctx["fy"], SANKEY_MAX_CRA_DEPARTMENTS)
    assumptions = _assumptions(ctx)

    geo_counts = []
    if len(awards):
        counts = awards["geo_method"].astype("string").fillna("unresolved").value_counts()
        geo_counts = [{"label": GEO_LABELS.get(k, k), "n": int(v)} for k, v in counts.items()]

    csv_name = f"{job.slug}_awards.csv"
    xlsx_name = f"{job.slug}_grant_profile.xlsx"
    p = {
        "la_code": job.la_code,
        "la_name": name,
        "region": region,
        "tier_text": _str(info.get("la_type_name")) or _str(info.get("tier")).capitalize() or "Council",
        "county_name": _str(info.get("county_name")),
        "n_awards": n_awards,
        "n_schemes": _num(s.get("n_schemes")),
        "n_recipients": _num(s.get("n_recipients")),
        "total_gbp": total_gbp,
        "share_small": _num(s.get("share_small")),
        "small": small_rows,
        "small_excluded": small_excluded,
        "dup_rows": dup_rows,
        "cra_rows": cra_rows,
        "cra_aggregate": is_aggregate,
        "cra_total": cra_totals.get("cra_total"),
        "cra_per_head": cra_totals.get("cra_per_head"),
        "cra_region_per_head": cra_totals.get("cra_region_per_head"),
        "cra_england_per_head": cra_totals.get("cra_england_per_head"),
        "grants_sankey": not grants.is_empty,
        "grants_height": grants.figure["layout"]["height"] + 360,
        "cra_height": cra_fig.figure["layout"]["height"] + 320,
        "geo_counts": geo_counts,
        "csv_name": csv_name,
        "xlsx_name": xlsx_name,
    }
    (folder / "index.html").write_text(
        pages.render_profile(ctx, p=p, assumptions=assumptions), encoding="utf-8"
    )
    (folder / "sankey_grants.html").write_text(
        pages.render_sankey(
            ctx,
            place=name,
            title=grants.title,
            figure=grants.figure,
            weights=not grants.is_empty,
            empty=grants.notes[0] if grants.is_empty else "",
            caption=_grants_caption(ctx, name),
            notes=[] if grants.is_empty else grants.notes,
        ),
        encoding="utf-8",
    )
    (folder / "sankey_cra.html").write_text(
        pages.render_sankey(
            ctx,
            place=name,
            title=cra_fig.title,
            figure=cra_fig.figure,
            weights=False,
            empty=cra_fig.notes[0] if cra_fig.is_empty else "",
            caption=_cra_caption(ctx, name, region),
            notes=[] if cra_fig.is_empty else cra_fig.notes,
        ),
        encoding="utf-8",
    )

    # CSV extract: every award placed here, canonical columns first, formula-neutralised text.
    # utf-8-sig so Excel (the tool councils open it with) reads £ and accents correctly.
    job.awards_csv.to_csv(folder / csv_name, index=False, encoding="utf-8-sig")

    all_small = next(r for r in small_rows if r["scope"] == "all_recipients")
    council_small = next(r for r in small_rows if r["scope"] == "council")
    summary_rows = [
        ("Council", name, "text"),
        ("GSS code", job.la_code, "text"),
        ("Type", p["tier_text"], "text"),
        ("Region or nation", region, "text"),
        ("Financial year", ctx["fy"], "text"),
        ("Grant awards", n_awards, "int"),
        ("Grant schemes", p["n_schemes"], "int"),
        ("Recipients", p["n_recipients"], "int"),
        ("Total grants", total_gbp, "gbp"),
        (
            f"Share of awards under {format_gbp(ctx['small_threshold_gbp'])} (all recipients)",
            all_small["share_small"],
            "share",
        ),
        (
            f"Share of awards under {format_gbp(ctx['small_threshold_gbp'])} (the council itself)",
            council_small["share_small"],
            "share",
        ),
        ("Duplication findings", len(dup_rows), "int"),
        ("CRA identifiable spending allocated", p["cra_total"], "gbp"),
        ("CRA per head", p["cra_per_head"], "gbp_pence"),
        (f"CRA per head, {region or 'region'}", p["cra_region_per_head"], "gbp_pence"),
        ("CRA per head, England", p["cra_england_per_head"], "gbp_pence"),
        ("Generated", ctx["generated_at"], "text"),
    ]
    notes = [
        (
            s_.get("name", "Source"),
            "; ".join(x for x in (s_.get("licence", ""), s_.get("url", ""), s_.get("note", "")) if x) or "—",
        )
        for s_ in ctx.get("sources", [])
    ]
    if ctx.get("population_vintage"):
        notes.append(("Population", str(ctx["population_vintage"])))
    notes.append(("Small-grant threshold", f"Awards under {format_gbp(ctx['small_threshold_gbp'])}"))
    notes += [("Assumption", a) for a in assumptions]
    if not len(awards):
        notes.insert(0, ("No awards", f"No grant awards in the {ctx['fy']} register were placed in {name}."))
    cra_sheet = job.cra.sort_values("allocated_gbp", ascending=False) if len(job.cra) else job.cra
    write_workbook(
        folder / xlsx_name, summary_rows, awards, pd.DataFrame(small_rows), dup, cra_sheet, notes, name
    )
    return job.la_code, str(folder / "index.html")


# ------------------------------------------------------------------------------------------ the site
def _copy_assets(out_dir: Path) -> None:
    import plotly

    assets = out_dir / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    target = assets / "plotly.min.js"
    if not target.exists() or target.stat().st_size != plotly_js.stat().st_size:
        shutil.copyfile(plotly_js, target)
    for name in ("style.css", "spendmap.js"):
        shutil.copyfile(ASSETS_DIR / name, assets / name)


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


def _national_rows(overlaps: pd.DataFrame | None, fy: str) -> dict[str, Any]:
    """The scheme registers' policy areas funded by several departments, for the run's year."""
    if overlaps is None or overlaps.empty:
        return {"years": [], "rows": []}
    years = sorted(overlaps["fy"].astype(str).unique())
    this_year = overlaps[overlaps["fy"].astype(str) == fy].sort_values("value_gbp", ascending=False)
    rows = [
        {
            "policy_area": r.policy_area, "departments": r.departments, "n_departments": r.n_departments,
            "n_schemes": r.n_schemes, "value_gbp": r.value_gbp,
            "department_values": _readable_values(str(r.department_values)),
        }
        for r in this_year.itertuples()
    ]
    return {"years": years, "rows": rows}


def _index_rows(
    councils: pd.DataFrame,
    summary: pd.DataFrame,
    small: pd.DataFrame,
    dup: pd.DataFrame,
    cra: pd.DataFrame,
    slugs: Mapping[str, str],
    rendered: set[str],
) -> list[dict[str, Any]]:
    base = councils.set_index("la_code")
    summ = summary.drop_duplicates("la_code").set_index("la_code") if len(summary) else summary
    shares = (
        small.pivot_table(index="la_code", columns="scope", values="share_small", aggfunc="first")
        if len(small)
        else pd.DataFrame()
    )
    n_dup = dup.groupby("la_code").size() if len(dup) else pd.Series(dtype=int)
    per_head = (
        pd.to_numeric(cra["per_head_gbp"], errors="coerce").groupby(cra["la_code"]).sum(min_count=1)
        if len(cra)
        else pd.Series(dtype=float)
    )
    rows = []
    for code, slug in slugs.items():
        info = base.loc[code] if code in base.index else {}
        s = summ.loc[code] if len(summ) and code in summ.index else {}
        name = _str(info.get("la_name")) or _str(s.get("la_name")) or code
        region = _str(info.get("region_name")) or _str(info.get("nation"))
        tier = _str(info.get("tier"))
        share_all = (
            _num(shares.at[code, "all_recipients"])
            if code in shares.index and "all_recipients" in shares
            else None
        )
        share_council = (
            _num(shares.at[code, "council"]) if code in shares.index and "council" in shares else None
        )
        ph = _num(per_head.get(code))
        rows.append(
            {
                "la_code": code,
                "la_name": name,
                "region": region,
                "tier": tier,
                "href": f"councils/{slug}/index.html" if code in rendered else "",
                "n_awards": int(_num(s.get("n_awards"), 0) or 0),
                "n_schemes": int(_num(s.get("n_schemes"), 0) or 0),
                "n_recipients": int(_num(s.get("n_recipients"), 0) or 0),
                "total_gbp": _num(s.get("total_gbp"), 0.0),
                "share_all": share_all,
                "share_all_sort": -1 if share_all is None else share_all,
                "share_council": share_council,
                "share_council_sort": -1 if share_council is None else share_council,
                "n_dup": int(n_dup.get(code, 0)),
                "cra_per_head": ph,
                "cra_per_head_sort": -1 if ph is None else ph,
                "search": " ".join(
                    [name, code, region, _str(info.get("official_name")), _str(info.get("county_name"))]
                ).lower(),
            }
        )
    rows.sort(key=lambda r: r["la_name"].lower())
    return rows


def _chart_data(rows: list[dict[str, Any]], small: pd.DataFrame, threshold: float) -> dict[str, Any]:
    by_code: dict[str, dict[str, Any]] = {}
    for r in small.to_dict("records") if len(small) else []:
        scope = _str(r.get("scope"))
        if scope not in schemas.SMALL_GRANT_SCOPES:
            continue
        by_code.setdefault(_str(r["la_code"]), {})[scope] = {
            "n_awards": int(_num(r.get("n_awards"), 0) or 0),
            "n_small": int(_num(r.get("n_small"), 0) or 0),
            "share_small": _num(r.get("share_small")),
        }
    councils = []
    for row in rows:
        scopes = by_code.get(row["la_code"])
        if scopes:
            councils.append(
                {
                    "la_code": row["la_code"],
                    "la_name": row["la_name"],
                    "pilot": row["la_code"] in PFPP_CODES,
                    "scopes": scopes,
                }
            )
    return {"threshold_label": format_gbp(threshold), "councils": councils}


def _folder_size(path: Path) -> tuple[int, int]:
    n, total = 0, 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            n += 1
            total += (Path(root) / f).stat().st_size
    return n, total


def render_site(
    out_dir: Path,
    tables: SiteTables,
    context: RunContext | Mapping[str, Any],
    places: Sequence[str] | None = None,
    map_councils: Callable[[Callable[[Any], Any], list[Any]], Iterable[Any]] = map,
) -> SiteResult:
    """Write index.html, assets/ and councils/<slug>/... for `places` (la_codes; None = every council).

    index.html lists every council (councils table ∪ place_summary) and links only to rendered profiles.
    `map_councils(render_council, jobs)` renders one council per job and yields (la_code, page path):
    the builtin `map` renders them in turn; the pipeline passes Prefect's task map (threads or Dask).
    """
    start = time.perf_counter()
    ctx_obj = context if isinstance(context, RunContext) else RunContext.from_mapping(context)
    out_dir = Path(out_dir)
    fy = ctx_obj.fy

    councils = _ensure(
        tables.councils,
        [
            "la_code",
            "la_name",
            "tier",
            "region_name",
            "nation",
            "county_name",
            "la_type_name",
            "official_name",
        ],
    )
    awards = _this_year(
        schemas.conform_awards(tables.awards) if tables.awards is not None else schemas.empty_awards(), fy
    )
    summary = _this_year(_ensure(tables.place_summary, schemas.PLACE_SUMMARY_COLUMNS), fy)
    small = _this_year(_ensure(tables.small_grants, schemas.SMALL_GRANTS_COLUMNS), fy)
    dup = _this_year(_ensure(tables.duplication, schemas.DUPLICATION_COLUMNS), fy)
    cra = _this_year(_ensure(tables.cra_allocation, schemas.CRA_ALLOCATION_COLUMNS + CRA_EXTRA_COLUMNS), fy)

    slugs = council_slugs(councils, summary)
    if places is None:
        chosen = list(slugs)
    else:
        unknown = [p for p in places if p not in slugs]
        if unknown:
            raise InputError(
                f"Cannot render profile pages for {', '.join(map(str, unknown[:10]))}: these are not GSS "
                f"codes of councils in the council table ({len(slugs)} councils, e.g. "
                f"{', '.join(list(slugs)[:3])}). Pass current council GSS codes."
            )
        chosen = list(dict.fromkeys(places))

    out_dir.mkdir(parents=True, exist_ok=True)
    _copy_assets(out_dir)
    ctx = asdict(ctx_obj)
    ctx["grants_sources"] = ctx_obj.source_names("grants")
    ctx["cra_sources"] = "; ".join(
        x for x in (ctx_obj.source_names("cra"), ctx_obj.source_names("population")) if x
    )

    info_by_code = {str(r["la_code"]): r for r in councils.to_dict("records")}
    summary_by_code = {str(r["la_code"]): r for r in summary.drop_duplicates("la_code").to_dict("records")}
    awards_by, small_by, dup_by, cra_by = _split(awards), _split(small), _split(dup), _split(cra)
    # Neutralised once for the whole table (vectorised), then sliced per council.
    extract_cols = [c for c in {**schemas.AWARD_DTYPES, **schemas.AWARD_EXTRA_DTYPES} if c in awards.columns]
    csv_frame = neutralise_frame(awards[extract_cols])
    csv_by = _split(csv_frame)
    empty_csv = csv_frame.iloc[0:0]
    empty_awards, empty_small, empty_dup, empty_cra = (
        awards.iloc[0:0],
        small.iloc[0:0],
        dup.iloc[0:0],
        cra.iloc[0:0],
    )
    jobs = [
        _CouncilJob(
            la_code=code,
            slug=slugs[code],
            info=info_by_code.get(code, {"la_name": _str(summary_by_code.get(code, {}).get("la_name"))}),
            summary=summary_by_code.get(code),
            awards=awards_by.get(code, empty_awards),
            awards_csv=csv_by.get(code, empty_csv),
            small=small_by.get(code, empty_small),
            duplication=dup_by.get(code, empty_dup),
            cra=cra_by.get(code, empty_cra),
            ctx=ctx,
            out_dir=str(out_dir),
        )
        for code in chosen
    ]
    profiles: dict[str, Path] = {}
    for code, path in map_councils(render_council, jobs):
        profiles[code] = Path(path)

    rows = _index_rows(councils, summary, small, dup, cra, slugs, set(profiles))
    n_places = int((summary["n_awards"].fillna(0).astype(float) > 0).sum()) if len(summary) else 0
    totals = {
        "n_awards": float(pd.to_numeric(summary["n_awards"], errors="coerce").sum()) if len(summary) else 0,
        "total_gbp": float(pd.to_numeric(summary["total_gbp"], errors="coerce").sum()) if len(summary) else 0,
        "n_places": n_places,
    }
    pilots = [{"la_code": c, "la_name": r["la_name"]} for c in PFPP_CODES for r in rows if r["la_code"] == c]
    index_path = out_dir / "index.html"
    index_path.write_text(
        pages.render_index(
            ctx,
            rows=rows,
            totals=totals,
            pilots=pilots,
            regions=sorted({r["region"] for r in rows if r["region"]}),
            tiers=sorted({r["tier"] for r in rows if r["tier"]}),
            chart_data=_chart_data(rows, small, ctx_obj.small_threshold_gbp),
            national=_national_rows(tables.national_overlaps, fy),
            assumptions=_assumptions(ctx),
        ),
        encoding="utf-8",
    )
    n_files, size = _folder_size(out_dir)
    return SiteResult(out_dir, index_path, profiles, slugs, time.perf_counter() - start, n_files, size)
