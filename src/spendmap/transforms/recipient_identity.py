"""Recipient identity: the same organisation under several ids, names and postcodes counted once.

A recipient record (one distinct combination of recipient id, name, postcode, charity and company
number) carries identifiers (transforms.names.recipient_identifiers): a council's own org-id, a
register org-id (GB-CHC-…, GB-COH-…, GB-LAE-…), a charity number, a company number, and always its
normalised name at its postcode; a record with no identifier at all also carries its normalised name
alone. The identifiers are nodes of a networkx graph; the edges, each with its reason, join them:

- `same_record`: one award carries both (a company number and a charity number; a council's name and
  its org-id). Always merged: the publisher said they are one body.
- `name_postcode`: a record's key and its normalised name at its postcode. Two records with the same
  name at the same postcode ("West Midlands Travel Ltd" and "… Limited", both `west midlands travel`
  at B9 4BZ) meet at that node and are one organisation. Records with no identifier are keyed by their
  name alone (`NAME:…`), as spendmap always counted unidentified recipients.

Organisations are the connected components. A name never overrides a register: a `name_postcode` edge
that would join two groups that each hold a register identifier (two company numbers at one address)
is refused, and listed as refused, so no merge is silent.

A council recipient is its OWN council (Harrogate Borough Council, GB-LAE-HAG), not the current council
its award is placed in (North Yorkshire): predecessors stay organisations of their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
import pandas as pd
from networkx.utils import UnionFind

from spendmap.schemas import RECIPIENT_MERGE_COLUMNS  # recipient_merges.csv, declared with the others
from spendmap.transforms.council_names import normalise_council_name
from spendmap.transforms.names import IDENTIFIER_KINDS, recipient_identifiers, recipient_key

# The identifier an organisation is named by: strongest kind first (names.IDENTIFIER_KINDS), then
# name-at-postcode, then the smallest in text order.
_RANK = {kind: i for i, kind in enumerate(("council_org", *IDENTIFIER_KINDS, "name_postcode"))}
_RECORD = ["recipient_id", "recipient_name", "recipient_postcode", "recipient_charity_number",
           "recipient_company_number", "is_council_recipient", "la_code", "is_redacted"]
_STRONG = ("council_org", "council", "register_id", "charity_number", "company_number")


@dataclass
class RecipientIdentity:
    """organisations: aligned to the awards (organisation_id, organisation_name); merges:
    RECIPIENT_MERGE_COLUMNS; summary: for the manifest (records, keys before, organisations after)."""

    organisations: pd.DataFrame
    merges: pd.DataFrame
    summary: dict


def council_lookup(council_ids: pd.DataFrame) -> dict[str, str]:
    """Normalised council name -> that council's own org-id, for names that name one council only.

    `council_ids` is sources.councils.council_org_ids() (columns name, org_id).
    """
    keys = normalise_council_name(council_ids["name"].astype("string"))
    pairs = pd.DataFrame({"key": keys, "org_id": council_ids["org_id"].astype("string")}).drop_duplicates()
    pairs = pairs[pairs["key"].str.len() > 0]
    unique = pairs[pairs.groupby("key")["org_id"].transform("nunique") == 1]
    return dict(zip(unique["key"], unique["org_id"], strict=True))


def _postcode(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.upper().str.replace(r"\s+", "", regex=True)
    return text.where(text.str.len() >= 5)  # an outward code alone ("B9") says too little


def _records(awards: pd.DataFrame, council_names: Mapping[str, str], council_codes: Mapping[str, str]):
    """Distinct recipient records, their identifiers as (kind, node) lists with the award that evidences
    them, each award's record, and how many keys names.recipient_key gave the records before."""
    frame = pd.DataFrame(
        {c: (awards[c] if c in awards.columns else pd.Series(pd.NA, index=awards.index)) for c in _RECORD}
    ).astype("string")
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(frame.fillna("\x00")))
    first = pd.Series(range(len(frame))).groupby(codes).first()
    records = awards.iloc[first.to_numpy()].reset_index(drop=True)
    ids = recipient_identifiers(records)
    is_council = ids["council"].notna()
    own = normalise_council_name(records["recipient_name"].astype("string")).map(council_names)
    current = records["la_code"].astype("string").map(council_codes) if "la_code" in records else None
    if current is not None:
        own = own.fillna(current)
    # A council recipient is its own council's org-id; the placed council's code only when its name
    # is not a known council name.
    council_org = own.where(is_council).astype("string")
    ids["council"] = ids["council"].where(council_org.isna())
    postcode = _postcode(records.get("recipient_postcode", pd.Series(pd.NA, index=records.index)))
    name_pc = ids["name"] + "|" + postcode
    strong = pd.concat([council_org.rename("council_org"), ids[list(IDENTIFIER_KINDS[:-1])]], axis=1)
    has_strong = strong.notna().any(axis=1)
    award_ids = (
        awards["award_id"].astype("string").to_numpy(dtype=object, na_value=None)[first.to_numpy()].tolist()
        if "award_id" in awards.columns else [str(i) for i in range(len(records))]
    )
    kinds = list(strong.columns)
    values = strong.to_numpy(dtype=object, na_value=None).tolist()  # plain lists: fast to walk
    names = ids["name"].where(~has_strong).to_numpy(dtype=object, na_value=None).tolist()
    at_postcode = ("NAMEPC:" + name_pc.str[len("NAME:"):]).to_numpy(dtype=object, na_value=None).tolist()
    out = []
    for row, name, name_at, evidence in zip(values, names, at_postcode, award_ids, strict=True):
        # The record's own key first (what names.recipient_key gave it), then its name at its postcode.
        nodes = [(k, v) for k, v in zip(kinds, row, strict=True) if v is not None]
        if name is not None:
            nodes.append(("name", name))
        if name_at is not None:
            nodes.append(("name_postcode", name_at))
        out.append((nodes, evidence))
    keys_before = int(recipient_key(records.drop(columns=["organisation_id"], errors="ignore")).nunique())
    return out, codes, keys_before


