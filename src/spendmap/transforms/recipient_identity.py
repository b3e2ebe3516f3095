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

Scale: identifiers are integer codes. Almost every record (all but 2,089 of 328,353 at 1,000,000
synthetic awards) shares no identifier with any other record; each is its own organisation, named by
its first identifier (its strongest kind comes first), and is handled in arrays. Only records sharing
an identifier with another record go through the union-find and the networkx graph: exactly the same
merges and refusals, as those records' identifiers meet no others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from networkx.utils import UnionFind

from spendmap.schemas import RECIPIENT_MERGE_COLUMNS  # recipient_merges.csv, declared with the others
from spendmap.transforms.council_names import normalise_council_name
from spendmap.transforms.names import IDENTIFIER_KINDS, WHITESPACE, recipient_identifiers, recipient_key

# The identifier an organisation is named by: strongest kind first (names.IDENTIFIER_KINDS), then
# name-at-postcode, then the smallest in text order.
_RANK = {kind: i for i, kind in enumerate(("council_org", *IDENTIFIER_KINDS, "name_postcode"))}
_RECORD = ["recipient_id", "recipient_name", "recipient_postcode", "recipient_charity_number",
           "recipient_company_number", "is_council_recipient", "la_code", "is_redacted"]
_STRONG = ("council_org", "council", "register_id", "charity_number", "company_number")
# A record's identifiers are kept as (record, kind, node) entries, kind its _RANK; the strong kinds
# rank first, so a kind below _N_STRONG is a register identifier and joins by `same_record`.
_N_STRONG, _NAME_POSTCODE = len(_STRONG), _RANK["name_postcode"]
assert tuple(_RANK)[:_N_STRONG] == _STRONG


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
    text = values.astype("string").str.upper().str.replace(f"[{WHITESPACE}]+", "", regex=True)
    return text.where(text.str.len() >= 5)  # an outward code alone ("B9") says too little


def _text_codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """Codes of the values as text, <NA> as the text "\x00" (what tells two records apart), and how
    many codes there are."""
    codes, uniques = values.factorize()  # <NA> is -1
    text = pd.Series(uniques).astype("string")
    if isinstance(values.dtype, pd.StringDtype) and not (text == "\x00").any():
        return np.where(codes < 0, len(text), codes), len(text) + 1  # already text: each value its own
    text = pd.concat([text, pd.Series([pd.NA], dtype="string")], ignore_index=True).fillna("\x00")
    text_codes, distinct = text.factorize()
    return text_codes[codes], len(distinct)  # <NA> (-1) takes the last: "\x00"


def _record_codes(awards: pd.DataFrame) -> np.ndarray:
    """Each award's recipient record (a distinct combination of the _RECORD columns as text), numbered
    in order of first appearance."""
    key, size = np.zeros(len(awards), dtype=np.int64), 1
    for column in _RECORD:
        if column in awards.columns:  # an absent column is <NA> on every award: it tells none apart
            codes, n = _text_codes(awards[column])
            if size * n >= 2**62:  # renumber the combinations seen so far before the key overflows
                key = pd.factorize(key)[0]
                size = int(key.max(initial=0)) + 1
            key, size = key * n + codes, size * n
    return pd.factorize(key)[0]


def _text_order(values) -> np.ndarray:
    """Each of distinct strings' place in Python's string order (code points: UTF-8 bytes sort alike)."""
    order = pc.sort_indices(pa.array(values)).to_numpy()
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(len(order))
    return place


@dataclass
class _Records:
    """Every identifier of every record as an entry (record, kind, node), in record order and within a
    record strongest kind first; `text` holds the node strings, `evidence` each record's first award."""

    record: np.ndarray
    kind: np.ndarray
    node: np.ndarray
    text: pd.api.extensions.ExtensionArray
    evidence: pd.Series
    n_records: int
    codes: np.ndarray  # each award's record
    keys_before: int  # how many keys names.recipient_key gave the records


