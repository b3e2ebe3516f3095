"""search.html and the award data it searches: every award of the run year, findable from `file://`.

The data travels as JavaScript files that call `spendmapAwards(chunk)` (a page opened from `file://`
cannot fetch JSON, but it can load a script). A chunk is self-contained and dictionary-encoded (each
department, scheme, recipient, policy area and council written once), so 63,000 awards stay a few MB:
- `councils/<slug>/awards_data.js`: one council's awards, for its page's award table;
- `search/awards.js`: every award, placed or not, for search.html, while the run has at most
  `SINGLE_FILE_MAX` awards; above that search.html loads the council files it needs (a council filter
  loads one) plus `search/unplaced.js`, so no view loads more than it shows. A council without a page (a
  `--places` run) has its file in `search/councils/<slug>.js`.

Text search is an exact, case-insensitive match of every word typed against the award's title, recipient,
scheme and council, former council names included (assets/search.js). A library (lunr, MiniSearch) was
not used: they rank fuzzy matches, while a reader checking figures needs exactly the awards that contain
the words, and a linear scan of 63,000 short strings takes milliseconds (benchmarks/bench_search.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from spendmap.outputs import pages
from spendmap.outputs.context import coverage
from spendmap.outputs.safe import slugify
from spendmap.transforms.geography import UNPLACED_REASONS
from spendmap.transforms.page_figures import AMOUNT_BANDS, ZERO_BAND, rows_by

# Above this many awards in the run year, search.html loads per-council files instead of one file.
SINGLE_FILE_MAX = 150_000
SEARCH_DIR = "search"
PAGE_SIZE = 50  # awards per page of a finder table
COUNCIL_DATA = "awards_data.js"
SEARCH_COUNCILS = "councils"  # search/councils/<slug>.js: a council without a page, above SINGLE_FILE_MAX
# Columns of a chunk's rows, in order; *_i are indexes into the chunk's dictionaries.
ROW_COLUMNS = [
    "award_id", "title", "recipient_i", "scheme_i", "department_i", "funder_type_i", "policy_area_i",
    "council_i", "amount_gbp", "fy_i", "award_date", "reason_i",
]
DICTS = ["recipient", "scheme", "department", "funder_type", "policy_area", "council", "fy", "reason"]


# The finder frame's text columns, encoded as dictionaries in a chunk (FINDER_COLUMNS order).
FINDER_COLUMNS = [
    "award_id", "title", "recipient", "scheme", "department", "funder_type", "policy_area", "la_code",
    "amount_gbp", "fy", "award_date", "reason",
]
_DICT_OF = {"recipient": "recipient", "scheme": "scheme", "department": "department",
            "funder_type": "funder_type", "policy_area": "policy_area", "la_code": "council", "fy": "fy",
            "reason": "reason"}


def _text(series: pd.Series) -> pd.Series:
    return series.astype("string").str.strip().fillna("")


def _has_funder_types(awards: pd.DataFrame) -> bool:
    return "funder_type" in awards.columns and bool(awards["funder_type"].notna().any())


def finder_frame(awards: pd.DataFrame) -> pd.DataFrame:
    """What the finder shows of each award, as plain text and floats (FINDER_COLUMNS), computed once for
    every award (vectorised) so that a council's chunk is a slice of it. The `funder_type` column only
    when the awards carry it (the finder then offers its filter)."""
    index = awards.index
    blank = pd.Series("", index=index, dtype="object")
    redacted = awards["is_redacted"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    scheme = _text(awards["scheme_title"])
    amounts = pd.to_numeric(awards["amount_gbp"], errors="coerce").round(2)
    frame = pd.DataFrame(
        {
            "award_id": _text(awards["award_id"]),
            "title": _text(awards["title"]),
            "recipient": _text(awards["recipient_name"]).where(~redacted, "(redacted)"),
            "scheme": scheme.where(scheme != "", _text(awards["scheme_code"])),
            "department": _text(awards["department"]),
            **({"funder_type": _text(awards["funder_type"])} if _has_funder_types(awards) else {}),
            "policy_area": _text(awards["policy_area"]),
            "la_code": awards["la_code"].astype("string").fillna(""),
            "amount_gbp": amounts.astype("object").where(amounts.notna(), None),
            "fy": _text(awards["fy"]),
            "award_date": awards["award_date"].astype("string").str.slice(0, 10).fillna(""),
            "reason": awards["unplaced_reason"].astype("string").map(UNPLACED_REASONS).fillna("")
            if "unplaced_reason" in awards.columns else blank,
        },
        index=index,
    )
    # Text stays Arrow strings (a chunk's tolist() makes Python strings in C; converting every column
    # to objects first cost 1.4 s at a million awards); the amounts are already objects (None for none).
    return frame


def chunk(finder: pd.DataFrame, councils: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """One data chunk of a finder_frame: dictionaries and rows (ROW_COLUMNS; a row is a tuple, which
    JSON writes as an array). Plain Python for most chunks, one council's few hundred awards, where
    pandas' per-call cost would dominate; pandas' factorize for a large one (every award, or the
    unplaced ones at a million awards).

    councils: la_code -> [name, region, href from the site root ('' if no page), search names].
    """
    n = len(finder)
    columns = [finder[c].tolist() if c in finder.columns else [""] * n for c in FINDER_COLUMNS]
    dicts: dict[str, list[Any]] = {}
    for i, col in enumerate(FINDER_COLUMNS):
        if col in _DICT_OF:
            columns[i], dicts[_DICT_OF[col]] = _dictionary(columns[i])
    # Council entries carry what the page shows and searches, not just the code.
    dicts["council"] = [
        [code, *councils.get(code, [code, "", "", []])] if code
        else ["", "Not placed in a council", "", "", []]
        for code in dicts.get("council", [])
    ]
    return {"columns": ROW_COLUMNS, "dicts": {d: dicts.get(d, []) for d in DICTS},
            "rows": list(zip(*columns, strict=True))}


_FACTORIZE_FROM = 5_000  # values; below this a dict is faster than pandas' fixed cost


def _dictionary(values: list[str]) -> tuple[list[int], list[str]]:
    """(each value's index into the sorted distinct values, those values): a chunk's text column
    dictionary-encoded. The values are text ('' for missing), so both ways sort alike."""
    if len(values) < _FACTORIZE_FROM:
        distinct = sorted(set(values))
        position = {v: k for k, v in enumerate(distinct)}
        return [position[v] for v in values], distinct
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), sort=True)
    return codes.tolist(), uniques.tolist()


def write_chunk(path: Path, data: Mapping[str, Any]) -> Path:
    """`spendmapAwards(<json>);` — JSON escaped for a script (pages.script_json: the chunk holds only
    text, ints, floats and None already)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"spendmapAwards({pages.script_json(data)});\n", encoding="utf-8")
    return path


