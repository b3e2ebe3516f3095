"""Render the output folder people open: index, council profiles, Sankeys, CSV extracts, workbooks.

Entry points:
- `render_site(out_dir, tables, context, places, map_councils=..., progress=...)` renders everything;
- `prepare_site(...)` returns a `SitePlan`: one `CouncilJob` per council to render plus the index's inputs;
  `council_page.render_council(job)` writes one council's folder and `finish_index(plan, rendered)` writes
  index.html, so a runner can map the councils itself (process pool, Prefect or Dask mapped tasks).

Inputs are the run's tables (`SiteTables`) and facts about the run (`RunContext`); nothing here reads
source files or the network. plotly.js, the stylesheet and the page script are copied once into `assets/`;
every page points there by a relative path, so the folder works from `file://` with no network.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from spendmap import catalog, schemas
from spendmap.errors import InputError
from spendmap.outputs.context import CRA_EXTRA_COLUMNS, RunContext, SiteResult, SiteTables
from spendmap.outputs.council_page import CouncilJob, assumptions, awards_extract, render_council
from spendmap.outputs.index_page import render_index
from spendmap.outputs.safe import unique_slugs
from spendmap.outputs.search_page import (
    SINGLE_FILE_MAX,
    finder_frame,
    write_search_data,
    write_search_page,
)
from spendmap.paths import reference_path
from spendmap.text import is_missing
from spendmap.transforms.duplication import finding_awards, number_findings
from spendmap.transforms.geography import UNPLACED_REASONS
from spendmap.transforms.names import recipient_key
from spendmap.transforms.page_figures import (
    amount_bands,
    as_text,
    council_search_names,
    department_coverage,
    department_scheme_table,
    function_label,
    grants_per_head,
    index_figures,
    rows_by,
)
from spendmap.transforms.profiles import scheme_key

__all__ = [
    "CouncilJob",
    "Progress",
    "RunContext",
    "SitePlan",
    "SiteResult",
    "SiteTables",
    "council_slugs",
    "finish_index",
    "prepare_site",
    "render_council",
    "render_site",
]

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
_EMPTY_FINDING_AWARDS = pd.DataFrame()
# progress(stage, done, total, label): stage is "council" (one call per council written, label = its
# name) or "index"; a runner can drive a rich progress bar with it.
Progress = Callable[[str, int, int, str], None]


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


def council_slugs(councils: pd.DataFrame, extra: pd.DataFrame | None = None) -> dict[str, str]:
    """la_code -> folder slug, stable for a given council list (sorted by GSS code before slugging)."""
    names = councils[["la_code", "la_name"]].dropna(subset=["la_code"])
    if extra is not None and not extra.empty:
        more = extra[["la_code", "la_name"]].dropna(subset=["la_code"])
        names = pd.concat([names, more[~more["la_code"].isin(names["la_code"])]])
    names = names.drop_duplicates("la_code").sort_values("la_code")
    labels = [n if n else c for c, n in zip(names["la_code"], names["la_name"].fillna(""), strict=True)]
    return dict(zip(names["la_code"], unique_slugs(labels), strict=True))


def _rows_of(df: pd.DataFrame, chosen: Sequence[str], places: Sequence[str] | None) -> pd.DataFrame:
    """The rows of the councils being rendered (all rows when every council is)."""
    if places is None or df.empty or "la_code" not in df:
        return df
    return df[df["la_code"].isin(chosen).to_numpy(dtype=bool, na_value=False)]


def _records_by(df: pd.DataFrame, key: str = "la_code", columns: Sequence[str] | None = None,
                ) -> dict[str, list[dict[str, Any]]]:
    """key value -> its rows as records (`to_dict("records")` of its rows, of `columns` when given):
    one conversion of the whole table rather than one per council."""
    out: dict[str, list[dict[str, Any]]] = {}
    if df.empty:
        return out
    keys = df[key].tolist()
    records = (df if columns is None else df[list(columns)]).to_dict("records")
    for k, record in zip(keys, records, strict=True):
        if not is_missing(k):
            out.setdefault(str(k), []).append(record)
    return out


@dataclass
class SitePlan:
    """What render_site would do: the council jobs, and everything the index needs afterwards."""

    out_dir: Path
    ctx: dict[str, Any]
    jobs: list[CouncilJob]
    figures: pd.DataFrame  # page_figures.index_figures
    small: pd.DataFrame
    national: pd.DataFrame | None
    slugs: dict[str, str]
    finder: pd.DataFrame | None = None  # search_page.finder_frame of the year's awards, placed or not
    finder_meta: dict[str, list[Any]] | None = None  # la_code -> search_page council entry
    search_names: dict[str, list[str]] | None = None
    national_bands: pd.DataFrame | None = None  # amount_bands of every award of the year


def prepare_site(
    out_dir: Path,
    tables: SiteTables,
    context: RunContext | dict[str, Any],
    places: Sequence[str] | None = None,
) -> SitePlan:
    """Split the run's tables per council and copy assets/; raises InputError for unknown places."""
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
            "region_code",
            "nation",
            "county_name",
            "la_type_name",
            "official_name",
        ],
    )
    all_awards = (
        schemas.conform_awards(tables.awards) if tables.awards is not None else schemas.empty_awards()
    )
    awards = _this_year(all_awards, fy)
    # The whole register's awards of the year for the index's figures (a --places run read only the
    # rendered councils' full rows into `awards`).
    register = _this_year(tables.register, fy) if tables.register is not None else awards
    all_summary = _ensure(tables.place_summary, schemas.PLACE_SUMMARY_COLUMNS)
    summary = _this_year(all_summary, fy)
    small = _this_year(_ensure(tables.small_grants, schemas.SMALL_GRANTS_COLUMNS), fy)
    dup = number_findings(_this_year(_ensure(tables.duplication, schemas.DUPLICATION_COLUMNS), fy))
    cra = _this_year(_ensure(tables.cra_allocation, schemas.CRA_ALLOCATION_COLUMNS + CRA_EXTRA_COLUMNS), fy)
    if len(cra):  # CRA functions without the source numbering, everywhere they are shown
        cra = cra.assign(function=cra["function"].map(function_label))

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
    if not ctx.get("department_coverage"):  # per department: read, placed, main reason for the rest
        ctx["department_coverage"] = department_coverage(register, UNPLACED_REASONS)
    ctx["grants_sources"] = ctx_obj.source_names("grants")
    ctx["cra_sources"] = "; ".join(
        x for x in (ctx_obj.source_names("cra"), ctx_obj.source_names("population")) if x
    )
    per_head = grants_per_head(summary, councils, cra, fy)
    figures = index_figures(councils, summary, small, dup, per_head, fy)

    info_by_code = {str(r["la_code"]): r for r in councils.to_dict("records")}
    summary_by_code = {str(r["la_code"]): r for r in summary.drop_duplicates("la_code").to_dict("records")}
    per_head_by = {str(r["la_code"]): r for r in per_head.to_dict("records")}
    trend_cols = ["fy", "n_awards", "n_recipients", "total_gbp", "share_small"]
    trends = (_records_by(all_summary.sort_values("fy"), columns=trend_cols) if len(ctx_obj.years) > 1
              else {})
    # Only the rendered councils' rows are split (13 pilot pages need not touch a million awards);
    # every figure is per council, so slicing first changes none of them.
    page_awards, page_dup = _rows_of(awards, chosen, places), _rows_of(dup, chosen, places)
    # Recipient and scheme keys once for every rendered award (each page's Sankey, recipient types and
    # scheme table use them), not once per page.
    page_awards = page_awards.assign(recipient_key=recipient_key(page_awards),
                                     scheme_key=scheme_key(page_awards))
    awards_by, small_by, dup_by, cra_by = (rows_by(page_awards), rows_by(_rows_of(small, chosen, places)),
                                           rows_by(page_dup), rows_by(_rows_of(cra, chosen, places)))
    # Whole-table aggregations once (vectorised), then sliced per council.
    schemes_by = _records_by(department_scheme_table(page_awards))
    dup_awards_by = rows_by(finding_awards(page_awards, page_dup))
    # issue 18: the priority tables, sliced per council like the others.
    priorities_by = {n: rows_by(_rows_of(df, chosen, places)) for n, df in (tables.priorities or {}).items()}
    bands_by = _records_by(amount_bands(page_awards)) if len(page_awards) else {}
    # The award finder's text, once for every award of the year; each council's page takes its slice.
    finder = finder_frame(register)
    finder_by = rows_by(_rows_of(finder, chosen, places))
    search_names = council_search_names()
    finder_meta = {
        code: [
            as_text(info_by_code.get(code, {}).get("la_name")) or code,
            as_text(info_by_code.get(code, {}).get("region_name"))
            or as_text(info_by_code.get(code, {}).get("nation")),
            f"councils/{slug}/index.html",
            search_names.get(code, []),
        ]
        for code, slug in slugs.items()
    }
    # The CSV extract is formula-neutralised once for the whole table (vectorised); only the columns
    # that changed travel with each job (a copy of every extract column would double what is sent to
    # each worker process), and council_page.awards_extract puts them back over the council's awards.
    extract = awards_extract(page_awards)
    changed = [c for c in extract.columns if not extract[c].equals(page_awards[c])]
    text_by = rows_by(extract[changed], key=page_awards["la_code"])
    no_text = extract[changed].iloc[0:0]
    # A council with no rows gets an empty frame of the table's columns, made once (not per council).
    no_awards, no_small, no_dup, no_cra, no_finder, no_priorities = (
        awards.iloc[0:0], small.iloc[0:0], dup.iloc[0:0], cra.iloc[0:0],
        finder.iloc[0:0], pd.DataFrame())
    jobs = [
        CouncilJob(
            la_code=code,
            slug=slugs[code],
            info=info_by_code.get(code, {"la_name": as_text(summary_by_code.get(code, {}).get("la_name"))}),
            summary=summary_by_code.get(code),
            awards=awards_by.get(code, no_awards),
            awards_csv=None,  # made from awards and neutralised_text where the council is rendered
            neutralised_text=text_by.get(code, no_text),
            small=small_by.get(code, no_small),
            duplication=dup_by.get(code, no_dup),
            cra=cra_by.get(code, no_cra),
            ctx=ctx,
            out_dir=str(out_dir),
            per_head=per_head_by.get(code, {}),
            trend=trends.get(code, []),
            scheme_rows=schemes_by.get(code, []),
            finding_awards=dup_awards_by.get(code, _EMPTY_FINDING_AWARDS),
            priority_tables={n: t.get(code, no_priorities) for n, t in priorities_by.items()},
            bands=bands_by.get(code, []),
            finder_meta=finder_meta[code],
            finder=finder_by.get(code, no_finder),
        )
        for code in chosen
    ]
    return SitePlan(
        out_dir, ctx, jobs, figures, small, tables.national_overlaps, slugs, finder, finder_meta,
        search_names, amount_bands(register, by=None) if len(register) else None,
    )


