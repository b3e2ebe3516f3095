"""Policy areas from transparent, ordered keyword rules (reference/policy_rules.csv), scheme first.

Every award gets exactly one `policy_area`, the `policy_rule` id that decided it and the
`policy_basis` (the evidence: scheme COFOG, scheme title, award title, COFOG division), or
`unclassified` (rule and basis <NA>) when no rule matches. Evidence tiers are tried strongest first
(POLICY_BASES); within a tier rules are tried in file order and the first match wins. Matching runs
once per distinct value of each field, each rule as one vectorised `str.contains` over the values
still unclassified.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from spendmap.sources.rules import UNCLASSIFIED
from spendmap.text import distinct_combos, on_distinct


def scheme_context(awards: pd.DataFrame, schemes: pd.DataFrame) -> pd.DataFrame:
    """The scheme register's description, COFOG function and allocation method for each award, joined
    by scheme_code.

    Returns a frame aligned to `awards` with columns scheme_description, cofog and allocation_method
    (as the register writes it; <NA> where the
    award has no scheme code or the register does not list it). Where a code appears in several
    registers, the latest financial year's entry is used.
    """
    cols = ["scheme_description", "cofog", "allocation_method"]
    if "allocation_method" not in schemes.columns:
        schemes = schemes.assign(allocation_method=pd.NA)
    if "scheme_code" not in schemes.columns or schemes["scheme_code"].isna().all():
        return pd.DataFrame({c: pd.Series(pd.NA, index=awards.index, dtype="string") for c in cols})
    ref = (
        schemes.dropna(subset=["scheme_code"])
        .sort_values("fy", ascending=False, kind="stable")
        .drop_duplicates("scheme_code")
        .rename(columns={"description": "scheme_description"})
        .set_index("scheme_code")[cols]
    )
    ref.index = ref.index.astype("string").str.strip().str.upper()
    ref = ref[~ref.index.duplicated()]
    # Looked up once per distinct code (a million awards carry a few thousand), then taken per award.
    codes, uniques = pd.factorize(awards["scheme_code"].astype("string"))
    keys = pd.Series(uniques, dtype="string").str.strip().str.upper()
    return pd.DataFrame(
        {c: pd.array(keys.map(ref[c]).astype("string").array.take(codes, allow_fill=True), dtype="string")
         for c in cols},
        index=awards.index,
    )


# The evidence an award is classified on, strongest first: the scheme register's COFOG function where
# it names one policy area, then the scheme's own words (title and the register's description), then
# the award's own words, and last a COFOG division that spans several policy areas (level 0 "Public
# order and safety" holds both policing and courts). A tier is tried only for awards no earlier tier
# classified; within a tier the rules keep their file order. Rules on `cofog_division` read the same
# COFOG text as rules on `cofog`, at the last tier.
POLICY_BASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("scheme_cofog", ("cofog",)),
    ("scheme_title", ("scheme_title", "scheme_description")),
    ("award_title", ("title", "description")),
    ("cofog_division", ("cofog_division",)),
)


def _text(frame: pd.DataFrame, field: str) -> pd.Series:
    col = frame[field] if field in frame.columns else pd.Series(pd.NA, index=frame.index)
    return col.astype("string").fillna("")


def _distinct_stripped(text: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes, distinct stripped values): stripped per distinct value, not per award."""
    raw_codes, raw_uniques = pd.factorize(text)
    codes, uniques = pd.factorize(pd.Series(raw_uniques, dtype="string").str.strip())
    return codes[raw_codes], pd.Series(uniques, dtype="string")


def _with_register_text(context: pd.DataFrame, frame: pd.DataFrame, schemes: pd.DataFrame) -> pd.DataFrame:
    """context with scheme_description and cofog: the frame's own text first, else the scheme
    register's by scheme_code (awards carry none of their own: filling an all-missing column with
    170 MB of descriptions cost pandas 2 s at a million awards)."""
    extra = scheme_context(frame, schemes)
    return context.assign(**{
        c: frame[c].astype("string").fillna(extra[c]) if c in frame.columns else extra[c]
        for c in ("scheme_description", "cofog")
    })


