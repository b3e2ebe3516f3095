"""Duplication: several departments, or several schemes/recipients of one department, funding the
same policy area in the same place and year.

The awards become a networkx graph department → scheme → recipient; each scheme → recipient edge is
keyed by (fy, la_code, policy_area) and carries the award count and £. Findings are read off the
graph's edges with grouped (vectorised) aggregations:
- `cross_department`: two or more departments (counted by lineage, so DCLG and MHCLG in one year are
  one department) fund the same policy area in the same place and year — one finding per place, year
  and area;
- `within_department`: one department (lineage) funds the same policy area in the same place and year
  through two or more schemes AND to two or more named recipients — one finding per place, year, area
  and department. (One recipient taking two schemes, e.g. a county council's two highway blocks, is not
  duplication as the PfPP report defines it.)
Unclassified awards, awards with no department, awards not placed in a council and overseas spending
(DFID, FCO, FCDO lineages, or the international development area) are left out.
"""

from __future__ import annotations

import networkx as nx
import pandas as pd

from spendmap.schemas import DUPLICATION_COLUMNS, DUPLICATION_EXTRA_COLUMNS
from spendmap.sources.rules import UNCLASSIFIED
from spendmap.transforms.names import recipient_key
from spendmap.transforms.profiles import scheme_key

UNNAMED_RECIPIENT = "(recipient not named)"
# Overseas spending is kept out of the domestic policy-area overlaps.
OVERSEAS_LINEAGES = frozenset({"DFID", "FCO", "FCDO"})
OVERSEAS_AREAS = frozenset({"international development"})
_JOIN = "; "


def _lineage(frame: pd.DataFrame) -> pd.Series:
    dept = frame["department"].astype("string")
    if "department_lineage" in frame.columns:
        return frame["department_lineage"].astype("string").fillna(dept)
    return dept


def grant_graph(awards: pd.DataFrame) -> nx.MultiDiGraph:
    """Department → scheme → recipient graph of the awards that have a department.

    Nodes: `dept:<short name>` (kind=department, lineage), `scheme:<scheme key>` (kind=scheme, label,
    department, lineage), `recipient:<recipient key>` (kind=recipient, label). Edges: department →
    scheme (key "funds") and scheme → recipient keyed by (fy, la_code, policy_area); both carry
    n_awards and amount_gbp. la_name of a place is kept in the graph attribute `place_names`.
    """
    known = awards[awards["department"].notna()]
    frame = pd.DataFrame(
        {
            "department": known["department"].astype("string"),
            "lineage": _lineage(known),
            "scheme": scheme_key(known),
            "scheme_label": known["scheme_title"]
            .astype("string")
            .fillna(known["scheme_code"].astype("string")),
            "recipient": recipient_key(known).fillna(UNNAMED_RECIPIENT),
            "recipient_label": known["recipient_name"].astype("string").fillna(UNNAMED_RECIPIENT),
            "fy": known["fy"].astype("string").fillna(""),
            "la_code": known["la_code"].astype("string").fillna(""),
            "la_name": known["la_name"].astype("string").fillna(""),
            "policy_area": known["policy_area"].astype("string").fillna(UNCLASSIFIED),
            "amount": pd.to_numeric(known["amount_gbp"], errors="coerce").fillna(0.0),
        }
    )
    frame["scheme_label"] = frame["scheme_label"].fillna(frame["scheme"])
    places = frame[frame["la_code"] != ""].drop_duplicates("la_code")
    graph = nx.MultiDiGraph(place_names=dict(zip(places["la_code"], places["la_name"], strict=True)))

    depts = frame.drop_duplicates("department")
    graph.add_nodes_from(
        (f"dept:{d}", {"kind": "department", "label": d, "lineage": lin})
        for d, lin in zip(depts["department"], depts["lineage"], strict=True)
    )
    schemes = frame.groupby(["scheme", "department"], as_index=False, sort=False).agg(
        lineage=("lineage", "first"),
        label=("scheme_label", "first"),
        n_awards=("amount", "size"),
        amount_gbp=("amount", "sum"),
    )
    graph.add_nodes_from(
        (f"scheme:{k}", {"kind": "scheme", "label": lab, "department": d, "lineage": lin})
        for k, d, lin, lab in zip(
            schemes["scheme"], schemes["department"], schemes["lineage"], schemes["label"], strict=True
        )
    )
    graph.add_edges_from(
        (f"dept:{d}", f"scheme:{k}", "funds", {"n_awards": n, "amount_gbp": a})
        for d, k, n, a in zip(
            schemes["department"], schemes["scheme"], schemes["n_awards"], schemes["amount_gbp"], strict=True
        )
    )
    recipients = frame.drop_duplicates("recipient")
    graph.add_nodes_from(
        (f"recipient:{k}", {"kind": "recipient", "label": lab})
        for k, lab in zip(recipients["recipient"], recipients["recipient_label"], strict=True)
    )
    links = frame.groupby(
        ["scheme", "recipient", "fy", "la_code", "policy_area"], as_index=False, sort=False
    ).agg(n_awards=("amount", "size"), amount_gbp=("amount", "sum"))
    graph.add_edges_from(
        (f"scheme:{k}", f"recipient:{r}", (fy, la, area), {"n_awards": n, "amount_gbp": a})
        for k, r, fy, la, area, n, a in zip(
            links["scheme"],
            links["recipient"],
            links["fy"],
            links["la_code"],
            links["policy_area"],
            links["n_awards"],
            links["amount_gbp"],
            strict=True,
        )
    )
    return graph