def _downloads(out_dir: Path) -> list[dict[str, str]]:
    """The index's download links (catalog.INDEX_DOWNLOADS). Only files already written: a page never
    links a file that is not there (run_manifest.json is written after the pages and is described in the
    README instead)."""
    return [{"href": d.path, "name": d.path, "text": d.link} for d in catalog.INDEX_DOWNLOADS
            if d.at(out_dir).exists()]


def _search_meta(plan: SitePlan, rendered: set[str]) -> dict[str, list[Any]]:
    """The finder's council entries: a council without a rendered page links to none (its search data
    goes in search/councils/)."""
    return {c: m if c in rendered else [*m[:2], "", *m[3:]] for c, m in (plan.finder_meta or {}).items()}


def _finder(plan: SitePlan) -> pd.DataFrame:
    return plan.finder if plan.finder is not None else finder_frame(schemas.empty_awards())


def write_search_files(plan: SitePlan, rendered: set[str]) -> dict[str, str]:
    """search.html's data files for a site whose pages are those of `rendered`; returns its sources."""
    return write_search_data(plan.out_dir, _finder(plan), _search_meta(plan, rendered),
                             {c: s for c, s in plan.slugs.items() if c in rendered},
                             single_file_max=SINGLE_FILE_MAX, all_slugs=plan.slugs)


