"""Sankey figures as plain plotly JSON dicts (no plotly Python objects: building ~800 figures must be fast).

Two diagrams per council:
- grants: department -> scheme -> recipient, with link values for both weights (number of awards and
  £ value) so the page can switch between them;
- CRA: department -> function -> council, from the population-weighted CRA allocation.

Node ids are prefixed by layer (`dept:`, `scheme:`, `recipient:`, ...) so an organisation that is both a
funder and a recipient is two nodes and the diagram cannot contain a cycle.

Labels and hover text are HTML-escaped: plotly renders a small HTML subset in labels and decodes
entities, so an escaped `<script>` shows as text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from spendmap.outputs.money import format_count, format_gbp, format_gbp_full, format_per_head, format_share

# Colour-blind-safe palette (Okabe–Ito plus extras) for departments; links take their department's hue.
PALETTE = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C6D31", "#6A3D9A",
    "#B15928", "#1B9E77", "#7570B3", "#E7298A", "#66A61E", "#A6761D", "#1F78B4", "#33A02C",
]
OTHER_COLOUR = "#8C8C8C"
LABEL_MAX = 42

WEIGHT_COUNT = "count"
WEIGHT_GBP = "gbp"


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _text(value: object) -> str:
    """Escaped text for plotly labels/hover (plotly decodes entities back to characters as text)."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    # quote=False: plotly decodes &amp; &lt; &gt; but shows &quot; literally.
    return html.escape(str(value), quote=False)


def _short(value: str, limit: int = LABEL_MAX) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


@dataclass
class SankeyData:
    """A figure dict ready for json, plus facts the page caption needs."""

    figure: dict
    title: str = ""
    n_nodes: int = 0
    n_links: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return self.n_links == 0


