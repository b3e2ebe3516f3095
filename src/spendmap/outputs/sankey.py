"""Sankey figures as plain plotly JSON dicts (no plotly Python objects: building ~800 figures must be fast).

Two diagrams per council:
- grants: department -> scheme -> recipients, with link values for both weights (number of awards
  and £ value) so the page can switch between them. The last layer shows recipients where there is
  room: every recipient when a council has few (up to `all_recipients_max`), else the largest few by £
  as their own nodes and the rest grouped by recipient type (at most 8 types), so the diagram stays
  readable with 1,000+ recipients;
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
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#8C6D31",
    "#6A3D9A",
    "#B15928",
    "#1B9E77",
    "#7570B3",
    "#E7298A",
    "#66A61E",
    "#A6761D",
    "#1F78B4",
    "#33A02C",
]
OTHER_COLOUR = "#8C8C8C"
LABEL_MAX = 42

WEIGHT_COUNT = "count"
TYPE_LABELS = {
    "council": "Councils",
    "combined authority": "Combined authorities",
    "other public body": "Other public bodies",
    "charity": "Charities",
    "company": "Companies",
    "community interest company or mutual": "CICs and mutuals",
    "individuals or aggregated awards": "Individuals / aggregated",
    "unknown": "Type unknown",
}
# The rest of a type once its largest recipients have their own node.
OTHER_TYPE_LABELS = {
    "council": "Other councils",
    "combined authority": "Other combined authorities",
    "other public body": "Other public bodies",
    "charity": "Other charities",
    "company": "Other companies",
    "community interest company or mutual": "Other CICs and mutuals",
    "individuals or aggregated awards": "Other individuals / aggregated",
    "unknown": "Others of unknown type",
}
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

    def trace(self, values: list[float], **extra: object) -> dict:
        """The plotly Sankey trace of the nodes and links built so far, links weighted by `values`."""
        return {
            "type": "sankey",
            "arrangement": "snap",
            **extra,
            "node": {
                "label": self.labels,
                "color": self.colours,
                "customdata": self.node_hover,
                "hovertemplate": "%{customdata}<extra></extra>",
                "pad": 18,  # a label line (about 15 px) between neighbouring small nodes
                "thickness": 14,
                "line": {"color": "#ffffff", "width": 0.5},
            },
            "link": {
                "source": self.src,
                "target": self.dst,
                "value": values,
                "color": self.link_colour,
                "customdata": self.link_hover,
                "hovertemplate": "%{customdata}<extra></extra>",
            },
        }


def _layout(height: int) -> dict:
    # No plotly title: the page's <h1> carries it (plain text, escaped by the template).
    return {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "font": {
            "family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
            "size": 12,
            "color": "#1a1a1a",
        },
        "paper_bgcolor": "#ffffff",
        "hoverlabel": {"align": "left"},
    }


def _height(n_in_biggest_layer: int) -> int:
    # About 42 px a node: room for a label line and a gap between small neighbouring nodes.
    return int(max(480, min(3000, 42 * n_in_biggest_layer + 80)))


def _top(stats: dict, limit: int) -> set:
    """Keys of `stats` ({key: [n, gbp]}) in the top `limit` by £ or by count.

    The diagram shows both weights, so an item kept for either ranking stays visible in both views.
    Ties break by the other weight, then by key, so the choice is deterministic.
    """
    by_gbp = sorted(stats, key=lambda k: (-stats[k][1], -stats[k][0], str(k)))[:limit]
    by_n = sorted(stats, key=lambda k: (-stats[k][0], -stats[k][1], str(k)))[:limit]
    return set(by_gbp) | set(by_n)


def _clean(value: object) -> str:
    """Stripped text, '' for missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def _column(df: pd.DataFrame, col: str) -> list:
    return df[col].tolist() if col in df.columns else [None] * len(df)


