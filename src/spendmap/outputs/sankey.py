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

This module decides what the nodes and links are (aggregation, grouping, captions' notes); drawing them
(palette, escaped labels, trace and layout) is outputs/sankey_figure.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from spendmap.outputs.money import format_count, format_gbp, format_gbp_full, format_per_head, format_share
from spendmap.outputs.sankey_figure import (
    OTHER_COLOUR,
    PALETTE,
    FigureBuilder,
    SankeyData,
    escape_label,
    figure_height,
    figure_layout,
    rgba,
    shorten,
)
from spendmap.text import is_missing
from spendmap.transforms.page_figures import as_number, as_text, organisation_keys

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
NAN = float("nan")


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
    return as_text(value).strip()


def _column(df: pd.DataFrame, col: str) -> list:
    return df[col].tolist() if col in df.columns else [None] * len(df)


def _recipient_nodes(
    awards: pd.DataFrame, all_recipients_max: int, top_recipients: int
) -> tuple[list, dict[object, str]]:
    """Per award, its recipient organisation's key (page_figures.organisation_keys: never two councils
    under one key), and the recipients drawn as their own node: all of them when there are at most
    `all_recipients_max`, else the `top_recipients` largest by £ (ties by awards, then key).
    {key: label} of those drawn; a label is the organisation's name as its largest award gives it."""
    keys_s, names_s = organisation_keys(awards)
    keys = keys_s.astype("object").where(keys_s.notna(), None).tolist()
    stats: dict = {}
    names, amounts = names_s.tolist(), _column(awards, "amount_gbp")
    for key, name, amount in zip(keys, names, amounts, strict=True):
        if key is None:
            continue
        value = max(as_number(amount, 0.0), 0.0)
        entry = stats.setdefault(key, [0, 0.0, _clean(name), -1.0])
        entry[0] += 1
        entry[1] += value
        if value > entry[3] and _clean(name):
            entry[2], entry[3] = _clean(name), value
    chosen = sorted(stats, key=lambda k: (-stats[k][1], -stats[k][0], str(k)))
    if len(chosen) > all_recipients_max:
        chosen = chosen[:top_recipients]
    return keys, {k: stats[k][2] or str(k) for k in chosen}


def _scheme_keys(awards: pd.DataFrame) -> list:
    """Per award, its scheme's identity (transforms.profiles.scheme_key, as the table beside the
    diagram counts them), None where an award has neither a scheme code nor a scheme title."""
    from spendmap.transforms.profiles import scheme_key

    needed = ("department", "department_raw", "scheme_code", "scheme_title")
    keys = scheme_key(awards.assign(**{c: pd.NA for c in needed if c not in awards.columns}))
    return keys.astype("object").where(keys.notna(), None).tolist()


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
        fig = {"data": [], "layout": figure_layout(300)}
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
    s_keys = _scheme_keys(awards)
    members: dict[str, set] = {}  # recipient node -> distinct recipients in it
    type_of: dict[str, str] = {}  # named recipient node -> its type label
    # issue 18: a funder without a canonical department (other funders' 360Giving data) is its own node.
    funders = _column(awards, "funder_name") if "funder_name" in awards.columns else [None] * len(awards)
    depts = [_clean(d) or _clean(f) for d, f in zip(_column(awards, "department"), funders, strict=True)]
    for s_key, dept, code, s_title, a_title, rtype, r_id, redacted, amount in zip(
        s_keys,
        depts,
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
        scheme = s_key or f"award:{a_title or '(no scheme)'}"
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
        value = as_number(amount, 0.0)
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
            f"<b>{escape_label(name)}</b><br>{format_count(n)} award(s) · {format_gbp_full(gbp)}"
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

    b = FigureBuilder()
    order = lambda stats: sorted(stats, key=lambda k: (-stats[k][1], -stats[k][0], str(k)))  # noqa: E731
    dept_colour = {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(order(dept_stats))}
    for d in order(dept_stats):
        n, gbp = dept_stats[d]
        b.node(
            f"dept:{d}",
            f"{escape_label(d)} · {format_gbp(gbp)} · {format_count(n)} awards",
            dept_colour[d],
            hover(d, n, gbp),
        )
    _funder_type_layer(b, awards, depts, dept_colour, hover)
    s_names: dict = {}
    for key in order(s_node_stats):
        n, gbp = s_node_stats[key]
        if key.startswith("other|"):
            dept = key[len("other|") :]
            name = f"Other {dept} schemes ({len(s_node_members[key])})"
            colour = OTHER_COLOUR
        else:
            dept, name = scheme_meta[key]
            colour = rgba(dept_colour[dept], 0.85)
        s_names[key] = (dept, name)
        b.node(
            f"scheme:{key}",
            f"{escape_label(shorten(name))} · {format_gbp(gbp)} · {format_count(n)}",
            colour,
            hover(name, n, gbp),
        )
        b.link(
            f"dept:{dept}",
            f"scheme:{key}",
            n,
            gbp,
            rgba(dept_colour[dept], 0.35),
            f"{escape_label(dept)} → {escape_label(shorten(name, 80))}<br>{format_count(n)} award(s) · "
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
            node_hover = hover(name, n, gbp) + f"<br>{escape_label(type_of[key])}"
        else:
            k = len(members.get(key, ()))
            name, colour = (f"{r_labels[key]} ({k:,})" if k else r_labels[key]), "#7A9CB8"
            node_hover = hover(name, n, gbp)
        r_names[key] = name
        b.node(f"recipient:{key}", f"{escape_label(shorten(name))} · {format_gbp(gbp)}", colour, node_hover)
    for s_node, r_node in order(link_stats):
        n, gbp = link_stats[(s_node, r_node)]
        dept, s_name = s_names[s_node]
        b.link(
            f"scheme:{s_node}",
            f"recipient:{r_node}",
            n,
            gbp,
            rgba(dept_colour[dept], 0.3),
            f"{escape_label(shorten(s_name, 80))} → {escape_label(shorten(r_names[r_node], 80))}<br>"
            f"{format_count(n)} award(s) · {format_gbp_full(gbp)}<br>{share_text(n, gbp)}",
        )

    biggest = max(len(dept_stats), len(s_node_stats), len(r_node_stats))
    # Money first: the diagram opens on £ (a £27m block grant outweighs £8k of community transport);
    # the number-of-awards view is one click away. Both weights travel with the figure.
    trace = b.trace(b.gbp, valueformat=",.0f")
    fig = {"data": [trace], "layout": figure_layout(figure_height(biggest))}
    fig["weights"] = {WEIGHT_COUNT: b.count, WEIGHT_GBP: b.gbp}
    return SankeyData(fig, title=title, n_nodes=len(b.labels), n_links=len(b.src), notes=notes)


def _funder_type_layer(b: FigureBuilder, awards: pd.DataFrame, depts: list, dept_colour: dict,
                       hover: Callable[[str, float, float], str]) -> None:
    """Funder type -> funder links in front of the funder nodes, when the awards hold several funder
    types (issue 18: a register of one type keeps department -> scheme -> recipient)."""
    from spendmap.transforms.funder_types import FUNDER_TYPE_LABELS

    if "funder_type" not in awards.columns:
        return
    kinds = [_clean(t) or "other" for t in _column(awards, "funder_type")]
    if len(set(kinds)) < 2:
        return
    stats: dict = {}
    for kind, dept, amount in zip(kinds, depts, _column(awards, "amount_gbp"), strict=True):
        entry = stats.setdefault((kind, _clean(dept) or "Unknown department"), [0, 0.0])
        entry[0] += 1
        entry[1] += max(as_number(amount, 0.0), 0.0)
    for kind in sorted({k for k, _d in stats}):
        n = sum(v[0] for (k, _d), v in stats.items() if k == kind)
        gbp = sum(v[1] for (k, _d), v in stats.items() if k == kind)
        label = FUNDER_TYPE_LABELS.get(kind, kind).capitalize()
        b.node(f"type:{kind}", f"{escape_label(label)} · {format_gbp(gbp)}", "#333333", hover(label, n, gbp))
    for (kind, dept), (n, gbp) in stats.items():
        b.link(f"type:{kind}", f"dept:{dept}", n, gbp, rgba(dept_colour.get(dept, OTHER_COLOUR), 0.25),
               f"{escape_label(FUNDER_TYPE_LABELS.get(kind, kind))} → {escape_label(dept)}<br>"
               f"{format_count(n)} award(s) · {format_gbp_full(gbp)}")


def _nansum(values: list[float]) -> float:
    """Sum ignoring NaN; NaN when every value is NaN (unknown stays unknown)."""
    known = [v for v in values if not is_missing(v)]
    return sum(known) if known else float("nan")


def cra_sankey(cra: pd.DataFrame, place_name: str, fy: str, max_departments: int = 12) -> SankeyData:
    """Department -> function -> council from one council's CRA allocation rows (£, per head in hover).

    CRA names ~50 departments and pension schemes; beyond the largest `max_departments` they are
    grouped into one "Other departments (k)" node so the diagram stays legible.
    """
    title = f"Identifiable public spending allocated to {place_name}, {fy}: department → function → council"
    if cra.empty:
        fig = {"data": [], "layout": figure_layout(300)}
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
        entry[0].append(as_number(gbp, 0.0))
        entry[1].append(as_number(ph, NAN))
        entry[2].append(as_number(rph, NAN))
        entry[3].append(as_number(eph, NAN))
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
            f"{format_per_head(ph)} per head here · {format_per_head(rph)} in {escape_label(region)}"
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
    b = FigureBuilder()
    for d in dept_order:
        gbp, phs = depts[d]
        b.node(
            f"dept:{d}",
            f"{escape_label(d)} · {format_gbp(gbp)}",
            dept_colour[d],
            f"<b>{escape_label(d)}</b><br>{format_gbp_full(gbp)} ({share(gbp)})<br>"
            f"{format_per_head(_nansum(phs))} per head",
        )
    func_ph = {}
    for f in func_order:
        gbp, phs, rphs, ephs = funcs[f]
        func_ph[f] = (_nansum(phs), _nansum(rphs), _nansum(ephs))
        b.node(
            f"function:{f}",
            f"{escape_label(shorten(f))} · {format_gbp(gbp)}",
            "#4D4D4D",
            f"<b>{escape_label(f)}</b><br>{format_gbp_full(gbp)} ({share(gbp)})<br>"
            + per_head_text(*func_ph[f]),
        )
    council = f"council:{place_name}"
    b.node(
        council,
        f"{escape_label(place_name)} · {format_gbp(total)}",
        "#1A1A1A",
        f"<b>{escape_label(place_name)}</b><br>{format_gbp_full(total)} allocated"
        f"<br>{format_per_head(_nansum([v[0] for v in func_ph.values()]))} per head",
    )
    for (dept, func), (gbp, ph, rph, eph) in sorted(drawn.items(), key=lambda kv: (-kv[1][0], kv[0])):
        b.link(
            f"dept:{dept}",
            f"function:{func}",
            0,
            gbp,
            rgba(dept_colour[dept], 0.35),
            f"{escape_label(dept)} → {escape_label(func)}<br>{format_gbp_full(gbp)} ({share(gbp)})<br>"
            + per_head_text(ph, rph, eph),
        )
    for f in func_order:
        gbp = funcs[f][0]
        b.link(
            f"function:{f}",
            council,
            0,
            gbp,
            "rgba(77,77,77,0.3)",
            f"{escape_label(f)} → {escape_label(place_name)}<br>{format_gbp_full(gbp)} ({share(gbp)})<br>"
            + per_head_text(*func_ph[f]),
        )

    trace = b.trace(b.gbp)
    fig = {"data": [trace], "layout": figure_layout(figure_height(max(len(depts), len(funcs))))}
    return SankeyData(fig, title=title, n_nodes=len(b.labels), n_links=len(b.src), notes=notes)
