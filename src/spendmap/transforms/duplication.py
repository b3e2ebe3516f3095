"""Duplication: several departments, or several schemes and recipients of one department, funding the
same purpose in the same place and year — as grouped DuckDB queries over one narrow row per award.

A purpose is a policy sub-area (transforms.policy_areas.classify_sub_areas: transport → buses and
community transport, roads and highways maintenance, rail …), so "DfT funds transport through several
schemes" no longer lumps the council's highways block with community minibuses.
- `cross_department`: two or more departments (counted by lineage, so DCLG and MHCLG in one year are
  one department) fund the same sub-area in the same place and year — one finding per place, year and
  sub-area;
- `within_department`: one department (lineage) funds the same sub-area in the same place and year
  through two or more schemes AND to two or more named recipients — one finding per place, year,
  sub-area and department. Formula allocations to the council itself (the scheme register's allocation
  method is Formula and the recipient is the council) are left out: a council's formula blocks are its
  standing allocation, not overlapping programmes. (One recipient taking two schemes is not duplication
  as the PfPP report defines it.)
Funders that are not government departments (issue 18: `--funding` data) take part alike: a funder is a
department counted by lineage, or any other funder of a known type (arm's-length body, lottery
distributor, local government, charitable funder) counted by its own identity — its org-id, else its
name — so a cross-department finding is "two or more funders", and `funder_types` lists the kinds of
funder in the finding. Funders of unknown type (`other`) stay out, like unknown departments: a
misspelt department must not look like a second funder.
A scheme is transforms.profiles.scheme_key (funder lineage and code), a recipient is an organisation
(transforms.names.recipient_key). Findings are ranked by schemes × recipients (`score`). Unclassified
awards, awards with no department, awards not placed in a council and overseas spending (DFID, FCO,
FCDO lineages, or the international development area) are left out.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from spendmap.schemas import DUPLICATION_COLUMNS, DUPLICATION_EXTRA_COLUMNS
from spendmap.sources.rules import UNCLASSIFIED
from spendmap.transforms.names import normalise_text, recipient_key
from spendmap.transforms.profiles import scheme_key

UNNAMED_RECIPIENT = "(recipient not named)"
# Overseas spending is kept out of the domestic policy-area overlaps.
OVERSEAS_LINEAGES = frozenset({"DFID", "FCO", "FCDO"})
OVERSEAS_AREAS = frozenset({"international development"})
_JOIN = "; "
NOT_STATED = "not stated"


def _lineage(frame: pd.DataFrame) -> pd.Series:
    dept = frame["department"].astype("string")
    if "department_lineage" in frame.columns:
        return frame["department_lineage"].astype("string").fillna(dept)
    return dept


# Funder types whose funders are counted by their own identity when no department matched them.
OWN_IDENTITY_TYPES = frozenset({"arms_length_body", "lottery_distributor", "local_government",
                                "charitable_funder"})
CENTRAL = "central_government"


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column in frame.columns:
        return frame[column].astype("string")
    return pd.Series(pd.NA, index=frame.index, dtype="string")


def _funders(frame: pd.DataFrame) -> pd.DataFrame:
    """Per award: `department` (the department, else the funder's name as pages show it), `lineage`
    (the department's lineage, else 'FUNDER:' + org-id or normalised name) and `funder_type`
    (central_government for a department when the frame carries no funder types); <NA> lineage for
    awards that cannot be counted (no department and no funder of a known type)."""
    dept = _text(frame, "department")
    kind = _text(frame, "funder_type").fillna(dept.where(dept.isna(), CENTRAL))
    own = dept.isna() & kind.isin(OWN_IDENTITY_TYPES).fillna(False)
    name = _text(frame, "funder_name").fillna(_text(frame, "department_raw").str.strip())
    fid = _text(frame, "funder_id").str.strip().str.upper()
    ident = "FUNDER:" + fid.where(fid != "", pd.NA).fillna("NAME:" + normalise_text(name))
    # '; ' separates names in the finding's lists, so it cannot be part of one.
    label = name.str.replace(_JOIN, ", ", regex=False)
    # One name per funder: its first, so a funder spelt two ways is listed (and joined to its awards) once.
    label = _first_per_key(ident.where(own), label).fillna(label)
    return pd.DataFrame({
        "department": dept.where(~own, label),
        "lineage": _lineage(frame).where(dept.notna(), ident.where(own & label.notna())),
        "funder_type": kind,
    }, index=frame.index)


def _is_overseas(frame: pd.DataFrame) -> pd.Series:
    lineage = frame["lineage"].astype("string").str.upper()
    return lineage.isin({x.upper() for x in OVERSEAS_LINEAGES}).fillna(False) | frame["policy_area"].isin(
        OVERSEAS_AREAS
    )


def _joined(frame: pd.DataFrame, keys: list[str], value: str) -> pd.Series:
    """Sorted distinct values of `value` per group, joined with '; '."""
    distinct = frame[keys + [value]].dropna().drop_duplicates().sort_values(keys + [value], kind="stable")
    return distinct.groupby(keys, sort=True)[value].agg(_JOIN.join).astype("string")


def _first_per_key(keys: pd.Series, labels: pd.Series) -> pd.Series:
    """Each key's first label (in row order), for every row: one name per scheme or organisation."""
    # factorize numbers keys in order of first appearance (missing keys -1), so each code's first row
    # is where np.unique first meets it.
    codes, _ = pd.factorize(keys)
    rows = np.flatnonzero(codes >= 0)
    _, first = np.unique(codes[rows], return_index=True)
    firsts = labels.astype("string").array.take(rows[first])
    return pd.Series(firsts.take(codes, allow_fill=True), index=keys.index, dtype="string")


def finding_rows(awards: pd.DataFrame) -> pd.DataFrame:
    """One narrow row per award that can be part of a finding (the queries' input), keyed by award_id.

    Columns: award_id, fy, la_code, la_name, policy_area, policy_subarea, department, lineage,
    funder_type (see _funders: a funder that is not a department stands in both columns), scheme,
    scheme_label, named_recipient (organisation key, <NA> for redacted or unnamed), named_label,
    allocation_method ('not stated' where no register gives it), formula_to_council, amount.
    """
    funders = _funders(awards)
    counted = funders["lineage"].notna().to_numpy()
    known, funders = awards[counted], funders[counted]
    area = known["policy_area"].astype("string").fillna(UNCLASSIFIED)
    sub = known["policy_subarea"].astype("string") if "policy_subarea" in known else area
    label = known["scheme_title"].astype("string").fillna(known["scheme_code"].astype("string"))
    scheme = scheme_key(known)
    recipient = recipient_key(known)
    names = known["recipient_name"].astype("string")
    if "organisation_name" in known.columns:
        names = known["organisation_name"].astype("string").fillna(names)
    method = known.get("allocation_method", pd.Series(pd.NA, index=known.index)).astype("string")
    council = known["is_council_recipient"].astype("boolean").fillna(False)
    frame = pd.DataFrame(
        {
            "award_id": known.get("award_id", pd.Series(known.index.astype(str), index=known.index))
            .astype("string"),
            "fy": known["fy"].astype("string"),
            "la_code": known["la_code"].astype("string"),
            "la_name": known["la_name"].astype("string").fillna(""),
            "policy_area": area,
            "policy_subarea": sub.fillna(area),
            "department": funders["department"],
            "lineage": funders["lineage"],
            "funder_type": funders["funder_type"],
            "scheme": scheme,
            "scheme_label": _first_per_key(scheme, label).fillna(scheme),
            "named_recipient": recipient,
            "named_label": _first_per_key(recipient, names),
            "allocation_method": method.fillna(NOT_STATED),
            "formula_to_council": ((method == "formula").fillna(False) & council).astype(bool),
            "amount": pd.to_numeric(known["amount_gbp"], errors="coerce").fillna(0.0),
        }
    )
    # A recipient with a key but no name cannot be listed by name, so it is not counted either.
    frame["named_recipient"] = frame["named_recipient"].where(frame["named_label"].notna())
    keep = (
        (frame["policy_area"] != UNCLASSIFIED)
        & frame["la_code"].notna()
        & frame["fy"].notna()
        & ~_is_overseas(frame)
    )
    return frame[keep.to_numpy()].reset_index(drop=True)


# The columns every finding has, aggregated over the finding's awards; {only} restricts the awards
# counted (within-department findings leave formula allocations to the council itself out).
_FINDING_AGGREGATES = """
    min(la_name) AS la_name,
    string_agg(DISTINCT department, '; ' ORDER BY department) {only} AS departments,
    count(DISTINCT lineage) {only} AS n_departments,
    string_agg(DISTINCT scheme_label, '; ' ORDER BY scheme_label) {only} AS schemes,
    count(DISTINCT scheme) {only} AS n_schemes,
    coalesce(string_agg(DISTINCT named_label, '; ' ORDER BY named_label) FILTER (
        WHERE named_recipient IS NOT NULL {and_only}), '') AS recipients,
    count(DISTINCT named_recipient) {only} AS n_recipients,
    count(*) {only} AS n_awards,
    round(coalesce(sum(amount) {only}, 0), 2) AS total_gbp,
    string_agg(DISTINCT allocation_method, '; ' ORDER BY allocation_method) {only} AS allocation_methods,
    count(*) FILTER (WHERE formula_to_council) AS n_formula_to_council,
    string_agg(DISTINCT funder_type, '; ' ORDER BY funder_type) {only} AS funder_types
"""
# Cross-department findings: two or more department lineages fund one sub-area in one place and year.
CROSS_DEPARTMENT_SQL = f"""
SELECT fy, la_code, policy_area, policy_subarea, 'cross_department' AS kind,
    {_FINDING_AGGREGATES.format(only="", and_only="")}
FROM finding_rows
GROUP BY fy, la_code, policy_area, policy_subarea
HAVING count(DISTINCT lineage) >= 2
"""
# Within-department findings: one lineage funds one sub-area in one place and year through two or more
# schemes AND to two or more named recipients, formula allocations to the council itself left out.
WITHIN_DEPARTMENT_SQL = f"""
SELECT fy, la_code, policy_area, policy_subarea, 'within_department' AS kind,
    {_FINDING_AGGREGATES.format(only="FILTER (WHERE NOT formula_to_council)",
                                and_only="AND NOT formula_to_council")}
FROM finding_rows
GROUP BY fy, la_code, policy_area, policy_subarea, lineage
HAVING count(DISTINCT scheme) FILTER (WHERE NOT formula_to_council) >= 2
   AND count(DISTINCT named_recipient) FILTER (WHERE NOT formula_to_council) >= 2
"""


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


def find_duplication(awards: pd.DataFrame) -> pd.DataFrame:
    """duplication.csv: cross_department and within_department findings (DUPLICATION_COLUMNS, then
    DUPLICATION_EXTRA_COLUMNS: policy_subarea, allocation_methods, n_formula_to_council, score and
    the `explanation` sentence)."""
    columns = DUPLICATION_COLUMNS + DUPLICATION_EXTRA_COLUMNS
    rows = finding_rows(awards)
    if rows.empty:
        return _empty(columns)
    with duckdb.connect() as con:
        con.register("finding_rows", rows)
        out = pd.concat(
            [con.sql(CROSS_DEPARTMENT_SQL).df(), con.sql(WITHIN_DEPARTMENT_SQL).df()], ignore_index=True
        )
    if out.empty:
        return _empty(columns)
    for col in ("n_departments", "n_schemes", "n_recipients", "n_awards", "n_formula_to_council"):
        out[col] = out[col].astype("int64")
    out["score"] = out["n_schemes"] * out["n_recipients"]
    out = out.sort_values(
        ["fy", "la_code", "policy_area", "policy_subarea", "kind", "departments"], kind="stable"
    )
    said = ["kind", "la_name", "la_code", "n_schemes", "n_recipients", "n_departments", "departments",
            "policy_area", "policy_subarea", "n_formula_to_council", "funder_types"]
    out["explanation"] = pd.array([explain_finding(r) for r in out[said].to_dict("records")], dtype="string")
    return out[columns].reset_index(drop=True)


def national_scheme_overlaps(schemes: pd.DataFrame) -> pd.DataFrame:
    """Policy areas funded by schemes of two or more departments in a year, from the scheme registers.

    `schemes` needs department (apply_departments) and policy_area (classify_policy_areas). Columns:
    fy, policy_area, departments, n_departments, n_schemes, value_gbp, department_values
    ("DfT: 1234567; MoJ: 89000", £ per department, largest first).
    """
    cols = [
        "fy",
        "policy_area",
        "departments",
        "n_departments",
        "n_schemes",
        "value_gbp",
        "department_values",
    ]
    frame = schemes[(schemes["policy_area"] != UNCLASSIFIED) & schemes["department"].notna()].copy()
    frame["lineage"] = _lineage(frame)
    frame = frame[~_is_overseas(frame)]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    frame["value"] = pd.to_numeric(frame["value_gbp"], errors="coerce").fillna(0.0)
    keys = ["fy", "policy_area"]
    per_dept = frame.groupby(keys + ["department"], as_index=False)["value"].sum()
    per_dept = per_dept.sort_values(keys + ["value", "department"], ascending=[True, True, False, True])
    per_dept["text"] = (
        per_dept["department"] + ": " + per_dept["value"].round(0).astype("int64").astype("string")
    )
    out = frame.groupby(keys).agg(
        n_departments=("lineage", "nunique"), n_schemes=("scheme_title", "size"), value_gbp=("value", "sum")
    )
    out["departments"] = _joined(frame, keys, "department")
    out["department_values"] = per_dept.groupby(keys, sort=False)["text"].agg(_JOIN.join)
    out = out[out["n_departments"] >= 2].reset_index()
    out["value_gbp"] = out["value_gbp"].round(2)
    return out.sort_values(keys, kind="stable")[cols].reset_index(drop=True)


def _purpose(row: dict) -> str:
    """The finding's purpose in words: its sub-area with the broad area beside it, or the area alone."""
    area = row.get("policy_area") or "an unnamed policy area"
    sub = row.get("policy_subarea")
    if not isinstance(sub, str) or not sub or sub == area or sub.startswith("other "):
        return area
    return f"{sub} ({area})"


def explain_finding(row: dict) -> str:
    """One sentence a reader can quote, saying why the finding is listed, e.g. '3 DfT schemes to 10
    recipients in Cornwall: buses and community transport (transport). Listed because …'."""
    place = row.get("la_name") or row.get("la_code") or "this place"
    n_s, n_r = int(row.get("n_schemes") or 0), int(row.get("n_recipients") or 0)
    schemes = f"{n_s} scheme{'s' if n_s != 1 else ''}"
    recipients = f"{n_r} recipient{'s' if n_r != 1 else ''}"
    purpose = _purpose(row)
    # "departments" while every funder in the finding is central government (the register's findings).
    types = [t for t in str(row.get("funder_types") or CENTRAL).split(_JOIN) if t]
    funder = "department" if set(types) <= {CENTRAL} else "funder"
    if row.get("kind") == "within_department":
        dept = str(row.get("departments") or f"one {funder}").split(_JOIN)[0]
        n_f = int(row.get("n_formula_to_council") or 0)
        left_out = (
            f" ({n_f} formula allocation{'s' if n_f != 1 else ''} to the council itself not counted)"
            if n_f else ""
        )
        return (
            f"{n_s} {dept} schemes to {recipients} in {place}: {purpose}. Listed because one {funder} "
            f"funds this one purpose here through {n_s} separate schemes reaching {n_r} recipients"
            f"{left_out}."
        )
    n_d = int(row.get("n_departments") or 0)
    return (
        f"{n_d} {funder}s ({row.get('departments') or ''}) fund {purpose} in {place} through {schemes} "
        f"to {recipients}. Listed because more than one {funder} funds the same purpose in one place."
    )


def number_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings in the order pages show them (per place and year: most schemes × recipients first,
    then largest £, then policy area), numbered 1, 2, ... within each place and year in a `finding`
    column."""
    if findings.empty:
        return findings.assign(finding=pd.Series(dtype="int64"))
    score = (
        findings["score"] if "score" in findings.columns
        else findings["n_schemes"].astype("int64") * findings["n_recipients"].astype("int64")
    )
    out = (
        findings.assign(_score=score)
        .sort_values(
            ["fy", "la_code", "_score", "total_gbp", "policy_area", "kind"],
            ascending=[True, True, False, False, True, True],
            kind="stable",
        )
        .drop(columns="_score")
        .reset_index(drop=True)
    )
    out["finding"] = out.groupby(["fy", "la_code"], sort=False).cumcount() + 1
    return out


# Every award behind each finding: the finding's place, year, sub-area and departments, and for a
# within-department finding only the awards it counts (formula allocations to the council left out).
FINDING_AWARDS_SQL = """
SELECT f.la_code, f.finding, f.kind, f.policy_area, r.department, r.award_id
FROM findings AS f
JOIN finding_rows AS r
  ON r.fy = f.fy AND r.la_code = f.la_code AND r.policy_area = f.policy_area
 AND r.policy_subarea = f.policy_subarea
 AND list_contains(string_split(f.departments, '; '), r.department)
 AND (f.kind = 'cross_department' OR NOT r.formula_to_council)
"""


def finding_awards(awards: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    """Every award behind each finding, one per row: la_code, finding number (the `finding` column of
    number_findings, else 1-based in `findings` order), kind, policy area, then the award's department,
    scheme, recipient, title and £."""
    cols = [
        "la_code",
        "finding",
        "kind",
        "policy_area",
        "department",
        "scheme_title",
        "recipient_name",
        "title",
        "award_id",
        "amount_gbp",
    ]
    if findings.empty or awards.empty:
        return pd.DataFrame(columns=cols)
    keys = findings.reset_index(drop=True)
    if "finding" not in keys.columns:
        keys = keys.assign(finding=keys.index + 1)
    if "policy_subarea" not in keys.columns:
        keys = keys.assign(policy_subarea=keys["policy_area"])
    keys = keys[["fy", "la_code", "policy_area", "policy_subarea", "kind", "departments", "finding"]]
    keys = keys.astype({c: "string" for c in keys.columns if c != "finding"})
    base = awards.assign(award_id=awards["award_id"].astype("string")) if "award_id" in awards else awards
    with duckdb.connect() as con:
        con.register("findings", keys)
        con.register("finding_rows", finding_rows(base))
        matched = con.sql(FINDING_AWARDS_SQL).df()
    detail = base[["award_id", "scheme_title", "recipient_name", "title", "amount_gbp"]].astype(
        {"award_id": "string"}
    )
    out = matched.astype({"award_id": "string"}).merge(detail, on="award_id", how="left")
    out = out.sort_values(["la_code", "finding", "amount_gbp"], ascending=[True, True, False], kind="stable")
    return out[cols].reset_index(drop=True)
