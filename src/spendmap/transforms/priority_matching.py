"""Lines of money in a place matched to that place's priority outcomes; totals, gaps and overlaps.

A line (an award placed in the council, or a line of --local spend for it) matches a priority when any
of the priority's rules holds, all of which are recorded:
- `explicit_id`: a local-spend line names the priority's id;
- `scheme`: the award's scheme code is one of the priority's `schemes`;
- `policy_area`: the award's policy area is one of the priority's `policy_areas`;
- `keyword`: one of the priority's `keywords` appears, as whole words and in any case, in the line's
  title, description or scheme title.
A line may match several priorities of its place: it is counted in full in each, so one priority's
total is what was matched to it, and totals of different priorities are not added together
(`n_priorities_matched` on each match says how many priorities share the line).

Awards "in a place" are those placed in the council (la_code), and for a county council also those
placed in its districts (county_code). CRA spend allocated to the council for the priority's
`cra_functions` is context (`source` cra_allocated), never added to the grants.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from spendmap.schemas import PRIORITY_FUNDING_COLUMNS, PRIORITY_MATCH_COLUMNS, PRIORITY_OVERLAP_COLUMNS
from spendmap.sources.priorities import Priority

# priority_funding.csv `source`, by funder type (transforms.funder_types.FUNDER_TYPES). Funders whose
# type is unknown (`other`) are counted with other public grants and keep funder_type `other` in
# priority_matches.csv, so they can be told apart (docs/assumptions.md).
SOURCE_BY_FUNDER_TYPE = {
    "central_government": "central_government_grants",
    "arms_length_body": "other_public_grants",
    "lottery_distributor": "other_public_grants",
    "local_government": "other_public_grants",
    "other": "other_public_grants",
    "charitable_funder": "charitable_grants",
}
GRANT_SOURCES = ("central_government_grants", "other_public_grants", "charitable_grants")
SOURCES = (*GRANT_SOURCES, "local_spend", "cra_allocated")
SOURCE_LABELS = {
    "central_government_grants": "central-government grants",
    "other_public_grants": "other public grants",
    "charitable_grants": "charitable grants",
    "local_spend": "local spend",
    "cra_allocated": "CRA spend allocated by population (context)",
}
RULES = ("explicit_id", "scheme", "policy_area", "keyword")
KEYWORD_FIELDS = ("title", "description", "scheme_title")

# A priority whose matched grants are below this share of the place's grants is "little funded".
LITTLE_SHARE = 0.01


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column in frame.columns:
        return frame[column].astype("string")
    return pd.Series(pd.NA, index=frame.index, dtype="string")


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """A keyword or phrase as whole words, any case, any run of spaces between its words."""
    words = [re.escape(w) for w in keyword.split()]
    return re.compile(r"(?<![0-9A-Za-z])" + r"\s+".join(words) + r"(?![0-9A-Za-z])", re.IGNORECASE)


def in_place(lines: pd.DataFrame, la_code: str) -> pd.Series:
    """Lines placed in the council, or (a county council) in one of its districts."""
    return in_places(lines, [la_code])


def in_places(lines: pd.DataFrame, la_codes: Sequence[str]) -> pd.Series:
    """Lines placed in any of the councils, or in one of their districts."""
    here = _text(lines, "la_code").isin(la_codes) | _text(lines, "county_code").isin(la_codes)
    return here.fillna(False).astype(bool)


# The award columns matching reads (_line_table): a step need not load the others.
AWARD_FIELDS = ("award_id", "fy", "la_code", "county_code", "funder_type", "funder_name", "department_raw",
                "department", "scheme_code", "scheme_title", "title", "description", "recipient_name",
                "policy_area", "amount_gbp", "source_file", "source_sheet", "source_row")


def _line_table(awards: pd.DataFrame, local: pd.DataFrame | None) -> pd.DataFrame:
    """Awards and local-spend lines in one shape for matching."""
    a = pd.DataFrame({
        "fy": _text(awards, "fy"), "la_code": _text(awards, "la_code"),
        "county_code": _text(awards, "county_code"), "line_kind": "award",
        "line_id": _text(awards, "award_id"),
        "source": _text(awards, "funder_type").map(SOURCE_BY_FUNDER_TYPE).fillna("other_public_grants"),
        "funder_type": _text(awards, "funder_type").fillna("other"),
        "funder_name": _text(awards, "funder_name").fillna(_text(awards, "department_raw")),
        "department": _text(awards, "department"),
        "scheme_code": _text(awards, "scheme_code"), "scheme_title": _text(awards, "scheme_title"),
        "title": _text(awards, "title"), "description": _text(awards, "description"),
        "recipient_name": _text(awards, "recipient_name"), "policy_area": _text(awards, "policy_area"),
        "priority_ref": pd.Series(pd.NA, index=awards.index, dtype="string"),
        "amount_gbp": awards["amount_gbp"].astype("float64") if "amount_gbp" in awards else np.nan,
        "source_file": _text(awards, "source_file"), "source_sheet": _text(awards, "source_sheet"),
        "source_row": awards["source_row"].astype("Int64") if "source_row" in awards else pd.NA,
    })
    if local is None or local.empty:
        return a.reset_index(drop=True)
    return pd.concat([a, local_lines(local)], ignore_index=True)


def local_lines(local: pd.DataFrame) -> pd.DataFrame:
    """sources.local_spend lines in the matching shape (source local_spend)."""
    return pd.DataFrame({
        "fy": _text(local, "fy"), "la_code": _text(local, "la_code"),
        "county_code": pd.Series(pd.NA, index=local.index, dtype="string"), "line_kind": "local_spend",
        "line_id": _text(local, "source_file") + " row " + local["source_row"].astype("string"),
        "source": "local_spend", "funder_type": "local_government",
        "funder_name": _text(local, "source_organisation").fillna(_text(local, "la_name")),
        "department": pd.Series(pd.NA, index=local.index, dtype="string"),
        "scheme_code": pd.Series(pd.NA, index=local.index, dtype="string"),
        "scheme_title": _text(local, "spend_area"), "title": _text(local, "description"),
        "description": pd.Series(pd.NA, index=local.index, dtype="string"),
        "recipient_name": pd.Series(pd.NA, index=local.index, dtype="string"),
        "policy_area": pd.Series(pd.NA, index=local.index, dtype="string"),
        "priority_ref": _text(local, "priority_id"),
        "amount_gbp": local["amount_gbp"].astype("float64"),
        "source_file": _text(local, "source_file"), "source_sheet": _text(local, "source_sheet"),
        "source_row": local["source_row"].astype("Int64"),
    })


def _match_one(lines: pd.DataFrame, p: Priority) -> pd.DataFrame:
    """The lines of p's place matching p, with every rule that matched and what it matched on."""
    here = lines[in_place(lines, p.la_code)]
    if here.empty:
        return here.assign(rules=pd.Series(dtype="string"), matched_on=pd.Series(dtype="string"))
    rules = pd.DataFrame(index=here.index, columns=list(RULES), dtype="string")
    ref = here["priority_ref"].str.strip()
    rules.loc[(ref == p.id).fillna(False), "explicit_id"] = f"priority_id '{p.id}'"
    if p.schemes:
        wanted = {s.strip().upper() for s in p.schemes}
        code = here["scheme_code"].str.strip().str.upper()
        hit = code.isin(wanted).fillna(False)
        rules.loc[hit, "scheme"] = "scheme " + code[hit]
    if p.policy_areas:
        hit = here["policy_area"].isin(p.policy_areas).fillna(False)
        rules.loc[hit, "policy_area"] = "policy area '" + here.loc[hit, "policy_area"] + "'"
    found: list[pd.Series] = []
    for kw in p.keywords:
        pattern = keyword_pattern(kw)
        for field in KEYWORD_FIELDS:
            hit = here[field].str.contains(pattern, na=False).astype(bool)
            if hit.any():
                found.append(pd.Series(f"keyword '{kw}' in {field}", index=here.index[hit.to_numpy()]))
    if found:
        # The first keyword hit of each line is enough to say why; all of them would crowd the CSV.
        first = pd.concat(found)
        first = first[~first.index.duplicated()]
        rules.loc[first.index, "keyword"] = first
    matched = rules.notna().any(axis=1)
    if not matched.any():
        return here.iloc[0:0].assign(rules=pd.Series(dtype="string"), matched_on=pd.Series(dtype="string"))
    r = rules[matched]
    names = r.notna().apply(lambda row: "; ".join(c for c in RULES if row[c]), axis=1)
    detail = r.apply(lambda row: "; ".join(v for v in row if isinstance(v, str)), axis=1)
    return here[matched].assign(rules=names.astype("string"), matched_on=detail.astype("string"))