def _records(awards: pd.DataFrame, council_names: Mapping[str, str], council_codes: Mapping[str, str]):
    """Distinct recipient records and their identifiers (kind, node) with the award that evidences them."""
    codes = _record_codes(awards)
    first = np.unique(codes, return_index=True)[1]
    columns = [c for c in (*_RECORD, "recipient_key") if c in awards.columns]
    records = awards[columns].iloc[first].reset_index(drop=True)
    ids = recipient_identifiers(records)
    keys_before = int(recipient_key(records, ids).nunique())
    is_council = ids["council"].notna().to_numpy()
    councils = records[is_council]
    own = normalise_council_name(councils["recipient_name"].astype("string")).map(council_names)
    if "la_code" in records:
        own = own.fillna(councils["la_code"].astype("string").map(council_codes))
    # A council recipient is its own council's org-id; the placed council's code only when its name
    # is not a known council name.
    council_org = own.astype("string").reindex(records.index)
    ids["council"] = ids["council"].where(council_org.isna())
    postcode = _postcode(records.get("recipient_postcode", pd.Series(pd.NA, index=records.index)))
    name_pc = ids["name"] + "|" + postcode
    strong = [council_org, *(ids[k] for k in IDENTIFIER_KINDS[:-1])]
    has_strong = pd.concat(strong, axis=1).notna().any(axis=1)
    # In _RANK order: the record's own key first (what names.recipient_key gave it), then its name at
    # its postcode.
    columns = [*strong, ids["name"].where(~has_strong), "NAMEPC:" + name_pc.str[len("NAME:"):]]
    present = [column.notna().to_numpy() for column in columns]
    record = np.concatenate([np.flatnonzero(p) for p in present])
    kind = np.concatenate([np.full(int(p.sum()), k, dtype=np.int64) for k, p in enumerate(present)])
    entries = pd.concat([c[p] for c, p in zip(columns, present, strict=True)], ignore_index=True)
    node, text = entries.factorize()
    order = np.argsort(record, kind="stable")  # record order, kinds in rank order within a record
    evidence = (
        awards["award_id"].astype("string").iloc[first].reset_index(drop=True)
        if "award_id" in awards.columns else pd.Series([str(i) for i in range(len(records))], dtype="string")
    )
    return _Records(record[order], kind[order], node[order], text.array, evidence, len(records), codes,
                    keys_before)


@dataclass
class _Shared:
    """The graph part: organisations of records sharing an identifier, and their name_postcode edges."""

    org: dict[int, int]  # node -> organisation node
    refused: set[tuple[int, int]]  # (record's first node, name-at-postcode node)