def bands() -> list[dict[str, Any]]:
    """The amount bands the filter offers (page_figures.AMOUNT_BANDS, then zero or negative)."""
    rows = [{"key": k, "label": label, "low": low, "high": None if high == float("inf") else high}
            for k, label, low, high in AMOUNT_BANDS]
    return rows + [{"key": ZERO_BAND[0], "label": ZERO_BAND[1], "low": None, "high": 0}]


def write_search(
    out_dir: Path,
    ctx: Mapping[str, Any],
    finder: pd.DataFrame,
    councils: Mapping[str, Sequence[Any]],
    slugs: Mapping[str, str],
    single_file_max: int = SINGLE_FILE_MAX,
    all_slugs: Mapping[str, str] | None = None,
) -> Path:
    """Write search.html and its data (one file, or per council plus unplaced above single_file_max).
    `finder` is finder_frame of the year's awards, placed or not; `slugs` the councils whose pages
    were written, `all_slugs` every council's folder name."""
    sources = write_search_data(out_dir, finder, councils, slugs, single_file_max, all_slugs)
    return write_search_page(out_dir, ctx, finder, councils, sources)


def write_search_data(
    out_dir: Path,
    finder: pd.DataFrame,
    councils: Mapping[str, Sequence[Any]],
    slugs: Mapping[str, str],
    single_file_max: int = SINGLE_FILE_MAX,
    all_slugs: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The data files search.html loads that no council page writes; returns its `sources` (data file
    by council code, or "all" for the single file). Needs only which councils get pages, not the pages,
    so render_site writes them while the pages are rendered.

    The per-council files are the council pages' own `awards_data.js` (written by render_council), so
    the split costs no extra bytes; a council without a page (a --places run) gets its file in
    `search/councils/`, so that every award can still be found and a council filter loads one file.
    """
    folder = Path(out_dir) / SEARCH_DIR
    if len(finder) <= single_file_max:
        write_chunk(folder / "awards.js", chunk(finder, councils))
        return {"all": f"{SEARCH_DIR}/awards.js"}
    codes = finder["la_code"]
    write_chunk(folder / "unplaced.js", chunk(finder[(codes == "").to_numpy(dtype=bool)], councils))
    placed = set(codes.unique()) - {""}
    sources = {code: f"councils/{slug}/{COUNCIL_DATA}" for code, slug in slugs.items() if code in placed}
    without_page = finder[codes.isin(placed - set(slugs)).to_numpy(dtype=bool)]
    for code, rows in sorted(rows_by(without_page).items()):
        name = (all_slugs or {}).get(code) or slugify(str(code))
        write_chunk(folder / SEARCH_COUNCILS / f"{name}.js", chunk(rows, councils))
        sources[code] = f"{SEARCH_DIR}/{SEARCH_COUNCILS}/{name}.js"
    sources[""] = f"{SEARCH_DIR}/unplaced.js"
    return sources


def write_search_page(
    out_dir: Path,
    ctx: Mapping[str, Any],
    finder: pd.DataFrame,
    councils: Mapping[str, Sequence[Any]],
    sources: Mapping[str, str],
) -> Path:
    """search.html, loading the data files `sources` names (write_search_data)."""
    council_list = sorted(
        ([code, c[0], c[1]] for code, c in councils.items()), key=lambda c: str(c[1]).lower()
    )
    config = finder_config(ctx, finder, "search", sources, council_list, f"spendmap_awards_{ctx['fy']}.csv")
    config["single"] = "all" in sources
    path = Path(out_dir) / "search.html"
    html = pages.render_search(ctx, config=config, n_awards=len(finder), coverage=coverage(ctx))
    path.write_text(html, encoding="utf-8")
    return path


def council_config(
    ctx: Mapping[str, Any], folder: Path, la_code: str, slug: str, finder: pd.DataFrame, meta: Sequence[Any]
) -> dict[str, Any]:
    """Write a council's `awards_data.js` (from its rows of finder_frame) into its folder and return its
    page's finder config (the same finder, without council or region filter: the page is the council)."""
    write_chunk(Path(folder) / COUNCIL_DATA, chunk(finder, {la_code: meta}))
    sources = {"all": f"councils/{slug}/{COUNCIL_DATA}"}
    return finder_config(ctx, finder, "council", sources, [], f"{slug}_awards_{ctx['fy']}_selection.csv")


def finder_config(
    ctx: Mapping[str, Any], finder: pd.DataFrame, mode: str, sources: Mapping[str, str],
    councils: list[list[Any]], download: str,
) -> dict[str, Any]:
    """What assets/search.js needs: data files (by council code, or "all"), filter lists, CSV name."""
    return {
        "mode": mode,
        "single": True,
        "sources": dict(sources),
        "councils": councils,
        "bands": bands(),
        "threshold": ctx["small_threshold_gbp"],
        "fy": ctx["fy"],
        "has_funder_type": "funder_type" in finder.columns,
        "n_awards": len(finder),
        "page_size": PAGE_SIZE,
        "download": download,
    }