def graph_links(graph: nx.MultiDiGraph) -> pd.DataFrame:
    """The scheme → recipient edges of grant_graph as a table, with node labels and departments."""
    nodes = graph.nodes
    places = graph.graph.get("place_names", {})
    schemes = [n for n, kind in nodes(data="kind") if kind == "scheme"]
    rows = [
        (
            fy,
            la,
            places.get(la, ""),
            area,
            nodes[u]["department"],
            nodes[u]["lineage"],
            u,
            nodes[u]["label"],
            v,
            nodes[v]["label"],
            data["n_awards"],
            data["amount_gbp"],
        )
        for u, v, (fy, la, area), data in graph.out_edges(schemes, keys=True, data=True)
    ]
    cols = [
        "fy",
        "la_code",
        "la_name",
        "policy_area",
        "department",
        "lineage",
        "scheme",
        "scheme_label",
        "recipient",
        "recipient_label",
        "n_awards",
        "amount_gbp",
    ]
    return pd.DataFrame(rows, columns=cols)


def _joined(frame: pd.DataFrame, keys: list[str], value: str) -> pd.Series:
    """Sorted distinct values of `value` per group, joined with '; '."""
    distinct = frame[keys + [value]].dropna().drop_duplicates().sort_values(keys + [value], kind="stable")
    # A plain-Python pass over the sorted rows: far faster than a per-group pandas aggregation.
    joined: dict[tuple, list[str]] = {}
    for *key, item in zip(*(distinct[c].tolist() for c in keys + [value]), strict=True):
        joined.setdefault(tuple(key), []).append(item)
    index = (
        pd.MultiIndex.from_tuples(list(joined), names=keys)
        if len(keys) > 1
        else pd.Index([k[0] for k in joined], name=keys[0])
    )
    return pd.Series([_JOIN.join(v) for v in joined.values()], index=index, dtype="string")


def _summarise(links: pd.DataFrame, keys: list[str], keep) -> pd.DataFrame:
    """Counts per group; the groups `keep` selects from the counts get their '; '-joined lists."""
    named = links["recipient_label"].where(links["recipient_label"] != UNNAMED_RECIPIENT)
    work = links.assign(named_recipient=links["recipient"].where(named.notna()), named_label=named)
    out = work.groupby(keys).agg(
        la_name=("la_name", "first"),
        n_departments=("lineage", "nunique"),
        n_schemes=("scheme", "nunique"),
        n_recipients=("named_recipient", "nunique"),
        n_awards=("n_awards", "sum"),
        total_gbp=("amount_gbp", "sum"),
    )
    out = out[keep(out)]
    if out.empty:
        return out.reset_index()
    work = work.merge(out.index.to_frame(index=False), on=keys)
    for column, value in (
        ("departments", "department"),
        ("schemes", "scheme_label"),
        ("recipients", "named_label"),
    ):
        out[column] = _joined(work, keys, value)
    return out.reset_index()


