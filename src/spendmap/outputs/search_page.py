"""search.html and the award data it searches: every award of the run year, findable from `file://`.

The data travels as JavaScript files that call `spendmapAwards(chunk)` (a page opened from `file://`
cannot fetch JSON, but it can load a script). A chunk is self-contained and dictionary-encoded (each
department, scheme, recipient, policy area and council written once), so 63,000 awards stay a few MB:
- `councils/<slug>/awards_data.js`: one council's awards, for its page's award table;
- `search/awards.js`: every award, placed or not, for search.html, while the run has at most
  `SINGLE_FILE_MAX` awards; above that search.html loads the council files it needs (a council filter
  loads one) plus `search/unplaced.js`, so no view loads more than it shows.

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
from spendmap.transforms.geography import UNPLACED_REASONS
from spendmap.transforms.page_figures import AMOUNT_BANDS, ZERO_BAND

# Above this many awards in the run year, search.html loads per-council files instead of one file.
SINGLE_FILE_MAX = 150_000
SEARCH_DIR = "search"
PAGE_SIZE = 50  # awards per page of a finder table
COUNCIL_DATA = "awards_data.js"
# Columns of a chunk's rows, in order; *_i are indexes into the chunk's dictionaries.
ROW_COLUMNS = [
    "award_id", "title", "recipient_i", "scheme_i", "department_i", "funder_type_i", "policy_area_i",
    "council_i", "amount_gbp", "fy_i", "award_date", "reason_i",
]
DICTS = ["recipient", "scheme", "department", "funder_type", "policy_area", "council", "fy", "reason"]


def _text(series: pd.Series) -> pd.Series:
    return series.astype("string").str.strip().fillna("")


def chunk(awards: pd.DataFrame, councils: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """One data chunk of `awards`: dictionaries and rows (ROW_COLUMNS).

    councils: la_code -> [name, region, href from the site root ('' if no page), search names].
    """
    out: dict[str, Any] = {"columns": ROW_COLUMNS, "dicts": {}}
    if awards.empty:
        out["dicts"] = {d: [] for d in DICTS}
        out["rows"] = []
        return out
    encoded = {}
    sources = {
        "recipient": _text(awards["recipient_name"]).where(
            ~awards["is_redacted"].astype("boolean").fillna(False).to_numpy(dtype=bool), "(redacted)"
        ),
        "scheme": _text(awards["scheme_title"]).where(_text(awards["scheme_title"]) != "",
                                                       _text(awards["scheme_code"])),
        "department": _text(awards["department"]),
        "funder_type": _text(awards["funder_type"]) if "funder_type" in awards.columns
        else pd.Series("", index=awards.index),
        "policy_area": _text(awards["policy_area"]),
        "council": awards["la_code"].astype("string").fillna(""),
        "fy": _text(awards["fy"]),
        "reason": awards["unplaced_reason"].astype("string").map(UNPLACED_REASONS).fillna("")
        if "unplaced_reason" in awards.columns else pd.Series("", index=awards.index),
    }
    for name, values in sources.items():
        codes, uniques = pd.factorize(values, sort=True)
        encoded[name] = codes.tolist()
        out["dicts"][name] = [str(u) for u in uniques]
    # Council entries carry what the page shows and searches, not just the code.
    out["dicts"]["council"] = [
        [code, *councils.get(code, [code, "", "", []])] if code
        else ["", "Not placed in a council", "", "", []]
        for code in out["dicts"]["council"]
    ]
    amounts = pd.to_numeric(awards["amount_gbp"], errors="coerce").round(2)
    dates = awards["award_date"].astype("string").str.slice(0, 10).fillna("")
    out["rows"] = [
        list(r)
        for r in zip(
            _text(awards["award_id"]).tolist(), _text(awards["title"]).tolist(), encoded["recipient"],
            encoded["scheme"], encoded["department"], encoded["funder_type"], encoded["policy_area"],
            encoded["council"], [None if pd.isna(a) else float(a) for a in amounts], encoded["fy"],
            dates.tolist(), encoded["reason"],
            strict=True,
        )
    ]
    return out


def write_chunk(path: Path, data: Mapping[str, Any]) -> Path:
    """`spendmapAwards(<json>);` — JSON escaped for a script (pages.safe_json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"spendmapAwards({pages.safe_json(data)});\n", encoding="utf-8")
    return path


def bands() -> list[dict[str, Any]]:
    """The amount bands the filter offers (page_figures.AMOUNT_BANDS, then zero or negative)."""
    rows = [{"key": k, "label": label, "low": low, "high": None if high == float("inf") else high}
            for k, label, low, high in AMOUNT_BANDS]
    return rows + [{"key": ZERO_BAND[0], "label": ZERO_BAND[1], "low": None, "high": 0}]


def write_search(
    out_dir: Path,
    ctx: Mapping[str, Any],
    awards: pd.DataFrame,
    councils: Mapping[str, Sequence[Any]],
    slugs: Mapping[str, str],
    single_file_max: int = SINGLE_FILE_MAX,
) -> Path:
    """Write search.html and its data (one file, or per council plus unplaced above single_file_max).

    The per-council files are the council pages' own `awards_data.js` (written by render_council), so
    the split costs no extra bytes.
    """
    out_dir = Path(out_dir)
    single = len(awards) <= single_file_max
    folder = out_dir / SEARCH_DIR
    if single:
        write_chunk(folder / "awards.js", chunk(awards, councils))
        sources = {"all": f"{SEARCH_DIR}/awards.js"}
    else:
        unplaced = awards[awards["la_code"].isna()]
        write_chunk(folder / "unplaced.js", chunk(unplaced, councils))
        placed = set(awards["la_code"].dropna().astype(str))
        sources = {code: f"councils/{slug}/{COUNCIL_DATA}" for code, slug in slugs.items() if code in placed}
        sources[""] = f"{SEARCH_DIR}/unplaced.js"
    council_list = sorted(
        ([code, c[0], c[1]] for code, c in councils.items()), key=lambda c: str(c[1]).lower()
    )
    config = finder_config(ctx, awards, "search", sources, council_list, f"spendmap_awards_{ctx['fy']}.csv")
    config["single"] = single
    path = out_dir / "search.html"
    html = pages.render_search(ctx, config=config, n_awards=len(awards), coverage=coverage(ctx))
    path.write_text(html, encoding="utf-8")
    return path


def council_config(
    ctx: Mapping[str, Any], folder: Path, la_code: str, slug: str, awards: pd.DataFrame, meta: Sequence[Any]
) -> dict[str, Any]:
    """Write a council's `awards_data.js` into its folder and return its page's finder config (the same
    finder, without council or region filter: the page is the council)."""
    write_chunk(Path(folder) / COUNCIL_DATA, chunk(awards, {la_code: meta}))
    sources = {"all": f"councils/{slug}/{COUNCIL_DATA}"}
    return finder_config(ctx, awards, "council", sources, [], f"{slug}_awards_{ctx['fy']}_selection.csv")


def finder_config(
    ctx: Mapping[str, Any], awards: pd.DataFrame, mode: str, sources: Mapping[str, str],
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
        "has_funder_type": "funder_type" in awards.columns,
        "n_awards": len(awards),
        "page_size": PAGE_SIZE,
        "download": download,
    }