def resolve_recipients(
    awards: pd.DataFrame,
    council_names: Mapping[str, str] | None = None,
    council_codes: Mapping[str, str] | None = None,
) -> RecipientIdentity:
    """organisation_id and organisation_name for every award, and the table of merges.

    council_names: normalised council name -> own org-id (council_lookup); council_codes: current
    la_code -> org-id (a council recipient whose name is not a known council name). Both optional:
    without them a council recipient is the council it is placed in (`COUNCIL:<la_code>`).
    Redacted awards and awards naming no recipient get <NA>.
    """
    records, codes, keys_before = _records(awards, council_names or {}, council_codes or {})
    kind_of: dict[str, str] = {}
    strong_edges, weak_edges = [], []
    for nodes, evidence in records:
        for kind, node in nodes:
            kind_of.setdefault(node, kind)
        if not nodes:
            continue
        head = nodes[0][1]
        for kind, node in nodes[1:]:
            rule = "same_record" if kind in _STRONG else "name_postcode"
            (weak_edges if rule != "same_record" else strong_edges).append((head, node, rule, evidence))

    graph = nx.Graph()
    graph.add_nodes_from(kind_of)
    groups = UnionFind(kind_of)
    strong_root: dict[str, bool] = {n: kind_of[n] in _STRONG for n in kind_of}
    for a, b, rule, evidence in strong_edges:
        graph.add_edge(a, b, rule=rule, award_id=evidence, record_key=a)
        groups.union(a, b)
    for n in kind_of:  # a group holds a register identifier if any member does
        root = groups[n]
        strong_root[root] = strong_root.get(root, False) or kind_of[n] in _STRONG
    refused = []
    for a, b, rule, evidence in sorted(weak_edges, key=lambda e: (e[2] != "name_postcode", e[0], e[1])):
        ra, rb = groups[a], groups[b]
        if ra == rb:
            graph.add_edge(a, b, rule=rule, award_id=evidence, record_key=a)
            continue
        if strong_root[ra] and strong_root[rb]:
            refused.append((a, b, rule, evidence))
            continue
        groups.union(ra, rb)
        strong_root[groups[ra]] = strong_root[ra] or strong_root[rb]
        graph.add_edge(a, b, rule=rule, award_id=evidence, record_key=a)

    # Each organisation is a connected component; it is named by its strongest identifier.
    org_of: dict[str, str] = {}
    for component in nx.connected_components(graph):
        best = min(component, key=lambda n: (_RANK[kind_of[n]], n))
        org_of.update(dict.fromkeys(component, best))
    record_org = [org_of[nodes[0][1]] if nodes else None for nodes, _ in records]
    org = pd.array([record_org[c] if c >= 0 else None for c in codes], dtype="string")

    names = awards["recipient_name"].astype("string").str.strip() if "recipient_name" in awards else None
    label: dict[str, str] = {}
    if names is not None:
        counts = Counter(zip(org, names, strict=True))
        best: dict[str, tuple] = {}
        for (o, n), k in counts.items():
            if o is pd.NA or o is None or n is pd.NA or not n:
                continue
            if o not in best or (-k, n) < best[o]:
                best[o] = (-k, n)
        label = {o: n for o, (_, n) in best.items()}
    organisations = pd.DataFrame(
        {"organisation_id": org, "organisation_name": pd.array([label.get(o) if o is not pd.NA else None
                                                                for o in org], dtype="string")},
        index=awards.index,
    )
    before = {nodes[0][1] for nodes, _ in records if nodes}
    merges = _merge_table(graph, org_of, label, refused, before)
    named = [r for r, (nodes, _) in zip(record_org, records, strict=True) if nodes]
    summary = {
        "recipient_records": len(named),
        "recipient_keys_before": keys_before,
        "organisations": len(set(named)),
        "merges": int(merges["merged"].sum()) if len(merges) else 0,
        "merges_refused": len(refused),
        "rules": {r: int((merges["rule"] == r).sum()) for r in ("same_record", "name_postcode")},
    }
    return RecipientIdentity(organisations, merges, summary)


