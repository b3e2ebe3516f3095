"""A council's own spend or funding (`--local FILE`), in the documented CSV template.

    place,fy,amount_gbp,description,spend_area,priority_id,source_organisation

`place` is a council name or GSS code, `fy` a financial year written 2020-21, `amount_gbp` in pounds;
`priority_id` (one of the place's priority ids) and `source_organisation` may be blank. The template
and an example are in docs/ (local_spend_template.csv, local_spend_example.csv). Every row is
accepted or rejected with a reason, like every other input: a line dated outside the run's years is
rejected "outside the run's years".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spendmap.errors import InputError
from spendmap.fiscal_year import format_fy, fy_start_year
from spendmap.sources.cache import sha256_of
from spendmap.sources.grants import _build_rejects, clean_text, parse_amounts
from spendmap.sources.priorities import Priority
from spendmap.sources.tabular import read_table
from spendmap.transforms.run_years import OUTSIDE_YEARS

LOCAL_COLUMNS = ("place", "fy", "amount_gbp", "description", "spend_area", "priority_id",
                 "source_organisation")
LOCAL_ALIASES = {c: c for c in LOCAL_COLUMNS} | {c.replace("_", " "): c for c in LOCAL_COLUMNS} | {
    "amount (£)": "amount_gbp", "amount": "amount_gbp", "financial year": "fy", "council": "place",
}
REQUIRED = ("place", "fy", "amount_gbp")
LOCAL_SPEND_COLUMNS = ["la_code", "la_name", "fy", "amount_gbp", "description", "spend_area", "priority_id",
                       "source_organisation", "source_file", "source_sheet", "source_row"]


@dataclass
class LocalSpendRead:
    lines: pd.DataFrame  # LOCAL_SPEND_COLUMNS
    rejects: pd.DataFrame  # schemas.REJECT_COLUMNS
    info: dict


def _fy(text: object) -> str | None:
    try:
        return format_fy(fy_start_year(str(text)))
    except (InputError, ValueError):
        return None


def read_local_spend(path: Path | str, *, years: Sequence[str], find_council: Callable[[str], str],
                     council_names: dict[str, str], priorities: Sequence[Priority]) -> LocalSpendRead:
    """Accepted lines (placed in their council) and reasoned rejects of one local-spend file."""
    path = Path(path)
    raw = read_table(path, aliases=LOCAL_ALIASES, required=REQUIRED, what="local spend file")
    df = raw.frame
    text = {c: clean_text(df[c]) if c in df else pd.Series(pd.NA, index=df.index, dtype="string")
            for c in LOCAL_COLUMNS if c != "amount_gbp"}
    amount, amount_bad = parse_amounts(df["amount_gbp"])
    codes: dict[str, str | None] = {}
    for place in text["place"].dropna().unique():
        try:
            codes[place] = find_council(place)
        except InputError:
            codes[place] = None
    la_code = text["place"].map(codes).astype("string")
    fy = text["fy"].map(lambda v: _fy(v) if isinstance(v, str) else None).astype("string")
    ids = {(p.la_code, p.id): p for p in priorities}
    known_pid = pd.Series([pd.isna(pid) or (code, pid) in ids
                           for code, pid in zip(la_code, text["priority_id"], strict=True)], index=df.index)

    reason = pd.Series(pd.NA, index=df.index, dtype="string")

    def why(mask: pd.Series, words: pd.Series | str) -> None:
        nonlocal reason
        reason = reason.mask(reason.isna() & mask.fillna(False).astype(bool), words)

    why(text["place"].isna(), "place missing")
    why(la_code.isna(), "place is not a council: '" + text["place"].fillna("") + "'")
    why(text["fy"].isna(), "fy missing")
    why(fy.isna(), "fy is not a financial year written like 2020-21: '" + text["fy"].fillna("") + "'")
    why(amount.isna() & amount_bad.isna(), "amount missing")
    why(amount_bad.notna(), amount_bad.fillna(""))
    why(pd.Series(~np.isfinite(amount.fillna(0).to_numpy()), index=df.index), "amount is not a finite number")
    why(~known_pid,
        "priority_id '" + text["priority_id"].fillna("") + "' is not one of the place's priorities")
    if years:
        why(~fy.isin(years), OUTSIDE_YEARS + " (" + fy.fillna("") + ", run: " + ", ".join(years) + ")")
    ok = reason.isna()
    rejects = _build_rejects(df[~ok], reason[~ok], raw, "")
    rejects["source_file"] = pd.Series(path.name, index=rejects.index, dtype="string")  # which file it was
    lines = pd.DataFrame({
        "la_code": la_code, "la_name": la_code.map(council_names).astype("string"), "fy": fy,
        "amount_gbp": amount, "description": text["description"], "spend_area": text["spend_area"],
        "priority_id": text["priority_id"], "source_organisation": text["source_organisation"],
        "source_file": pd.Series(path.name, index=df.index, dtype="string"),
        "source_sheet": pd.Series(raw.sheet, index=df.index, dtype="string"),
        "source_row": df["source_row"].astype("Int64"),
    })[ok.to_numpy()].reset_index(drop=True)
    info = {"path": str(path), "sha256": sha256_of(path), "rows_read": len(df), "rows_accepted": len(lines),
            "rows_rejected": len(rejects), "amount_accepted_gbp": float(lines["amount_gbp"].sum()),
            "header_row": raw.header_row, "amount_header": raw.original_headers["amount_gbp"]}
    return LocalSpendRead(lines=lines[LOCAL_SPEND_COLUMNS], rejects=rejects, info=info)


__all__ = ["LOCAL_COLUMNS", "LOCAL_SPEND_COLUMNS", "LocalSpendRead", "read_local_spend"]