def _is_overseas(frame: pd.DataFrame) -> pd.Series:
    lineage = frame["lineage"].astype("string").str.upper()
    return lineage.isin({x.upper() for x in OVERSEAS_LINEAGES}).fillna(False) | frame["policy_area"].isin(
        OVERSEAS_AREAS
    )


def find_duplication(awards: pd.DataFrame, graph: nx.MultiDiGraph | None = None) -> pd.DataFrame:
    """duplication.csv: cross_department and within_department findings (DUPLICATION_COLUMNS, then
    DUPLICATION_EXTRA_COLUMNS: the `explanation` sentence)."""
    columns = DUPLICATION_COLUMNS + DUPLICATION_EXTRA_COLUMNS
    graph = grant_graph(awards) if graph is None else graph
    links = graph_links(graph)
    links = links[
        (links["policy_area"] != UNCLASSIFIED)
        & (links["la_code"] != "")
        & (links["fy"] != "")
        & ~_is_overseas(links)
    ]
    if links.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})

    place = ["fy", "la_code", "policy_area"]
    cross = _summarise(links, place, lambda g: g["n_departments"] >= 2).assign(kind="cross_department")
    within = _summarise(
        links, place + ["lineage"], lambda g: (g["n_schemes"] >= 2) & (g["n_recipients"] >= 2)
    ).assign(kind="within_department")

    out = pd.concat([cross, within], ignore_index=True)
    if out.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    out["recipients"] = out["recipients"].astype("string").fillna("")
    out["total_gbp"] = out["total_gbp"].round(2)
    out = out.sort_values(["fy", "la_code", "policy_area", "kind", "departments"], kind="stable")
    out["explanation"] = pd.array([explain_finding(r) for r in out.to_dict("records")], dtype="string")
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


def explain_finding(row: dict) -> str:
    """One sentence a reader can quote, e.g. '3 DfT schemes to 10 recipients in Cornwall: transport.'"""
    place = row.get("la_name") or row.get("la_code") or "this place"
    n_s, n_r = int(row.get("n_schemes") or 0), int(row.get("n_recipients") or 0)
    schemes = f"{n_s} scheme{'s' if n_s != 1 else ''}"
    recipients = f"{n_r} recipient{'s' if n_r != 1 else ''}"
    area = row.get("policy_area") or "an unnamed policy area"
    if row.get("kind") == "within_department":
        dept = str(row.get("departments") or "one department").split(_JOIN)[0]
        return f"{n_s} {dept} schemes to {recipients} in {place}: {area}."
    n_d = int(row.get("n_departments") or 0)
    return (
        f"{n_d} departments ({row.get('departments') or ''}) fund {area} in {place} through {schemes} "
        f"to {recipients}."
    )


def number_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings in the order pages show them (per place and year: largest £ first, then policy area),
    numbered 1, 2, ... within each place and year in a `finding` column."""
    if findings.empty:
        return findings.assign(finding=pd.Series(dtype="int64"))
    out = findings.sort_values(
        ["fy", "la_code", "total_gbp", "policy_area", "kind"],
        ascending=[True, True, False, True, True],
        kind="stable",
    ).reset_index(drop=True)
    out["finding"] = out.groupby(["fy", "la_code"], sort=False).cumcount() + 1
    return out


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
    base = awards.assign(
        lineage=_lineage(awards),
        fy=awards["fy"].astype("string"),
        la_code=awards["la_code"].astype("string"),
        policy_area=awards["policy_area"].astype("string"),
    )
    on = ["fy", "la_code", "policy_area"]
    keys = findings.reset_index(drop=True)
    if "finding" not in keys.columns:
        keys = keys.assign(finding=keys.index + 1)
    keys = keys.assign(department=keys["departments"].astype("string").str.split(_JOIN))
    keys = keys.explode("department")[on + ["finding", "kind", "department"]].astype(
        {c: "string" for c in on + ["department"]}
    )
    # A finding's departments are the ones its awards came from, so matching on them selects exactly
    # the finding's awards for both kinds.
    out = keys.merge(base.astype({"department": "string"}), on=on + ["department"], how="inner")
    out = out[~_is_overseas(out)]
    out = out.sort_values(["la_code", "finding", "amount_gbp"], ascending=[True, True, False], kind="stable")
    return out[cols].reset_index(drop=True)
