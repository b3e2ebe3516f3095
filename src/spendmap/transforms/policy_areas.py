"""Policy areas from transparent, ordered keyword rules (reference/policy_rules.csv).

Every award gets exactly one `policy_area` and the `policy_rule` id that decided it, or
`unclassified` (rule <NA>) when no rule matches. Rules are tried in file order and the first match wins.
Matching runs once per distinct combination of texts (awards of one scheme mostly share them), each
rule as one vectorised `str.contains` over the rows still unclassified.
"""

from __future__ import annotations

import warnings

import pandas as pd

from spendmap.sources.rules import RULE_FIELDS, UNCLASSIFIED

_SEP = "\x1f"


def scheme_context(awards: pd.DataFrame, schemes: pd.DataFrame) -> pd.DataFrame:
    """The scheme register's description and COFOG function for each award, joined by scheme_code.

    Returns a frame aligned to `awards` with columns scheme_description and cofog (<NA> where the
    award has no scheme code or the register does not list it). Where a code appears in several
    registers, the latest financial year's entry is used.
    """
    cols = ["scheme_description", "cofog"]
    if "scheme_code" not in schemes.columns or schemes["scheme_code"].isna().all():
        return pd.DataFrame({c: pd.Series(pd.NA, index=awards.index, dtype="string") for c in cols})
    ref = (
        schemes.dropna(subset=["scheme_code"])
        .sort_values("fy", ascending=False, kind="stable")
        .drop_duplicates("scheme_code")
        .rename(columns={"description": "scheme_description"})
        .set_index("scheme_code")[cols]
    )
    codes = awards["scheme_code"].astype("string")
    return pd.DataFrame({c: codes.map(ref[c]).astype("string") for c in cols}, index=awards.index)


def _field_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for field in RULE_FIELDS:
        col = frame[field] if field in frame.columns else pd.Series("", index=frame.index)
        out[field] = col.astype("string").fillna("").str.strip()
    return out


def classify_policy_areas(
    awards: pd.DataFrame, rules: pd.DataFrame, schemes: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Set `policy_area` and `policy_rule` on every row.

    Text fields used: scheme_title, title, description, plus scheme_description and cofog from the
    frame itself or, when `schemes` (sources.schemes.read_scheme_registers) is given, from the scheme
    register by scheme_code. Works for awards and for the scheme table alike.
    """
    out = awards.copy()
    context = out
    if schemes is not None and "scheme_code" in out.columns:
        extra = scheme_context(out, schemes)
        context = out.assign(
            scheme_description=out.get("scheme_description", pd.Series(pd.NA, index=out.index))
            .astype("string")
            .fillna(extra["scheme_description"]),
            cofog=out.get("cofog", pd.Series(pd.NA, index=out.index)).astype("string").fillna(extra["cofog"]),
        )
    fields = _field_frame(context)

    # One row per distinct combination of texts.
    first, *rest = RULE_FIELDS
    combined = fields[first].str.cat([fields[f] for f in rest], sep=_SEP)
    codes, uniques = pd.factorize(combined)
    distinct = pd.Series(uniques, dtype="string").str.split(_SEP, expand=True, regex=False)
    if distinct.shape[1] == len(RULE_FIELDS):
        distinct.columns = list(RULE_FIELDS)
    else:  # no rows at all
        distinct = pd.DataFrame({f: pd.Series(dtype="string") for f in RULE_FIELDS})

    area = pd.Series(pd.NA, index=distinct.index, dtype="string")
    rule_id = pd.Series(pd.NA, index=distinct.index, dtype="string")
    texts: dict[tuple[str, ...], pd.Series] = {}
    for rule in rules.itertuples():
        todo = area.isna()
        if not todo.any():
            break
        key = tuple(rule.fields)
        if key not in texts:
            parts = distinct[list(key)]
            texts[key] = (
                parts.iloc[:, 0].str.cat(parts.iloc[:, 1:], sep=" | ") if len(key) > 1 else parts.iloc[:, 0]
            )
        text = texts[key][todo]
        with warnings.catch_warnings():
            # Rules may use (groups); contains() only needs match / no match.
            warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular expression")
            hit = text.str.contains(rule.pattern, case=False, regex=True).fillna(False)
        hit_index = hit[hit].index
        area[hit_index] = rule.policy_area
        rule_id[hit_index] = rule.rule_id

    area = area.fillna(UNCLASSIFIED)
    out["policy_area"] = pd.array(area.to_numpy()[codes], dtype="string") if len(out) else area
    out["policy_rule"] = pd.array(rule_id.to_numpy()[codes], dtype="string") if len(out) else rule_id
    return out


def unclassified_share(awards: pd.DataFrame) -> pd.DataFrame:
    """Per department: n_awards, n_unclassified, share_unclassified, amount_gbp, amount_unclassified,
    share_amount_unclassified. Awards with no department are grouped as `(unknown)`."""
    amount_col = "amount_gbp" if "amount_gbp" in awards.columns else "value_gbp"
    frame = pd.DataFrame(
        {
            "department": awards["department"].astype("string").fillna("(unknown)"),
            "unclassified": (awards["policy_area"] == UNCLASSIFIED).astype(bool),
            "amount": pd.to_numeric(awards[amount_col], errors="coerce").fillna(0.0),
        }
    )
    frame["amount_unclassified"] = frame["amount"].where(frame["unclassified"], 0.0)
    grouped = frame.groupby("department").agg(
        n_awards=("unclassified", "size"),
        n_unclassified=("unclassified", "sum"),
        amount_gbp=("amount", "sum"),
        amount_unclassified=("amount_unclassified", "sum"),
    )
    grouped["share_unclassified"] = grouped["n_unclassified"] / grouped["n_awards"]
    grouped["share_amount_unclassified"] = grouped["amount_unclassified"] / grouped["amount_gbp"].where(
        grouped["amount_gbp"] != 0
    )
    cols = [
        "n_awards",
        "n_unclassified",
        "share_unclassified",
        "amount_gbp",
        "amount_unclassified",
        "share_amount_unclassified",
    ]
    return grouped[cols].reset_index()


def unclassified_totals(awards: pd.DataFrame) -> dict[str, float]:
    """The run's unclassified awards and £, reported every run: {"awards", "amount_gbp", "share_awards"}."""
    amount_col = "amount_gbp" if "amount_gbp" in awards.columns else "value_gbp"
    unclassified = (awards["policy_area"] == UNCLASSIFIED).fillna(False).astype(bool)
    amount = pd.to_numeric(awards[amount_col], errors="coerce").fillna(0.0)
    n = int(unclassified.sum())
    return {
        "awards": n,
        "amount_gbp": round(float(amount[unclassified].sum()), 2),
        "share_awards": round(n / len(awards), 4) if len(awards) else 0.0,
    }
