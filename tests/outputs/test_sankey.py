"""Sankey figure dicts: layered node ids, both weights, grouping, conservation and escaping."""

from __future__ import annotations

import html
from collections import defaultdict

import pandas as pd

from spendmap.outputs.sankey import TYPE_LABELS, cra_sankey, grants_sankey
from spendmap.transforms.names import recipient_key

from .conftest import HOSTILE, WAKEFIELD, make_awards, make_tables


def _wakefield() -> pd.DataFrame:
    a = make_awards()
    return a[a["la_code"] == WAKEFIELD]


def _layer(label_index: dict[int, str], i: int) -> str:
    return label_index[i]


def test_grants_weights_and_conservation():
    awards = _wakefield()
    s = grants_sankey(awards, "Wakefield", "2016-17")
    trace = s.figure["data"][0]
    link = trace["link"]
    counts, gbp = s.figure["weights"]["count"], s.figure["weights"]["gbp"]
    assert link["value"] == gbp  # money first: the page opens on £, the count view one click away
    labels = trace["node"]["label"]
    dept_idx = {i for i, lbl in enumerate(labels) if lbl.startswith(("DfT ·", "MoJ ·"))}
    assert len(dept_idx) == 2
    # Department outflow = all awards (16) and all positive £ (negatives cannot be drawn).
    out_n = sum(v for s_, v in zip(link["source"], counts, strict=True) if s_ in dept_idx)
    out_gbp = sum(v for s_, v in zip(link["source"], gbp, strict=True) if s_ in dept_idx)
    assert out_n == len(awards) == 16
    assert (
        out_gbp == awards["amount_gbp"].clip(lower=0).sum() == 3_725_500
    )  # 195k bus + 3.25m LTP + 65.5k cycle + 155k victims + 60k legal
    # Every scheme node passes on exactly what it receives, in both weights.
    for weights in (counts, gbp):
        inflow, outflow = defaultdict(float), defaultdict(float)
        for a, b, v in zip(link["source"], link["target"], weights, strict=True):
            outflow[a] += v
            inflow[b] += v
        for node in set(inflow) & set(outflow):
            assert abs(inflow[node] - outflow[node]) < 1e-6
    assert s.notes and "negative amount" in s.notes[0] and "-£2,000" in s.notes[0]


def test_grants_labels_money_escaping_and_grouping():
    s = grants_sankey(_wakefield(), "Wakefield", "2016-17")
    labels = s.figure["data"][0]["node"]["label"]
    assert "DfT · £3.5m · 11 awards" in labels  # 3,510,500 of DfT money
    assert "Local Transport Plan · £3.2m · 2" in labels
    # A hostile scheme title is escaped for plotly (which decodes entities back to text), never raw.
    assert not any("<b>" in lbl for lbl in labels)
    assert any(lbl.startswith("Victims Services &lt;b&gt;bold&lt;/b&gt;") for lbl in labels)
    assert HOSTILE not in "".join(labels)  # recipient names are escaped too


def _last_layer(s) -> list[str]:
    trace = s.figure["data"][0]
    sources = set(trace["link"]["source"])
    return [lbl.split(" · ")[0] for i, lbl in enumerate(trace["node"]["label"]) if i not in sources]


def test_largest_recipients_get_a_node_where_there_is_room():
    awards = _wakefield()
    keys = recipient_key(awards)
    assert keys.nunique() == 14  # more than 12: the 8 largest by £, the rest grouped by type
    s = grants_sankey(awards, "Wakefield", "2016-17")
    last = _last_layer(s)
    by_gbp = (
        awards.assign(k=keys, g=awards["amount_gbp"].clip(lower=0))
        .dropna(subset=["k"])
        .groupby("k")
        .agg(g=("g", "sum"), n=("g", "size"), name=("recipient_name", "first"))
        .sort_values(["g", "n"], ascending=False, kind="stable")
    )
    top = [html.escape(n, quote=False) for n in by_gbp["name"].head(8)]
    assert [x for x in last if x in top] == [x for x in top if x in last] and len(set(top) & set(last)) == 8
    grouped = sorted(x for x in last if x not in top)
    # The council and 7 unknown-type recipients have their own node; the other 5 unknown-type recipients
    # are "Others" of their type; no CIC is among the largest, so that type keeps its plain label.
    assert grouped == ["CICs and mutuals (1)", "Others of unknown type (5)", "Redacted or unnamed recipients"]
    assert "largest recipients and recipient types" in s.title