def classify_policy_areas(
    awards: pd.DataFrame, rules: pd.DataFrame, schemes: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Set `policy_area`, `policy_rule` and `policy_basis` on every row.

    Scheme first: the scheme register's COFOG (rules on `cofog`), then rules on the scheme title and
    description, then rules on the award's title and description; `policy_basis` names the tier that
    decided (one of POLICY_BASES, <NA> when unclassified). A rule is tried in a tier on the fields it
    names that belong to the tier (`text` names every text field). scheme_description and cofog come
    from the frame itself or, when `schemes` (sources.schemes.read_scheme_registers) is given, from the
    scheme register by scheme_code. Works for awards and for the scheme table alike.

    Each tier matches once per distinct text (a million awards share a few thousand scheme titles).
    """
    out = awards.copy()
    # Only the fields rules read are carried along (each tier slices them), not the whole table.
    fields = [f for _, tier_fields in POLICY_BASES for f in tier_fields]
    context = out[[c for c in dict.fromkeys([*fields, "scheme_code"]) if c in out.columns]]
    if schemes is not None and "scheme_code" in out.columns:
        context = _with_register_text(context, out, schemes)

    if "cofog" in context.columns:
        context = context.assign(cofog_division=context["cofog"])
    n = len(out)
    area = np.full(n, None, dtype=object)
    rule_id = np.full(n, None, dtype=object)
    basis = np.full(n, None, dtype=object)
    # Each field's distinct stripped values once for every award; a tier takes its awards' codes (not
    # a copy of their text, which cost pandas 1.6 s per million awards).
    all_codes, field_values = {}, {}
    for f in fields:
        all_codes[f], field_values[f] = _distinct_stripped(_text(context, f))
    for tier, tier_fields in POLICY_BASES:
        todo = np.flatnonzero(pd.isna(area))
        tier_rules = [(r, [f for f in r.fields if f in tier_fields]) for r in rules.itertuples()]
        tier_rules = [(r, f) for r, f in tier_rules if f]
        if not len(todo) or not tier_rules:
            continue
        # Each field is matched on its own distinct values (a rule on several fields matches when it
        # matches any of them), so the cost follows distinct titles, not awards or title combinations.
        field_codes = {f: all_codes[f][todo] for f in tier_fields}
        combos, codes = distinct_combos([field_codes[f] for f in tier_fields])
        d_area = np.full(len(combos), None, dtype=object)
        d_rule = np.full(len(combos), None, dtype=object)
        for rule, fields in tier_rules:
            open_ = pd.isna(d_area)
            if not open_.any():
                break
            hit = np.zeros(len(combos), dtype=bool)
            for f in fields:
                col = combos[:, tier_fields.index(f)]
                needed = np.unique(col[open_])
                values = field_values[f].iloc[needed]
                with warnings.catch_warnings():
                    # Rules may use (groups); contains() only needs match / no match.
                    warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular")
                    matched = values.str.contains(rule.pattern, case=False, regex=True).fillna(False)
                lookup = np.zeros(len(field_values[f]), dtype=bool)
                lookup[needed[matched.to_numpy(dtype=bool)]] = True
                hit |= lookup[col]
            hit &= open_
            d_area[hit] = rule.policy_area
            d_rule[hit] = rule.rule_id
        found = ~pd.isna(d_area)[codes]
        rows_found = todo[found]
        area[rows_found] = d_area[codes][found]
        rule_id[rows_found] = d_rule[codes][found]
        basis[rows_found] = tier

    out["policy_area"] = pd.array(np.where(pd.isna(area), UNCLASSIFIED, area), dtype="string")
    out["policy_rule"] = pd.array(rule_id, dtype="string")
    out["policy_basis"] = pd.array(basis, dtype="string")
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


# How a scheme is allocated, as the GGIS scheme register writes it ("General Grants - Competed"), in
# one word each. A scheme listing several methods is `mixed`.
ALLOCATION_METHODS = {
    "formula": "formula",
    "general grants - competed": "competed",
    "general grants - criteria based": "criteria-based",
    "general grants - un-competed": "un-competed",
}


def allocation_methods(awards: pd.DataFrame, schemes: pd.DataFrame) -> pd.Series:
    """Per award, its scheme's allocation method from the scheme register (by scheme code): formula,
    competed, criteria-based, un-competed, mixed (several listed), or <NA> where no register says."""
    raw = scheme_context(awards, schemes)["allocation_method"]

    def one(text: pd.Series) -> pd.Series:
        parts = text.str.lower().str.split(";")
        named = parts.map(
            lambda ps: sorted({ALLOCATION_METHODS.get(p.strip(), "other") for p in ps}), na_action="ignore"
        )
        return named.map(lambda ms: ms[0] if len(ms) == 1 else "mixed", na_action="ignore").astype("string")

    return on_distinct(raw, one).astype("string")


def classify_sub_areas(
    awards: pd.DataFrame, subrules: pd.DataFrame, schemes: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Set `policy_subarea` and `policy_subrule` on every row that has a `policy_area`.

    Within each policy area the sub-area rules (sources.rules.load_subarea_rules) are tried in the
    same evidence order as the areas (the scheme's words, then the award's), first match wins. A
    sub-area carves a purpose a reader recognises out of its area; an award no sub-area rule matches
    keeps its area as its sub-area (so the PfPP report's own examples — eleven housing grants in
    Birmingham, four net-zero programmes in Cornwall — stay one purpose each); unclassified stays
    unclassified.
    """
    out = awards.copy()
    area = out["policy_area"].astype("string").fillna(UNCLASSIFIED)
    sub = area.to_numpy(dtype=object).copy()
    rule = np.full(len(out), None, dtype=object)
    fields = ["scheme_code", "scheme_title", "title", "description", "scheme_description", "policy_area"]
    narrow = out[[c for c in fields if c in out.columns]]
    if schemes is not None and "scheme_code" in out.columns:
        # The register's text joined once for every award, not once per policy area.
        narrow = _with_register_text(narrow, out, schemes)
    for name, rules in subrules.groupby("policy_area", sort=False):
        rows = np.flatnonzero((area == name).to_numpy())
        if not len(rows):
            continue
        done = classify_policy_areas(narrow.iloc[rows], rules.assign(policy_area=rules["sub_area"]))
        found = (done["policy_area"] != UNCLASSIFIED).to_numpy()
        sub[rows] = np.where(found, done["policy_area"].to_numpy(dtype=object), name)
        rule[rows] = done["policy_rule"].to_numpy(dtype=object)
    out["policy_subarea"] = pd.array(sub, dtype="string")
    out["policy_subrule"] = pd.array(rule, dtype="string")
    return out