def match_priorities(awards: pd.DataFrame, priorities: Sequence[Priority],
                     local: pd.DataFrame | None = None) -> pd.DataFrame:
    """priority_matches: one row per (line, priority) matched, PRIORITY_MATCH_COLUMNS."""
    # Only awards in the priorities' places (or their districts) can match: a million-award register's
    # other rows never become lines (the same rows match, in the same order).
    places = [p.la_code for p in priorities]
    lines = _line_table(awards[in_places(awards, places)], local)
    parts = []
    for p in priorities:
        m = _match_one(lines, p)
        if len(m):
            parts.append(m.assign(la_code=p.la_code, la_name=p.la_name, priority_id=p.id,
                                  priority_title=p.title, _line=m.index))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in PRIORITY_MATCH_COLUMNS}).astype(
            {"amount_gbp": "float64", "n_priorities_matched": "Int64", "source_row": "Int64"})
    out = pd.concat(parts, ignore_index=True)
    out["n_priorities_matched"] = out.groupby("_line")["priority_id"].transform("size").astype("Int64")
    out = out.sort_values(["la_code", "priority_id", "fy", "amount_gbp"], ascending=[True, True, True, False],
                          kind="stable")
    return out[PRIORITY_MATCH_COLUMNS].reset_index(drop=True)