def test_few_recipients_end_in_the_recipients_themselves():
    awards = _wakefield()
    s = grants_sankey(awards, "Wakefield", "2016-17", all_recipients_max=14)
    last = _last_layer(s)
    assert len(last) == 14 + 1  # every recipient, and the redacted award
    assert not any(x.rsplit(" (", 1)[0] in TYPE_LABELS.values() for x in last)
    assert s.title.endswith("department → scheme → recipient")
    # No room for any: the last layer is recipient types, each with its distinct recipients
    # (Wakefield Council twice is one council).
    none = grants_sankey(awards, "Wakefield", "2016-17", all_recipients_max=0, top_recipients=0)
    types_only = _last_layer(none)
    assert sorted(types_only) == [
        "CICs and mutuals (1)", "Councils (1)", "Redacted or unnamed recipients", "Type unknown (12)"
    ]


def test_node_ids_are_layered_so_a_funder_recipient_makes_no_cycle():
    awards = _wakefield().head(3).copy()
    awards["scheme_title"] = "DfT"  # a scheme labelled like its department
    awards["scheme_code"] = pd.NA
    s = grants_sankey(awards, "Wakefield", "2016-17")
    link = s.figure["data"][0]["link"]
    labels = s.figure["data"][0]["node"]["label"]
    assert sum(lbl.startswith("DfT ·") for lbl in labels) == 2  # department node and scheme node
    # Links only go forward: department -> scheme -> recipient.
    layer = {}
    for a, b in zip(link["source"], link["target"], strict=True):
        layer.setdefault(a, 0)
        layer[b] = max(layer.get(b, 0), layer[a] + 1)
    assert all(layer[b] > layer[a] for a, b in zip(link["source"], link["target"], strict=True))


def test_scheme_grouping_per_department():
    awards = _wakefield()
    s = grants_sankey(awards, "Wakefield", "2016-17", max_schemes=1)
    labels = s.figure["data"][0]["node"]["label"]
    # LTP01 is top by £; BUS01 top by count -> both kept; the remaining DfT and MoJ schemes are grouped.
    assert any(lbl.startswith("Other DfT schemes (1)") for lbl in labels)
    assert any(lbl.startswith("Other MoJ schemes (2)") for lbl in labels)


def test_empty_awards():
    s = grants_sankey(_wakefield().iloc[0:0], "Rutland", "2016-17")
    assert s.is_empty and s.figure["data"] == []
    assert s.notes == ["No grant awards were placed in Rutland for 2016-17."]


def test_cra_sankey_per_head_and_negative_lines():
    cra = make_tables().cra_allocation
    cra = cra[cra["la_code"] == WAKEFIELD]
    s = cra_sankey(cra, "Wakefield", "2016-17")
    trace = s.figure["data"][0]
    labels = trace["node"]["label"]
    assert len(labels) == 4 + 4 + 1
    council = labels.index(next(lbl for lbl in labels if lbl.startswith("Wakefield ·")))
    into_council = sum(
        v for v, t in zip(trace["link"]["value"], trace["link"]["target"], strict=True) if t == council
    )
    positive = cra.groupby(["department", "function"])["allocated_gbp"].sum().clip(lower=0).sum()
    assert abs(into_council - positive) < 1e-6
    hover = " ".join(trace["node"]["customdata"])
    assert "per head here" in hover and "in Yorkshire and The Humber" in hover and "in England" in hover
    assert s.notes and "net negative" in s.notes[0]


def test_cra_departments_beyond_the_largest_are_grouped():
    cra = make_tables().cra_allocation
    cra = cra[cra["la_code"] == WAKEFIELD]
    s = cra_sankey(cra, "Wakefield", "2016-17", max_departments=2)
    labels = s.figure["data"][0]["node"]["label"]
    # DWP (£945m) and Health (£693m) kept; Transport and MoJ grouped.
    assert [lbl.split(" · ")[0] for lbl in labels[:3]] == [
        "Department for Work and Pensions",
        "Department of Health",
        "Other departments (2)",
    ]
    full = cra_sankey(cra, "Wakefield", "2016-17")

    def into_council(fig: dict) -> float:
        link, labels = fig["data"][0]["link"], fig["data"][0]["node"]["label"]
        return sum(
            v for v, t in zip(link["value"], link["target"], strict=True) if labels[t].startswith("Wakefield")
        )

    assert abs(into_council(s.figure) - into_council(full.figure)) < 1e-6  # grouping keeps the total