class _Builder:
    """Accumulates nodes (by layered id) and links with both weights."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.labels: list[str] = []
        self.colours: list[str] = []
        self.node_hover: list[str] = []
        self.src: list[int] = []
        self.dst: list[int] = []
        self.count: list[float] = []
        self.gbp: list[float] = []
        self.link_colour: list[str] = []
        self.link_hover: list[str] = []

    def node(self, node_id: str, label: str, colour: str, hover: str) -> int:
        if node_id not in self.index:
            self.index[node_id] = len(self.labels)
            self.labels.append(label)
            self.colours.append(colour)
            self.node_hover.append(hover)
        return self.index[node_id]

    def link(self, s: int, t: int, count: float, gbp: float, colour: str, hover: str) -> None:
        self.src.append(s)
        self.dst.append(t)
        self.count.append(float(count))
        self.gbp.append(float(gbp))
        self.link_colour.append(colour)
        self.link_hover.append(hover)


def _layout(height: int) -> dict:
    # No plotly title: the page's <h1> carries it (plain text, escaped by the template).
    return {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12,
                 "color": "#1a1a1a"},
        "paper_bgcolor": "#ffffff",
        "hoverlabel": {"align": "left"},
    }


def _height(n_in_biggest_layer: int) -> int:
    return int(max(420, min(2600, 26 * n_in_biggest_layer + 80)))


def _top_within(stats: pd.DataFrame, group: str | None, limit: int) -> pd.Series:
    """Boolean mask over `stats` rows (columns n, gbp): in the top `limit` of their group by £ or by count.

    The diagram shows both weights, so an item kept for either ranking stays visible in both views.
    """
    if stats.empty:
        return pd.Series(False, index=stats.index)
    keys = [group] if group else []

    def ranked(first: str, second: str) -> pd.Series:
        order = stats.sort_values(keys + [first, second], ascending=[True] * len(keys) + [False, False],
                                  kind="stable")
        pos = order.groupby(group, sort=False).cumcount() if group else pd.Series(
            range(len(order)), index=order.index)
        return (pos < limit).reindex(stats.index)

    return ranked("gbp", "n") | ranked("n", "gbp")


def _scheme_key(df: pd.DataFrame) -> pd.Series:
    code = df["scheme_code"].astype("string").str.strip()
    title = df["scheme_title"].astype("string").str.strip()
    fallback = df["title"].astype("string").str.strip()
    key = code.where(code.notna() & (code != ""), "title:" + title.fillna(""))
    key = key.where(key != "title:", "award:" + fallback.fillna("(no scheme)"))
    return key


def _scheme_label(df: pd.DataFrame) -> pd.Series:
    title = df["scheme_title"].astype("string").str.strip()
    code = df["scheme_code"].astype("string").str.strip()
    label = title.where(title.notna() & (title != ""), code)
    label = label.where(label.notna() & (label != ""), df["title"].astype("string"))
    return label.fillna("(no scheme title)")


def _recipient_key_label(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    name = df["recipient_name"].astype("string").str.strip().fillna("(no recipient name)")
    rid = df["recipient_id"].astype("string").str.strip()
    redacted = df["is_redacted"].astype("boolean").fillna(False)
    key = rid.where(rid.notna() & (rid != ""), "name:" + name.str.lower())
    key = key.where(~redacted, "redacted")
    label = name.where(~redacted, "Redacted recipients")
    return key, label


def grants_sankey(
    awards: pd.DataFrame,
    place_name: str,
    fy: str,
    max_schemes: int = 20,
    recipients_per_scheme: int = 5,
) -> SankeyData:
    """Department -> scheme -> recipient for one council's awards, with both link weights.

    Schemes outside the top `max_schemes` (by £ or by number of awards) fold into one
    "Other <dept> schemes (k)" node per department; recipients outside each scheme's top
    `recipients_per_scheme` fold into one "Other recipients (k)" node. Negative amounts are not drawn
    in the £ view (a Sankey cannot show them) and are counted in `notes`.
    """
    b = _Builder()
    title = f"Grants to recipients in {place_name}, {fy}: department → scheme → recipient"
    if awards.empty:
        fig = {"data": [], "layout": _layout(300)}
        return SankeyData(fig, title=title, notes=[f"No grant awards were placed in {place_name} for {fy}."])

    df = pd.DataFrame(
        {
            "dept": awards["department"].astype("string").fillna("Unknown department"),
            "scheme": _scheme_key(awards),
            "scheme_label": _scheme_label(awards),
            "amount": pd.to_numeric(awards["amount_gbp"], errors="coerce").fillna(0.0),
        }
    )
    df["recipient"], df["recipient_label"] = _recipient_key_label(awards)
    df["scheme"] = df["dept"] + "|" + df["scheme"]
    df["gbp_drawn"] = df["amount"].clip(lower=0)
    total_n = len(df)
    total_gbp = float(df["gbp_drawn"].sum())
    notes: list[str] = []
    negative = df["amount"] < 0
    if negative.any():
        notes.append(
            f"{int(negative.sum())} award(s) with a negative amount ({format_gbp_full(df.loc[negative, 'amount'].sum())})"
            " are counted in the number-of-awards view but not drawn in the £ view."
        )

    def share_text(n: float, gbp: float) -> str:
        s_n = format_share(n / total_n if total_n else None)
        s_g = format_share(gbp / total_gbp if total_gbp else None)
        return f"{s_n} of awards · {s_g} of £"

    def hover(name: str, n: float, gbp: float) -> str:
        return (
            f"<b>{_text(name)}</b><br>{format_count(n)} award(s) · {format_gbp_full(gbp)}"
            f"<br>{share_text(n, gbp)}"
        )

    depts = df.groupby("dept").agg(n=("amount", "size"), gbp=("gbp_drawn", "sum")).sort_values(
        "gbp", ascending=False
    )
    dept_colour = {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(depts.index)}
    for row in depts.itertuples():
        d = row.Index
        b.node(f"dept:{d}", f"{_text(d)} · {format_gbp(row.gbp)} · {format_count(row.n)} awards",
               dept_colour[d], hover(str(d), row.n, row.gbp))

    per_scheme = df.groupby("scheme", sort=False).agg(n=("amount", "size"), gbp=("gbp_drawn", "sum"))
    keep_schemes = per_scheme.index[_top_within(per_scheme, None, max_schemes)]
    df["scheme_kept"] = df["scheme"].isin(keep_schemes)
    # Collapsed schemes: one node per department.
    df["scheme_node"] = df["scheme"].where(df["scheme_kept"], "other|" + df["dept"])

    scheme_groups = df.groupby("scheme_node", sort=False)
    scheme_stats = scheme_groups.agg(
        n=("amount", "size"), gbp=("gbp_drawn", "sum"), dept=("dept", "first"),
        label=("scheme_label", "first"), k=("scheme", "nunique"),
    ).sort_values("gbp", ascending=False)
    for row in scheme_stats.itertuples():
        key = row.Index
        if str(key).startswith("other|"):
            name = f"Other {row.dept} schemes ({row.k})"
            colour = OTHER_COLOUR
        else:
            name = str(row.label)
            colour = _rgba(dept_colour[row.dept], 0.85)
        idx = b.node(f"scheme:{key}", f"{_text(_short(name))} · {format_gbp(row.gbp)} · {format_count(row.n)}",
                     colour,
                     hover(name, row.n, row.gbp))
        b.link(b.index[f"dept:{row.dept}"], idx, row.n, row.gbp, _rgba(dept_colour[row.dept], 0.35),
               f"{_text(row.dept)} → {_text(_short(name, 80))}<br>{format_count(row.n)} award(s) · "
               f"{format_gbp_full(row.gbp)}<br>{share_text(row.n, row.gbp)}")

    # Recipients: top per kept scheme; everything else into one "Other recipients" node.
    kept = df[df["scheme_kept"]]
    pairs = kept.groupby(["scheme", "recipient"], sort=False).agg(
        n=("amount", "size"), gbp=("gbp_drawn", "sum")
    ).reset_index()
    pairs = pairs[_top_within(pairs, "scheme", recipients_per_scheme)]
    top_pair = pd.MultiIndex.from_frame(pairs[["scheme", "recipient"]])
    in_top = pd.MultiIndex.from_frame(df[["scheme", "recipient"]]).isin(top_pair)
    df["recipient_node"] = df["recipient"].where(df["scheme_kept"].to_numpy() & in_top, "__other__")
    others = df[df["recipient_node"] == "__other__"]
    k_other = int(others["recipient"].nunique())

    rec_stats = df.groupby("recipient_node", sort=False).agg(
        n=("amount", "size"), gbp=("gbp_drawn", "sum"), label=("recipient_label", "first")
    ).sort_values("gbp", ascending=False)
    for row in rec_stats.itertuples():
        key = row.Index
        if key == "__other__":
            name = f"Other recipients ({k_other})"
            colour = OTHER_COLOUR
        else:
            name = str(row.label)
            colour = "#3B6E8F"
        b.node(f"recipient:{key}", f"{_text(_short(name))} · {format_gbp(row.gbp)}", colour,
               hover(name, row.n, row.gbp))

    links = df.groupby(["scheme_node", "recipient_node"], sort=False).agg(
        n=("amount", "size"), gbp=("gbp_drawn", "sum"), dept=("dept", "first")
    ).reset_index().sort_values("gbp", ascending=False)
    for row in links.itertuples(index=False):
        s = b.index[f"scheme:{row.scheme_node}"]
        t = b.index[f"recipient:{row.recipient_node}"]
        b.link(s, t, row.n, row.gbp, _rgba(dept_colour[row.dept], 0.3),
               f"{b.labels[s].split(' · ')[0]} → {b.labels[t].split(' · ')[0]}<br>"
               f"{format_count(row.n)} award(s) · {format_gbp_full(row.gbp)}<br>{share_text(row.n, row.gbp)}")

    biggest = max(len(depts), len(scheme_stats), len(rec_stats))
    trace = {
        "type": "sankey",
        "arrangement": "snap",
        "valueformat": ",.0f",
        "node": {
            "label": b.labels, "color": b.colours, "customdata": b.node_hover,
            "hovertemplate": "%{customdata}<extra></extra>", "pad": 10, "thickness": 14,
            "line": {"color": "#ffffff", "width": 0.5},
        },
        "link": {
            "source": b.src, "target": b.dst, "value": b.count, "color": b.link_colour,
            "customdata": b.link_hover, "hovertemplate": "%{customdata}<extra></extra>",
        },
    }
    fig = {"data": [trace], "layout": _layout(_height(biggest))}
    # Both weights travel with the figure; the page switches link.value between them.
    fig["weights"] = {WEIGHT_COUNT: b.count, WEIGHT_GBP: b.gbp}
    return SankeyData(fig, title=title, n_nodes=len(b.labels), n_links=len(b.src), notes=notes)


def cra_sankey(cra: pd.DataFrame, place_name: str, fy: str) -> SankeyData:
    """Department -> function -> council from one council's CRA allocation rows (£, per head in hover)."""
    title = f"Identifiable public spending allocated to {place_name}, {fy}: department → function → council"
    if cra.empty:
        fig = {"data": [], "layout": _layout(300)}
        return SankeyData(fig, title=title, notes=[f"No CRA allocation is available for {place_name} for {fy}."])
    b = _Builder()
    df = pd.DataFrame(
        {
            "dept": cra["department"].astype("string").fillna("Unknown department"),
            "function": cra["function"].astype("string").fillna("Unknown function"),
            "gbp": pd.to_numeric(cra["allocated_gbp"], errors="coerce").fillna(0.0),
            "per_head": _num(cra, "per_head_gbp"),
            "region_per_head": _num(cra, "region_per_head_gbp"),
            "england_per_head": _num(cra, "england_per_head_gbp"),
        }
    )
    notes: list[str] = []
    negative = df.groupby(["dept", "function"])["gbp"].sum()
    negative = negative[negative < 0]
    if len(negative):
        notes.append(
            f"{len(negative)} department/function line(s) with net negative spending "
            f"({format_gbp_full(negative.sum())}) are not drawn."
        )
    total = float(df["gbp"].clip(lower=0).sum())
    region = _first(cra, "region") or "the region"

    def per_head_text(ph: float, rph: float, eph: float) -> str:
        return (
            f"{format_per_head(ph)} per head here · {format_per_head(rph)} in {_text(region)}"
            f" · {format_per_head(eph)} in England"
        )

    pairs = df.groupby(["dept", "function"], sort=False).agg(
        gbp=("gbp", "sum"), per_head=("per_head", "sum"), region_per_head=("region_per_head", "sum"),
        england_per_head=("england_per_head", "sum"),
    ).reset_index()
    pairs = pairs[pairs["gbp"] > 0]
    depts = pairs.groupby("dept")["gbp"].sum().sort_values(ascending=False)
    funcs = pairs.groupby("function").agg(
        gbp=("gbp", "sum"), per_head=("per_head", "sum"), region_per_head=("region_per_head", "sum"),
        england_per_head=("england_per_head", "sum"),
    ).sort_values("gbp", ascending=False)
    dept_colour = {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(depts.index)}
    share = lambda v: format_share(v / total if total else None)  # noqa: E731

    for d, gbp in depts.items():
        ph = float(pairs.loc[pairs["dept"] == d, "per_head"].sum())
        b.node(f"dept:{d}", f"{_text(d)} · {format_gbp(gbp)}", dept_colour[d],
               f"<b>{_text(d)}</b><br>{format_gbp_full(gbp)} ({share(gbp)})<br>{format_per_head(ph)} per head")
    for row in funcs.itertuples():
        f = row.Index
        b.node(f"function:{f}", f"{_text(_short(str(f)))} · {format_gbp(row.gbp)}", "#4D4D4D",
               f"<b>{_text(f)}</b><br>{format_gbp_full(row.gbp)} ({share(row.gbp)})<br>"
               + per_head_text(row.per_head, row.region_per_head, row.england_per_head))
    council = b.node(f"council:{place_name}", f"{_text(place_name)} · {format_gbp(total)}", "#1A1A1A",
                     f"<b>{_text(place_name)}</b><br>{format_gbp_full(total)} allocated"
                     f"<br>{format_per_head(funcs['per_head'].sum())} per head")
    for row in pairs.sort_values("gbp", ascending=False).itertuples(index=False):
        b.link(b.index[f"dept:{row.dept}"], b.index[f"function:{row.function}"], 0, row.gbp,
               _rgba(dept_colour[row.dept], 0.35),
               f"{_text(row.dept)} → {_text(row.function)}<br>{format_gbp_full(row.gbp)} ({share(row.gbp)})<br>"
               + per_head_text(row.per_head, row.region_per_head, row.england_per_head))
    for row in funcs.itertuples():
        f = row.Index
        b.link(b.index[f"function:{f}"], council, 0, row.gbp, "rgba(77,77,77,0.3)",
               f"{_text(f)} → {_text(place_name)}<br>{format_gbp_full(row.gbp)} ({share(row.gbp)})<br>"
               + per_head_text(row.per_head, row.region_per_head, row.england_per_head))

    trace = {
        "type": "sankey",
        "arrangement": "snap",
        "node": {
            "label": b.labels, "color": b.colours, "customdata": b.node_hover,
            "hovertemplate": "%{customdata}<extra></extra>", "pad": 10, "thickness": 14,
            "line": {"color": "#ffffff", "width": 0.5},
        },
        "link": {
            "source": b.src, "target": b.dst, "value": b.gbp, "color": b.link_colour,
            "customdata": b.link_hover, "hovertemplate": "%{customdata}<extra></extra>",
        },
    }
    fig = {"data": [trace], "layout": _layout(_height(max(len(depts), len(funcs))))}
    return SankeyData(fig, title=title, n_nodes=len(b.labels), n_links=len(b.src), notes=notes)


def _num(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(float("nan"), index=df.index)
    return pd.to_numeric(df[col], errors="coerce")


def _first(df: pd.DataFrame, col: str) -> str | None:
    if col not in df.columns or df.empty:
        return None
    values = df[col].dropna()
    return str(values.iloc[0]) if len(values) else None