def _shared_organisations(head: np.ndarray, node: np.ndarray, kind: np.ndarray, first_kind: np.ndarray,
                          order: np.ndarray) -> _Shared:
    """Union-find and connected components over the entries of records that share an identifier.

    head/node/kind: those entries (each with its record's first node); first_kind: each node's kind
    where it first appears (it names the organisation); order: each node's place in text order.
    """
    groups = UnionFind()
    is_strong = kind < _N_STRONG
    strong_edges = list(zip(head[is_strong].tolist(), node[is_strong].tolist(), strict=True))
    for a, b in strong_edges:
        groups.union(a, b)
    members = np.unique(np.concatenate([head, node])).tolist()
    strong_root: dict[int, bool] = {}
    for n in members:  # a group holds a register identifier if any member does
        root = groups[n]
        strong_root[root] = strong_root.get(root, False) or bool(first_kind[n] < _N_STRONG)
    weak = kind == _NAME_POSTCODE
    a_all, b_all = head[weak], node[weak]
    # Edges in the order the rules take them: by identifier, then name-at-postcode, in text order.
    pairs = pd.DataFrame({"a": a_all, "b": b_all, "ka": order[a_all], "kb": order[b_all]})
    pairs = pairs.drop_duplicates(["a", "b"]).sort_values(["ka", "kb"], kind="stable")
    accepted, refused = [], set()
    for a, b in zip(pairs["a"].tolist(), pairs["b"].tolist(), strict=True):
        ra, rb = groups[a], groups[b]
        if ra == rb:
            accepted.append((a, b))
            continue
        if strong_root[ra] and strong_root[rb]:
            refused.add((a, b))
            continue
        groups.union(ra, rb)
        strong_root[groups[ra]] = strong_root[ra] or strong_root[rb]
        accepted.append((a, b))

    # Each organisation is a connected component; it is named by its strongest identifier.
    graph = nx.Graph()
    graph.add_nodes_from(members)
    graph.add_edges_from(strong_edges)
    graph.add_edges_from(accepted)
    org: dict[int, int] = {}
    for component in nx.connected_components(graph):
        best = min(component, key=lambda n: (first_kind[n], order[n]))
        org.update(dict.fromkeys(component, best))
    return _Shared(org, refused)


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
    rec = _records(awards, council_names or {}, council_codes or {})
    n_nodes = len(rec.text)
    starts = np.r_[True, rec.record[1:] != rec.record[:-1]] if len(rec.record) else np.zeros(0, bool)
    head = np.full(rec.n_records, -1, dtype=np.int64)  # each record's first (strongest) node; -1: none
    head[rec.record[starts]] = rec.node[starts]
    head_of = head[rec.record]
    first = ~pd.Series(rec.node).duplicated().to_numpy()
    first_kind = np.zeros(n_nodes, dtype=np.int64)  # a node's kind where it first appears
    first_kind[rec.node[first]] = rec.kind[first]
    once = ~pd.Series(rec.record * n_nodes + rec.node).duplicated().to_numpy()  # a node twice in a record
    records_per_node = np.bincount(rec.node[once], minlength=n_nodes)
    shared = np.zeros(rec.n_records, dtype=bool)  # a record with an identifier another record has too
    shared[rec.record[records_per_node[rec.node] > 1]] = True
    in_shared = shared[rec.record]

    # A record none of whose identifiers another record has is its own organisation, named by its first
    # identifier (its strongest kind); the others are joined in the graph.
    org = head.copy()
    order = np.zeros(n_nodes, dtype=np.int64)
    sub = pd.unique(rec.node[in_shared])
    order[sub] = _text_order(rec.text.take(sub))
    graph = _shared_organisations(head_of[in_shared], rec.node[in_shared], rec.kind[in_shared], first_kind,
                                  order)
    joined = np.flatnonzero(shared)
    org[joined] = [graph.org[h] for h in head[joined].tolist()]

    award_org = org[rec.codes]
    label = _labels(awards, award_org, n_nodes)
    organisations = pd.DataFrame(
        {"organisation_id": rec.text.take(award_org, allow_fill=True),
         "organisation_name": label.names.take(label.of[award_org], allow_fill=True)},
        index=awards.index,
    )
    named = np.flatnonzero(head >= 0)
    one = named[~pd.Series(head[named]).duplicated().to_numpy()]  # one record per distinct head
    several = np.bincount(org[one], minlength=n_nodes) >= 2  # organisations holding several records' keys
    merges = _merge_table(rec, starts, head_of, org, several, graph.refused, label)
    summary = {
        "recipient_records": len(named),
        "recipient_keys_before": rec.keys_before,
        "organisations": len(pd.unique(org[named])),
        "merges": int(merges["merged"].sum()) if len(merges) else 0,
        "merges_refused": int((~merges["merged"].astype(bool)).sum()),
        "rules": {r: int((merges["rule"] == r).sum()) for r in ("same_record", "name_postcode")},
    }
    return RecipientIdentity(organisations, merges, summary)


@dataclass
class _Labels:
    names: pd.api.extensions.ExtensionArray  # distinct recipient names as given (stripped)
    of: np.ndarray  # per organisation node, its name's index in `names`; -1 (and the last entry): none


def _labels(awards: pd.DataFrame, award_org: np.ndarray, n_nodes: int) -> _Labels:
    """Each organisation's name: the spelling most of its awards give (ties: the first in text order)."""
    of = np.full(n_nodes + 1, -1, dtype=np.int64)  # award_org -1 takes the last: no name
    if "recipient_name" not in awards:
        return _Labels(pd.array([], dtype="string"), of)
    code, names = awards["recipient_name"].astype("string").str.strip().factorize()
    names = names.array
    if not len(names):
        return _Labels(names, of)
    blank = np.asarray(names == "", dtype=bool)
    keep = (award_org >= 0) & (code >= 0)
    keep[keep] = ~blank[code[keep]]
    pair, count = np.unique(award_org[keep] * len(names) + code[keep], return_counts=True)
    o, n = pair // len(names), pair % len(names)
    best = np.lexsort((_text_order(names)[n], -count, o))
    o, n = o[best], n[best]
    first = np.r_[True, o[1:] != o[:-1]] if len(o) else np.zeros(0, bool)
    of[o[first]] = n[first]
    return _Labels(names, of)


def _describe(node: str) -> str:
    if node.startswith("NAMEPC:"):
        name, _, postcode = node[len("NAMEPC:"):].rpartition("|")
        return f"the name '{name}' at {postcode}"
    if node.startswith("NAME:"):
        return f"the name '{node[len('NAME:'):]}' with no register id"
    return node