def finish_index(plan: SitePlan, rendered: set[str], search_sources: dict[str, str] | None = None) -> Path:
    """Write search.html and index.html, linking the councils in `rendered` (la_codes whose folder was
    written); search.html's data files too, unless `search_sources` says they are written already."""
    if search_sources is None:
        search_sources = write_search_files(plan, rendered)
    write_search_page(plan.out_dir, plan.ctx, _finder(plan), _search_meta(plan, rendered), search_sources)
    return render_index(
        plan.out_dir,
        plan.ctx,
        plan.figures,
        plan.small,
        plan.national,
        plan.slugs,
        rendered,
        assumptions(plan.ctx),
        search_names=plan.search_names,
        national_bands=plan.national_bands,
        downloads=_downloads(plan.out_dir),
    )


def render_site(
    out_dir: Path,
    tables: SiteTables,
    context: RunContext | dict[str, Any],
    places: Sequence[str] | None = None,
    map_councils: Callable[[Callable[[Any], Any], list[Any]], Iterable[Any]] = map,
    progress: Progress | None = None,
) -> SiteResult:
    """Write index.html, assets/ and councils/<slug>/... for `places` (la_codes; None = every council).

    index.html lists every council (councils table ∪ place_summary) and links only to rendered profiles.
    `map_councils(render_council, jobs)` renders one council per job and yields (la_code, page path):
    the builtin `map`, the in-process runner's worker pool, or Prefect's mapped task (threads or Dask).
    `progress` is called once per council written and once for the index.
    """
    start = time.perf_counter()
    plan = prepare_site(out_dir, tables, context, places)
    jobs = plan.jobs
    names = {j.la_code: as_text(j.info.get("la_name")) or j.la_code for j in jobs}
    profiles: dict[str, Path] = {}

    # search.html's data files need only which councils get pages: they are written on a thread while
    # the pages render (in worker processes or on the task runner), started once the first page is back,
    # so that no worker is forked while the thread holds a lock.
    chosen = {j.la_code for j in jobs}
    with ThreadPoolExecutor(1, thread_name_prefix="search-data") as side:
        search = None
        for code, path in map_councils(render_council, jobs):
            if search is None:
                search = side.submit(write_search_files, plan, chosen)
            profiles[code] = Path(path)
            if progress:
                progress("council", len(profiles), len(jobs), names[code])
        sources = (search or side.submit(write_search_files, plan, chosen)).result()
    if set(profiles) != chosen:  # every job returns its council or raises: a runner lost a page
        raise RuntimeError(f"pages rendered for {sorted(set(profiles))}, expected {sorted(chosen)}")
    index_path = finish_index(plan, set(profiles), sources)
    if progress:
        progress("index", 1, 1, "index.html")
    n_files, size = _folder_size(plan.out_dir)
    return SiteResult(
        plan.out_dir, index_path, profiles, plan.slugs, time.perf_counter() - start, n_files, size
    )


def _copy_assets(out_dir: Path) -> None:
    import plotly

    assets = out_dir / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    target = assets / "plotly.min.js"
    if not target.exists() or target.stat().st_size != plotly_js.stat().st_size:
        shutil.copyfile(plotly_js, target)
    for name in ("style.css", "spendmap.js", "search.js"):
        shutil.copyfile(ASSETS_DIR / name, assets / name)
    # The hex layout's MIT licence travels with the pages that draw it.
    licence = reference_path("hexmaps", "LICENSE-MIT-OpenInnovations.txt")
    shutil.copyfile(licence, assets / "hexmap-LICENSE.txt")


def _folder_size(path: Path) -> tuple[int, int]:
    n, total = 0, 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            n += 1
            total += (Path(root) / f).stat().st_size
    return n, total
