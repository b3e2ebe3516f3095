"""The bundled, user-editable rule tables: department names, policy-area and sub-area rules.

`reference/departments.csv` maps funder names and GOV.UK organisation ids to departments across
machinery-of-government changes; `reference/policy_rules.csv` is the ordered list of keyword rules
that classifies awards into policy areas; `reference/policy_subareas.csv` splits broad areas into the
sub-areas a reader recognises (transport: roads and highways, buses and community transport, rail …).
All are validated here so that a mistake made while editing them is reported as one clear InputError,
never as a wrong figure.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from spendmap.errors import InputError
from spendmap.paths import reference_path
from spendmap.text import normalise_text

DEPARTMENTS_FILE = ("departments.csv",)
POLICY_RULES_FILE = ("policy_rules.csv",)
SUBAREA_RULES_FILE = ("policy_subareas.csv",)

DEPARTMENT_COLUMNS = ["key_type", "key", "department", "short_name", "lineage", "valid_from", "valid_to"]
DEPARTMENT_KEY_TYPES = ("name", "org_id")
POLICY_RULE_COLUMNS = ["rule_id", "policy_area", "fields", "pattern"]
SUBAREA_RULE_COLUMNS = ["rule_id", "policy_area", "sub_area", "fields", "pattern"]
# Text a rule may look at. `text` is shorthand for every free-text field.
RULE_TEXT_FIELDS = ("scheme_title", "title", "description", "scheme_description")
# `cofog` decides before any words; `cofog_division` is the same COFOG text read only when no words
# matched (transforms.policy_areas.POLICY_BASES).
RULE_FIELDS = (*RULE_TEXT_FIELDS, "cofog", "cofog_division")
UNCLASSIFIED = "unclassified"


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype="string", keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"The {what} file {path} does not exist.") from None
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"The {what} file {path} could not be read as UTF-8 CSV: {exc}.") from None


def _require_columns(df: pd.DataFrame, required: list[str], path: Path, what: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(
            f"The {what} file {path} lacks the column(s) {', '.join(missing)}: expected at least "
            f"{', '.join(required)}; found {', '.join(df.columns) or 'no header'}."
        )


def _parse_dates(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    text = df[col].str.strip()
    parsed = pd.to_datetime(text.where(text != ""), format="%Y-%m-%d", errors="coerce")
    bad = (text != "") & parsed.isna()
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(
            f"The departments file {path}, row {i + 2}: {col} must be a date written YYYY-MM-DD or "
            f"left empty; found '{text.iloc[i]}'."
        )
    return parsed


def load_departments(path: Path | str | None = None) -> pd.DataFrame:
    """The department table, validated, with `match_key` (normalised key) and parsed dates added.

    Columns: key_type (name | org_id), key, department, short_name, lineage, valid_from, valid_to
    (Timestamps or NaT), id_source (if present), match_key, source_row (1-based, header = row 1).
    """
    path = Path(path) if path is not None else reference_path(*DEPARTMENTS_FILE)
    df = _read_csv(path, "departments")
    _require_columns(df, DEPARTMENT_COLUMNS, path, "departments")
    df = df.apply(lambda s: s.str.strip())
    df["source_row"] = range(2, len(df) + 2)

    _refuse_first(
        df, ~df["key_type"].isin(DEPARTMENT_KEY_TYPES),
        lambda row: f"The departments file {path}, row {row.source_row}: key_type must be one of "
        f"{', '.join(DEPARTMENT_KEY_TYPES)}; found '{row.key_type}'.",
    )
    for col in ("key", "department", "short_name", "lineage"):
        empty = df[col] == ""
        if empty.any():
            row = df[empty].iloc[0]
            raise InputError(f"The departments file {path}, row {row.source_row}: {col} is empty.")

    df["valid_from"] = _parse_dates(df, "valid_from", path)
    df["valid_to"] = _parse_dates(df, "valid_to", path)
    backwards = df["valid_from"].notna() & df["valid_to"].notna() & (df["valid_from"] >= df["valid_to"])
    if backwards.any():
        row = df[backwards].iloc[0]
        raise InputError(
            f"The departments file {path}, row {row.source_row}: valid_from {row.valid_from:%Y-%m-%d} "
            f"is not before valid_to {row.valid_to:%Y-%m-%d}."
        )

    df["match_key"] = _department_match_key(df["key"], df["key_type"])
    _check_overlaps(df, path)
    return df.reset_index(drop=True)


def _department_match_key(keys: pd.Series, key_types: pd.Series) -> pd.Series:
    """Names compare normalised (case, `&`, punctuation); org ids compare without a GB-GOR- prefix."""
    org = org_id_key(keys)
    return normalise_text(keys).where(key_types == "name", org).astype("string")


def org_id_key(values: pd.Series) -> pd.Series:
    """`GB-GOR-D9`, `gb-gor-d9` and `D9` all become `D9`."""
    text = values.astype("string").str.strip().str.upper()
    return text.str.replace(r"^GB-GOR-", "", regex=True)


def _check_overlaps(df: pd.DataFrame, path: Path) -> None:
    """Two rows for the same key may not give different departments over overlapping dates."""
    lo = df["valid_from"].fillna(pd.Timestamp.min)
    hi = df["valid_to"].fillna(pd.Timestamp.max)
    keyed = df.assign(_lo=lo, _hi=hi)
    pairs = keyed.merge(keyed, on=["key_type", "match_key"], suffixes=("", "_b"))
    clash = (
        (pairs["source_row"] < pairs["source_row_b"])
        & (pairs["short_name"] != pairs["short_name_b"])
        & (pairs["_lo"] < pairs["_hi_b"])
        & (pairs["_lo_b"] < pairs["_hi"])
    )
    if clash.any():
        p = pairs[clash].iloc[0]
        raise InputError(
            f"The departments file {path}: rows {p.source_row} and {p.source_row_b} both match the "
            f"{p.key_type} '{p.key}' over overlapping dates but give different departments "
            f"({p.short_name} and {p.short_name_b}); give them valid_from/valid_to dates that do not overlap."
        )


def load_policy_rules(path: Path | str | None = None) -> pd.DataFrame:
    """The ordered policy-area rules, validated (unique ids, known fields, compilable patterns).

    Columns: rule_id, policy_area, fields (tuple of field names), pattern, note (if present),
    source_row. Order is the file's order: the first rule that matches an award wins.
    """
    path = Path(path) if path is not None else reference_path(*POLICY_RULES_FILE)
    return _load_rules(path, "policy rules", POLICY_RULE_COLUMNS)


def load_subarea_rules(path: Path | str | None = None, areas: set[str] | None = None) -> pd.DataFrame:
    """The ordered sub-area rules (reference/policy_subareas.csv), validated as the policy rules are.

    Columns: rule_id, policy_area, sub_area, fields, pattern, note (if present), source_row. A rule
    applies only to awards already in its policy_area; `areas` (the policy rules' areas) catches a
    policy_area misspelt while editing, which would otherwise match nothing.
    """
    path = Path(path) if path is not None else reference_path(*SUBAREA_RULES_FILE)
    df = _load_rules(path, "policy sub-area rules", SUBAREA_RULE_COLUMNS, text_only=True)
    df["sub_area"] = df["sub_area"].str.strip()
    if areas is not None:
        _refuse_first(
            df, ~df["policy_area"].isin(areas),
            lambda row: f"The policy sub-area rules file {path}, row {row.source_row} (rule {row.rule_id}): "
            f"policy_area '{row.policy_area}' is not an area of the policy rules; it must be one of "
            f"{', '.join(sorted(areas))}.",
        )
    return df


def _refuse_first(df: pd.DataFrame, bad: pd.Series, message) -> None:
    """One InputError naming the first row `bad` marks (message: row -> text); nothing when none is."""
    if bad.any():
        raise InputError(message(df[bad].iloc[0]))


def _load_rules(path: Path, what: str, columns: list[str], text_only: bool = False) -> pd.DataFrame:
    """An ordered keyword-rule table: unique ids, no empty cell, known fields, compilable patterns
    that do not match empty text. `text_only`: only the text fields (no COFOG)."""
    df = _read_csv(path, what)
    _require_columns(df, columns, path, what)
    df = df.copy()
    for col in ("rule_id", "policy_area", "fields"):
        df[col] = df[col].str.strip()
    df["source_row"] = range(2, len(df) + 2)
    if df.empty:
        raise InputError(f"The {what} file {path} has a header but no rules.")

    for col in columns:
        empty = df[col].str.strip() == ""
        if empty.any():
            row = df[empty].iloc[0]
            raise InputError(f"The {what} file {path}, row {row.source_row}: {col} is empty.")
    dup = df["rule_id"].duplicated(keep=False)
    if dup.any():
        ids = sorted(set(df.loc[dup, "rule_id"]))
        rows = df.loc[dup, "source_row"].tolist()
        raise InputError(
            f"The {what} file {path}: rule ids must be unique; {', '.join(ids)} appear more than "
            f"once (rows {', '.join(map(str, rows))})."
        )
    reserved = df["policy_area"].str.lower() == UNCLASSIFIED
    if reserved.any():
        row = df[reserved].iloc[0]
        raise InputError(
            f"The {what} file {path}, row {row.source_row}: '{UNCLASSIFIED}' is what awards no rule "
            f"matches get; it cannot be a rule's policy_area."
        )
    allowed = RULE_TEXT_FIELDS if text_only else RULE_FIELDS
    fields = []
    for row in df.itertuples():
        names = [f.strip() for f in re.split(r"[;|,]", row.fields) if f.strip()]
        expanded = []
        for name in names:
            if name == "text":
                expanded.extend(RULE_TEXT_FIELDS)
            elif name in allowed:
                expanded.append(name)
            else:
                raise InputError(
                    f"The {what} file {path}, row {row.source_row} (rule {row.rule_id}): unknown field "
                    f"'{name}'; fields are 'text' or a '; '-separated list of {', '.join(allowed)}."
                )
        fields.append(tuple(dict.fromkeys(expanded)))
        try:
            compiled = re.compile(row.pattern, re.IGNORECASE)
        except re.error as exc:
            raise InputError(
                f"The {what} file {path}, row {row.source_row} (rule {row.rule_id}): the pattern "
                f"'{row.pattern}' is not a valid regular expression ({exc})."
            ) from None
        if compiled.search("") is not None:
            raise InputError(
                f"The {what} file {path}, row {row.source_row} (rule {row.rule_id}): the pattern "
                f"'{row.pattern}' matches empty text, so it would classify every award."
            )
    df["fields"] = fields
    return df.reset_index(drop=True)
