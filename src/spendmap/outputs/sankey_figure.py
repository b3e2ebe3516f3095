"""The plotly side of the Sankey diagrams: palette, escaped and shortened labels, the node/link builder,
the trace and the layout, as plain JSON dicts (no plotly Python objects: building ~800 figures must be
fast). What the nodes and links are is decided in outputs/sankey.py.

Labels and hover text are HTML-escaped: plotly renders a small HTML subset in labels and decodes
entities, so an escaped `<script>` shows as text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from spendmap.text import is_missing

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


def rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def escape_label(value: object) -> str:
    """Escaped text for plotly labels/hover (plotly decodes entities back to characters as text)."""
    if is_missing(value):
        return ""
    # quote=False: plotly decodes &amp; &lt; &gt; but shows &quot; literally.
    return html.escape(str(value), quote=False)


def shorten(value: str, limit: int = LABEL_MAX) -> str:
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


class FigureBuilder:
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

    def link(self, source: str, target: str, count: float, gbp: float, colour: str, hover: str) -> None:
        """A link between two nodes already added, by node id."""
        self.src.append(self.index[source])
        self.dst.append(self.index[target])
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


def figure_layout(height: int) -> dict:
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


def figure_height(n_in_biggest_layer: int) -> int:
    # About 42 px a node: room for a label line and a gap between small neighbouring nodes.
    return int(max(480, min(3000, 42 * n_in_biggest_layer + 80)))