def _recipient_nodes(
    awards: pd.DataFrame, all_recipients_max: int, top_recipients: int
) -> tuple[list, dict[object, str]]:
    """Per award, its recipient's key (transforms.names.recipient_key, as the profile counts them), and
    the recipients drawn as their own node: all of them when there are at most `all_recipients_max`,
    else the `top_recipients` largest by £ (ties by awards, then key). {key: label} of those drawn."""
    from spendmap.transforms.names import recipient_key

    keys = awards["recipient_key"] if "recipient_key" in awards.columns else recipient_key(awards)
    keys = keys.astype("object").where(keys.notna(), None).tolist()
    stats: dict = {}
    names, amounts = _column(awards, "recipient_name"), _column(awards, "amount_gbp")
    for key, name, amount in zip(keys, names, amounts, strict=True):
        if key is None:
            continue
        entry = stats.setdefault(key, [0, 0.0, _clean(name)])
        entry[0] += 1
        value = _float(amount)
        entry[1] += value if value == value and value > 0 else 0.0
    chosen = sorted(stats, key=lambda k: (-stats[k][1], -stats[k][0], str(k)))
    if len(chosen) > all_recipients_max:
        chosen = chosen[:top_recipients]
    return keys, {k: stats[k][2] or str(k) for k in chosen}