def priority_table(priorities: Sequence[Priority]) -> pd.DataFrame:
    """The priorities as a table (lists '; '-joined), for the pages, the workbook and DuckDB."""
    rows = [{"la_code": p.la_code, "la_name": p.la_name, "priority_id": p.id, "priority_title": p.title,
             "description": p.description, "policy_areas": "; ".join(p.policy_areas),
             "keywords": "; ".join(p.keywords), "schemes": "; ".join(p.schemes),
             "cra_functions": "; ".join(p.cra_functions)} for p in priorities]
    cols = ["la_code", "la_name", "priority_id", "priority_title", "description", "policy_areas", "keywords",
            "schemes", "cra_functions"]
    return pd.DataFrame(rows, columns=cols).astype("string")


def normalise_function(name: str) -> str:
    """'4. of which: employment policies' and 'Employment policies' alike."""
    text = re.sub(r"^\s*\d+\.\s*", "", str(name)).strip().lower()
    return re.sub(r"^of which:\s*", "", text)


def check_cra_functions(priorities: Iterable[Priority], functions: Iterable[str], source: str) -> None:
    """An InputError listing the CRA's functions when a priority names one the CRA does not have."""
    from spendmap.errors import InputError

    known = {normalise_function(f): f for f in functions}
    if not known:
        return  # no CRA allocated for the run (its edition does not cover the years): nothing to check
    for p in priorities:
        bad = [f for f in p.cra_functions if normalise_function(f) not in known]
        if bad:
            raise InputError(
                f"The priorities file {source}: priority '{p.id}' of {p.la_name} names CRA function(s) "
                f"{bad} that the CRA edition does not have; its functions are: "
                f"{'; '.join(sorted(known.values()))} (the number and 'of which:' may be left out)."
            )