def _describe(node: str) -> str:
    if node.startswith("NAMEPC:"):
        name, _, postcode = node[len("NAMEPC:"):].rpartition("|")
        return f"the name '{name}' at {postcode}"
    if node.startswith("NAME:"):
        return f"the name '{node[len('NAME:'):]}' with no register id"
    return node


def _sentence(a: str, b: str, rule: str, merged: bool, evidence: str) -> str:
    if not merged:
        return (f"Not merged: {_describe(a)} and {_describe(b)} share a name and postcode, but each already "
                "belongs to an organisation with its own register id.")
    if rule == "same_record":
        return f"Award {evidence} gives both {a} and {b}: one organisation."
    name, _, postcode = b[len("NAMEPC:"):].rpartition("|")
    who = "an unidentified recipient" if a.startswith("NAME:") else a
    return (f"Award {evidence} is to {who} named '{name}' at {postcode}: records with that name at that "
            "postcode are one organisation.")


def _merge_table(graph: nx.Graph, org_of: dict, label: dict, refused: list, heads: set) -> pd.DataFrame:
    """Edges inside organisations of two or more identifiers, and refused edges, with a sentence each."""
    rows = []
    for u, v, data in graph.edges(data=True):
        a = data["record_key"]
        b = v if a == u else u
        org = org_of[a]
        rows.append((org, label.get(org), a, b, data["rule"], True, data["award_id"],
                     _sentence(a, b, data["rule"], True, data["award_id"])))
    for a, b, rule, evidence in refused:
        rows.append((org_of[a], label.get(org_of[a]), a, b, rule, False, evidence,
                     _sentence(a, b, rule, False, evidence)))
    out = pd.DataFrame(rows, columns=RECIPIENT_MERGE_COLUMNS)
    if out.empty:
        return out.astype({c: "string" for c in RECIPIENT_MERGE_COLUMNS if c != "merged"})
    # A record's own name-at-postcode edge merges nothing: keep the edges of organisations that hold
    # several records' keys, every same_record edge (two identifiers of one body) and every refusal.
    heads_per_org = Counter(org_of[h] for h in heads)
    several = out["organisation_id"].map(heads_per_org).fillna(0) >= 2
    out = out[several | (out["rule"] == "same_record") | ~out["merged"]]
    out = out.sort_values(["organisation_id", "rule", "identifier", "joined_to"], kind="stable")
    return out.reset_index(drop=True).astype({c: "string" for c in RECIPIENT_MERGE_COLUMNS if c != "merged"})