def grants_sankey(
    awards: pd.DataFrame,
    place_name: str,
    fy: str,
    max_schemes: int = 20,
    recipients_per_scheme: int = 5,
    all_recipients_max: int = 12,
    top_recipients: int = 8,
) -> SankeyData:
    """Department -> scheme -> recipients for one council's awards, with both link weights.

    Schemes outside the top `max_schemes` (by £ or by number of awards) fold into one
    "Other <dept> schemes (k)" node per department. The last layer ends in the recipients themselves
    when there are at most `all_recipients_max`; otherwise the `top_recipients` largest by £ get their
    own node and the others are grouped by recipient type ("Other charities (k)"). Type nodes outside
    each scheme's top `recipients_per_scheme` fold into one "Other recipients (k)" node. Negative
    amounts are not drawn in the £ view (a Sankey cannot show them) and are counted in `notes`.

    Aggregation is plain Python: one council's awards are few, and pandas' per-call overhead would
    dominate rendering ~400 councils.
    """
    if awards.empty:
        title = f"Grants to recipients in {place_name}, {fy}: department → scheme → recipient"
        fig = {"data": [], "layout": _layout(300)}
        return SankeyData(fig, title=title, notes=[f"No grant awards were placed in {place_name} for {fy}."])

    rows = []  # (dept, scheme key, scheme label, recipient key, recipient label, amount, drawn £)
    negative_n, negative_gbp = 0, 0.0
    types = _column(awards, "recipient_type")
    r_keys, named = _recipient_nodes(awards, all_recipients_max, top_recipients)
    every_recipient = len(named) == len({k for k in r_keys if k is not None})
    title = f"Grants to recipients in {place_name}, {fy}: department → scheme → " + (
        "recipient" if every_recipient else "largest recipients and recipient types"
    )
    shown_types = {_clean(t) or "unknown" for t, k in zip(types, r_keys, strict=True) if k in named}
    members: dict[str, set] = {}  # recipient node -> distinct recipients in it
    type_of: dict[str, str] = {}  # named recipient node -> its type label
    for dept, code, s_title, a_title, rtype, r_id, redacted, amount in zip(
        _column(awards, "department"),
        _column(awards, "scheme_code"),
        _column(awards, "scheme_title"),
        _column(awards, "title"),
        types,
        r_keys,
        _column(awards, "is_redacted"),
        _column(awards, "amount_gbp"),
        strict=True,
    ):
        dept = _clean(dept) or "Unknown department"
        code, s_title, a_title = _clean(code), _clean(s_title), _clean(a_title)
        scheme = code or (f"title:{s_title}" if s_title else f"award:{a_title or '(no scheme)'}")
        label = s_title or code or a_title or "(no scheme title)"
        type_key = _clean(rtype) or "unknown"
        type_label = TYPE_LABELS.get(type_key, type_key.capitalize())
        if redacted is True or r_id is None:
            r_key, r_label = "redacted", "Redacted or unnamed recipients"
        elif r_id in named:
            r_key, r_label = f"org:{r_id}", named[r_id]
            type_of[r_key] = type_label
        else:
            r_key = type_key
            # "Other charities" where some charities have their own node, else "Charities".
            r_label = OTHER_TYPE_LABELS.get(type_key, type_label) if type_key in shown_types else type_label
        members.setdefault(r_key, set()).update([r_id] if r_id is not None else [])
        try:
            value = float(amount)
        except (TypeError, ValueError):
            value = 0.0
        if value != value:  # NaN
            value = 0.0
        if value < 0:
            negative_n += 1
            negative_gbp += value
        rows.append((dept, f"{dept}|{scheme}", label, r_key, r_label, max(value, 0.0)))

    total_n = len(rows)
    total_gbp = sum(r[5] for r in rows)
    notes: list[str] = []
    if negative_n:
        notes.append(
            f"{negative_n} award(s) with a negative amount ({format_gbp_full(negative_gbp)}) are counted in "
            "the number-of-awards view but not drawn in the £ view."
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

    def add(stats: dict, key: object, gbp: float) -> None:
        entry = stats.setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] += gbp

    dept_stats: dict = {}
    scheme_stats: dict = {}
    scheme_meta: dict = {}
    for dept, scheme, label, _rk, _rl, gbp in rows:
        add(dept_stats, dept, gbp)
        add(scheme_stats, scheme, gbp)
        scheme_meta.setdefault(scheme, (dept, label))
    kept_schemes = _top(scheme_stats, max_schemes)

    pair_stats: dict = {}
    for _d, scheme, _l, r_key, _rl, gbp in rows:
        # Grouped schemes keep their recipient types too: only a type beyond a scheme's top few is grouped.
        add(pair_stats, (scheme, r_key), gbp)
    by_scheme: dict = {}
    for (scheme, r_key), st in pair_stats.items():
        by_scheme.setdefault(scheme, {})[r_key] = st
    # Named recipients always keep their node: they are drawn because there is room for them.
    top_pairs = {(sch, r) for sch, recips in by_scheme.items() for r in _top(recips, recipients_per_scheme)}
    top_pairs |= {pair for pair in pair_stats if str(pair[1]).startswith("org:")}

    # Node and link aggregates after grouping.
    s_node_stats: dict = {}
    s_node_members: dict = {}
    r_node_stats: dict = {}
    r_labels: dict = {}
    other_recipients: set = set()
    link_stats: dict = {}
    for dept, scheme, _label, r_key, r_label, gbp in rows:
        s_node = scheme if scheme in kept_schemes else f"other|{dept}"
        r_node = r_key if (scheme, r_key) in top_pairs else "__other__"
        if r_node == "__other__":
            other_recipients.add(r_key)
        add(s_node_stats, s_node, gbp)
        s_node_members.setdefault(s_node, set()).add(scheme)
        add(r_node_stats, r_node, gbp)
        r_labels.setdefault(r_node, r_label)
        add(link_stats, (s_node, r_node), gbp)

    b = _Builder()
    order = lambda stats: sorted(stats, key=lambda k: (-stats[k][1], -stats[k][0], str(k)))  # noqa: E731
    dept_colour = {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(order(dept_stats))}
    for d in order(dept_stats):
        n, gbp = dept_stats[d]
        b.node(
            f"dept:{d}",
            f"{_text(d)} · {format_gbp(gbp)} · {format_count(n)} awards",
            dept_colour[d],
            hover(d, n, gbp),
        )
    s_names: dict = {}
    for key in order(s_node_stats):
        n, gbp = s_node_stats[key]
        if key.startswith("other|"):
            dept = key[len("other|") :]
            name = f"Other {dept} schemes ({len(s_node_members[key])})"
            colour = OTHER_COLOUR
        else:
            dept, name = scheme_meta[key]
            colour = _rgba(dept_colour[dept], 0.85)
        s_names[key] = (dept, name)
        idx = b.node(
            f"scheme:{key}",
            f"{_text(_short(name))} · {format_gbp(gbp)} · {format_count(n)}",
            colour,
            hover(name, n, gbp),
        )
        b.link(
            b.index[f"dept:{dept}"],
            idx,
            n,
            gbp,
            _rgba(dept_colour[dept], 0.35),
            f"{_text(dept)} → {_text(_short(name, 80))}<br>{format_count(n)} award(s) · "
            f"{format_gbp_full(gbp)}<br>{share_text(n, gbp)}",
        )
    r_names: dict = {}
    for key in order(r_node_stats):
        n, gbp = r_node_stats[key]
        if key == "__other__":
            name, colour = f"Other recipients ({len(other_recipients)})", OTHER_COLOUR
            node_hover = hover(name, n, gbp)
        elif key.startswith("org:"):
            name, colour = r_labels[key], "#1F5F8B"
            node_hover = hover(name, n, gbp) + f"<br>{_text(type_of[key])}"
        else:
            k = len(members.get(key, ()))
            name, colour = (f"{r_labels[key]} ({k:,})" if k else r_labels[key]), "#7A9CB8"
            node_hover = hover(name, n, gbp)
        r_names[key] = name
        b.node(f"recipient:{key}", f"{_text(_short(name))} · {format_gbp(gbp)}", colour, node_hover)
    for s_node, r_node in order(link_stats):
        n, gbp = link_stats[(s_node, r_node)]
        dept, s_name = s_names[s_node]
        b.link(
            b.index[f"scheme:{s_node}"],
            b.index[f"recipient:{r_node}"],
            n,
            gbp,
            _rgba(dept_colour[dept], 0.3),
            f"{_text(_short(s_name, 80))} → {_text(_short(r_names[r_node], 80))}<br>"
            f"{format_count(n)} award(s) · {format_gbp_full(gbp)}<br>{share_text(n, gbp)}",
        )

    biggest = max(len(dept_stats), len(s_node_stats), len(r_node_stats))
    trace = b.trace(b.count, valueformat=",.0f")
    fig = {"data": [trace], "layout": _layout(_height(biggest))}
    # Both weights travel with the figure; the page switches link.value between them.
    fig["weights"] = {WEIGHT_COUNT: b.count, WEIGHT_GBP: b.gbp}
    return SankeyData(fig, title=title, n_nodes=len(b.labels), n_links=len(b.src), notes=notes)