def priority_funding(matches: pd.DataFrame, priorities: Sequence[Priority], fys: Sequence[str],
                     cra_allocation: pd.DataFrame | None = None, local_given: bool = False) -> pd.DataFrame:
    """priority_funding: per year, place, priority and source, n_items and £ (PRIORITY_FUNDING_COLUMNS).

    Every priority gets a row for each grant source in every year, zero when nothing matched (a gap is
    a figure, not a missing row); `local_spend` rows when --local was given; `cra_allocated` rows when
    the priority names CRA functions and the CRA covers the year.
    """
    sums = matches.groupby(["fy", "la_code", "priority_id", "source"])["amount_gbp"].agg(["size", "sum"])
    cra = None
    if cra_allocation is not None and len(cra_allocation):
        cra = cra_allocation.assign(_f=cra_allocation["function"].map(normalise_function))
    rows = []
    for fy in fys:
        for p in priorities:
            sources = list(GRANT_SOURCES) + (["local_spend"] if local_given else [])
            for s in sources:
                key = (fy, p.la_code, p.id, s)
                n, amount = (int(sums.loc[key, "size"]), float(sums.loc[key, "sum"])) if key in sums.index \
                    else (0, 0.0)
                rows.append((fy, p.la_code, p.la_name, p.id, p.title, s, n, amount))
            if p.cra_functions and cra is not None:
                sel = cra[(cra["fy"] == fy) & (cra["la_code"] == p.la_code)
                          & cra["_f"].isin({normalise_function(f) for f in p.cra_functions})]
                if (cra["fy"] == fy).any():
                    rows.append((fy, p.la_code, p.la_name, p.id, p.title, "cra_allocated", len(sel),
                                 float(sel["allocated_gbp"].sum())))
    out = pd.DataFrame(rows, columns=PRIORITY_FUNDING_COLUMNS)
    return out.astype({"n_items": "int64", "amount_gbp": "float64"})


def priority_overlaps(matches: pd.DataFrame) -> pd.DataFrame:
    """priority_overlaps: priorities funded by two or more funders (for central government a funder is
    a department, so two departments count), per year (PRIORITY_OVERLAP_COLUMNS). Grants only: a
    council's own spend is not another funder's overlap."""
    grants = matches[matches["line_kind"] == "award"]
    rows = []
    for (fy, code, pid), g in grants.groupby(["fy", "la_code", "priority_id"], sort=True):
        funders = sorted(g["funder_name"].dropna().unique())
        if len(funders) < 2:
            continue
        types = sorted(g["funder_type"].dropna().unique())
        rows.append((fy, code, g["la_name"].iloc[0], pid, len(funders), "; ".join(funders), len(types),
                     "; ".join(types), len(g), float(g["amount_gbp"].sum())))
    out = pd.DataFrame(rows, columns=PRIORITY_OVERLAP_COLUMNS)
    return out.astype({"n_funders": "int64", "n_funder_types": "int64", "n_items": "int64",
                       "amount_gbp": "float64"})


def gaps(funding: pd.DataFrame, place_total_gbp: float) -> pd.DataFrame:
    """One place's funding rows, per year and priority: matched grant £ and count, and `gap`: 'none'
    where no grant matched, 'little' where the matched £ is under LITTLE_SHARE of all grants placed in
    the place in the year (`place_total_gbp`), else ''."""
    g = funding[funding["source"].isin(GRANT_SOURCES)]
    per = g.groupby(["fy", "la_code", "priority_id", "priority_title"], sort=False).agg(
        n_items=("n_items", "sum"), amount_gbp=("amount_gbp", "sum")).reset_index()
    little = (per["amount_gbp"] < LITTLE_SHARE * place_total_gbp) if place_total_gbp > 0 else False
    per["gap"] = np.where(per["n_items"] == 0, "none", np.where(little, "little", ""))
    return per


__all__ = ["priority_table", "SOURCES", "SOURCE_LABELS", "SOURCE_BY_FUNDER_TYPE", "PRIORITY_FUNDING_COLUMNS",
           "PRIORITY_MATCH_COLUMNS", "PRIORITY_OVERLAP_COLUMNS", "match_priorities", "priority_funding",
           "priority_overlaps", "check_cra_functions", "keyword_pattern", "gaps", "normalise_function"]