def _sentence(a: str, b: str, merged: bool, evidence: str | None) -> str:
    """A name_postcode edge's explanation (same_record ones: _merge_table)."""
    if not merged:
        return (f"Not merged: {_describe(a)} and {_describe(b)} share a name and postcode, but each already "
                "belongs to an organisation with its own register id.")
    name, _, postcode = b[len("NAMEPC:"):].rpartition("|")
    who = "an unidentified recipient" if a.startswith("NAME:") else a
    return (f"Award {evidence} is to {who} named '{name}' at {postcode}: records with that name at that "
            "postcode are one organisation.")


def _merge_table(rec: _Records, starts: np.ndarray, head_of: np.ndarray, org: np.ndarray,
                 several: np.ndarray, refused: set, label: _Labels) -> pd.DataFrame:
    """Edges inside organisations of two or more identifiers, and refused edges, with a sentence each.

    An edge joins a record's first node to each of its other nodes. One given by several records is
    listed once with the last record's award (as a graph keeps an edge's latest attributes); a refused
    one once per record."""
    # A record whose register org-id is its own charity or company number (GB-CHC-1 and charity 1) names
    # one identifier twice: that is no merge, so it is not listed.
    strong = ~starts & (rec.kind < _N_STRONG) & (head_of != rec.node)
    weak = rec.kind == _NAME_POSTCODE
    if not strong.any() and not weak.any():
        return pd.DataFrame([], columns=RECIPIENT_MERGE_COLUMNS).astype(
            {c: "string" for c in RECIPIENT_MERGE_COLUMNS if c != "merged"})
    n = len(rec.text)
    # same_record: every one is listed (two identifiers of one body).
    record, a, b = rec.record[strong], head_of[strong], rec.node[strong]
    last = ~pd.Series(np.minimum(a, b) * n + np.maximum(a, b)).duplicated(keep="last").to_numpy()
    same = (record[last], a[last], b[last])
    # name_postcode: a record's own name-at-postcode edge merges nothing; keep the edges of
    # organisations that hold several records' keys, and every refusal.
    record, a, b = rec.record[weak], head_of[weak], rec.node[weak]
    key = a * n + b
    not_merged = np.isin(key, np.array([x * n + y for x, y in refused], dtype=np.int64))
    merged = ~not_merged & ~pd.Series(key).duplicated(keep="last").to_numpy() & several[org[record]]
    listed = merged | not_merged
    named = (record[listed], a[listed], b[listed])
    evidence = rec.evidence.to_numpy(dtype=object, na_value=None)
    text = [_sentence(x, y, ok, e) for x, y, ok, e in zip(
        rec.text.take(named[1]).tolist(), rec.text.take(named[2]).tolist(), merged[listed].tolist(),
        evidence[named[0]].tolist(), strict=True)]
    award = rec.evidence.fillna("None").iloc[same[0]].reset_index(drop=True)  # as f"{None}" writes it
    explanation = pd.concat([
        "Award " + award + " gives both " + pd.Series(rec.text.take(same[1])) + " and "
        + pd.Series(rec.text.take(same[2])) + ": one organisation.",
        pd.Series(text, dtype="string"),
    ], ignore_index=True)
    record, a, b = (np.concatenate([x, y]) for x, y in zip(same, named, strict=True))
    is_same = np.r_[np.ones(len(same[0]), bool), np.zeros(len(named[0]), bool)]
    ok = np.r_[np.ones(len(same[0]), bool), merged[listed]]
    o = org[record]
    # By organisation, rule ("name_postcode" before "same_record"), identifier, joined_to, in text
    # order; stable, so one refused edge of several records keeps their order.
    involved = pd.unique(np.concatenate([o, a, b]))
    place = np.zeros(n, dtype=np.int64)
    place[involved] = _text_order(rec.text.take(involved))
    rows = np.lexsort((place[b], place[a], is_same, place[o]))
    o = o[rows]
    return pd.DataFrame({
        "organisation_id": rec.text.take(o),
        "organisation_name": label.names.take(label.of[o], allow_fill=True),
        "identifier": rec.text.take(a[rows]),
        "joined_to": rec.text.take(b[rows]),
        "rule": pd.array(np.where(is_same[rows], "same_record", "name_postcode"), dtype="string"),
        "merged": ok[rows],
        "award_id": rec.evidence.array.take(record[rows]),
        "explanation": explanation.array.take(rows),
    })