def _float(value: object) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
    return out


def _nansum(values: list[float]) -> float:
    """Sum ignoring NaN; NaN when every value is NaN (unknown stays unknown)."""
    known = [v for v in values if v == v]
    return sum(known) if known else float("nan")


def cra_sankey(cra: pd.DataFrame, place_name: str, fy: str, max_departments: int = 12) -> SankeyData:
    """Department -> function -> council from one council's CRA allocation rows (£, per head in hover).

    CRA names ~50 departments and pension schemes; beyond the largest `max_departments` they are
    grouped into one "Other departments (k)" node so the diagram stays legible.
    """
    title = f"Identifiable public spending allocated to {place_name}, {fy}: department → function → council"
    if cra.empty:
        fig = {"data": [], "layout": _layout(300)}
        return SankeyData(
            fig, title=title, notes=[f"No CRA allocation is available for {place_name} for {fy}."]
        )
    region = next((_clean(r) for r in _column(cra, "region") if _clean(r)), "") or "the region"
    # (dept, function) -> [gbp, per head, region per head, England per head] lists
    pairs: dict = {}
    for dept, func, gbp, ph, rph, eph in zip(
        _column(cra, "department"),
        _column(cra, "function"),
        _column(cra, "allocated_gbp"),
        _column(cra, "per_head_gbp"),
        _column(cra, "region_per_head_gbp"),
        _column(cra, "england_per_head_gbp"),
        strict=True,
    ):
        key = (_clean(dept) or "Unknown department", _clean(func) or "Unknown function")
        entry = pairs.setdefault(key, ([], [], [], []))
        value = _float(gbp)
        entry[0].append(0.0 if value != value else value)
        entry[1].append(_float(ph))
        entry[2].append(_float(rph))
        entry[3].append(_float(eph))
    summed = {k: (sum(v[0]), _nansum(v[1]), _nansum(v[2]), _nansum(v[3])) for k, v in pairs.items()}
    negative = [v[0] for v in summed.values() if v[0] < 0]
    notes: list[str] = []
    if negative:
        notes.append(
            f"{len(negative)} department/function line(s) with net negative spending "
            f"({format_gbp_full(sum(negative))}) are not drawn."
        )
    drawn = {k: v for k, v in summed.items() if v[0] > 0}
    total = sum(v[0] for v in drawn.values())
    dept_gbp: dict = {}
    for (dept, _f), v in drawn.items():
        dept_gbp[dept] = dept_gbp.get(dept, 0.0) + v[0]
    if len(dept_gbp) > max_departments:
        kept = set(sorted(dept_gbp, key=lambda k: (-dept_gbp[k], k))[:max_departments])
        other = f"Other departments ({len(dept_gbp) - len(kept)})"
        grouped: dict = {}
        for (dept, func), v in drawn.items():
            key = (dept if dept in kept else other, func)
            prev = grouped.get(key)
            grouped[key] = (
                v if prev is None else tuple(_nansum([a, b_]) for a, b_ in zip(prev, v, strict=True))
            )
        drawn = grouped

    def per_head_text(ph: float, rph: float, eph: float) -> str:
        return (
            f"{format_per_head(ph)} per head here · {format_per_head(rph)} in {_text(region)}"
            f" · {format_per_head(eph)} in England"
        )

    def share(v: float) -> str:
        return format_share(v / total if total else None)

    depts: dict = {}
    funcs: dict = {}
    for (dept, func), (gbp, ph, rph, eph) in drawn.items():
        d = depts.setdefault(dept, [0.0, []])
        d[0] += gbp
        d[1].append(ph)
        f = funcs.setdefault(func, [0.0, [], [], []])
        f[0] += gbp
        f[1].append(ph)
        f[2].append(rph)
        f[3].append(eph)
    dept_order = sorted(depts, key=lambda k: (-depts[k][0], k))
    func_order = sorted(funcs, key=lambda k: (-funcs[k][0], k))
    dept_colour = {
        d: (OTHER_COLOUR if d.startswith("Other departments (") else PALETTE[i % len(PALETTE)])
        for i, d in enumerate(dept_order)
    }
    b = _Builder()
    for d in dept_order:
        gbp, phs = depts[d]
        b.node(
            f"dept:{d}",
            f"{_text(d)} · {format_gbp(gbp)}",
            dept_colour[d],
            f"<b>{_text(d)}</b><br>{format_gbp_full(gbp)} ({share(gbp)})<br>"
            f"{format_per_head(_nansum(phs))} per head",
        )
    func_ph = {}
    for f in func_order:
        gbp, phs, rphs, ephs = funcs[f]
        func_ph[f] = (_nansum(phs), _nansum(rphs), _nansum(ephs))
        b.node(
            f"function:{f}",
            f"{_text(_short(f))} · {format_gbp(gbp)}",
            "#4D4D4D",
            f"<b>{_text(f)}</b><br>{format_gbp_full(gbp)} ({share(gbp)})<br>" + per_head_text(*func_ph[f]),
        )
    council = b.node(
        f"council:{place_name}",
        f"{_text(place_name)} · {format_gbp(total)}",
        "#1A1A1A",
        f"<b>{_text(place_name)}</b><br>{format_gbp_full(total)} allocated"
        f"<br>{format_per_head(_nansum([v[0] for v in func_ph.values()]))} per head",
    )
    for (dept, func), (gbp, ph, rph, eph) in sorted(drawn.items(), key=lambda kv: (-kv[1][0], kv[0])):
        b.link(
            b.index[f"dept:{dept}"],
            b.index[f"function:{func}"],
            0,
            gbp,
            _rgba(dept_colour[dept], 0.35),
            f"{_text(dept)} → {_text(func)}<br>{format_gbp_full(gbp)} ({share(gbp)})<br>"
            + per_head_text(ph, rph, eph),
        )
    for f in func_order:
        gbp = funcs[f][0]
        b.link(
            b.index[f"function:{f}"],
            council,
            0,
            gbp,
            "rgba(77,77,77,0.3)",
            f"{_text(f)} → {_text(place_name)}<br>{format_gbp_full(gbp)} ({share(gbp)})<br>"
            + per_head_text(*func_ph[f]),
        )

    trace = b.trace(b.gbp)
    fig = {"data": [trace], "layout": _layout(_height(max(len(depts), len(funcs))))}
    return SankeyData(fig, title=title, n_nodes=len(b.labels), n_links=len(b.src), notes=notes)
